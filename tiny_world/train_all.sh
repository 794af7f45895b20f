#!/usr/bin/env bash
# Retrain every model of the tiny world from one seed, then write QUALITY.md and samples.png.
# About 30 minutes on a 2-core CPU. Run from the repository root after `make setup`.
set -euo pipefail
SEED="${1:-0}"
PY="${PYTHON:-.venv/bin/python}"
"$PY" -m tiny_world.train_vae --seed "$SEED" --minutes 6
"$PY" -m tiny_world.train_judges --seed "$SEED" --minutes 7
"$PY" -m tiny_world.train_unet --seed "$SEED" --minutes 16
"$PY" -m tiny_world.quality --seed "$SEED"
