#!/usr/bin/env bash
# Retrain every model of the tiny world, then write QUALITY.md and samples.png.
# These are the commands that made the shipped weights (see tiny_world/weights/README.md).
# About 50 minutes of wall clock on a busy 2-core CPU, 30 on an idle one (plus 20 for the
# partial-caption fine-tuning at the end). Run from the
# repository root after `make setup`. Trainers stop at --max-steps or --minutes, whichever
# comes first; the learning-rate schedule follows the step count, so on a machine where
# --minutes is not the limit the run repeats the shipped one's schedule.
set -euo pipefail
PY="${PYTHON:-.venv/bin/python}"
RUN="nice -n 10 $PY -m"
T="--threads 1"   # one thread is faster than two on a CPU shared with other jobs

# VAE: 32x32 crops first (cheap), posterior noise, then fixed latent noise; last, full 64x64
# images, so that the group norms see full-image statistics.
$RUN tiny_world.train_vae --seed 0 --minutes 6 --max-steps 323 --latent-noise -1
$RUN tiny_world.train_vae --seed 0 --resume --minutes 5 --max-steps 282 --lr 1e-3 --latent-noise -1 $T
$RUN tiny_world.train_vae --seed 1 --resume --minutes 9 --max-steps 2063 --lr 5e-4 --batch 12 $T
$RUN tiny_world.train_vae --seed 2 --resume --minutes 4 --max-steps 575 --lr 3e-4 --batch 8 --crop 64 $T

# judges: attribute classifier (30% of the budget), then the CLIP evaluator
$RUN tiny_world.train_judges --seed 0 --minutes 7 $T

# text encoder (seeded, frozen) and UNet
$RUN tiny_world.train_unet --seed 0 --minutes 17 --images 4096 $T

# fine-tune the UNet with partial captions (lists of some of the image's attributes, "green",
# "big, on the left, black background") so that a negative prompt of contrasting words means
# "images with those attributes" to the model (see tiny_world/QUALITY.md, negative prompts)
$PY -m tiny_world.train_unet --seed 0 --resume --partial-captions 0.3 --lr 4e-4 --warmup 100 --minutes 16 --images 4096 --threads 2

$RUN tiny_world.quality --seed 0
