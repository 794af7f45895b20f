# The two commands: `make demo` (the main job) and `make test` (everything CI runs).
.PHONY: setup test lint demo

setup:
	bash scripts/setup.sh

lint: setup
	.venv/bin/ruff check .
	.venv/bin/mypy

# Everything on the newest supported ComfyUI, then the server tests again on the oldest one
# (pyproject.toml's requires-comfyui); the editor test needs the newest frontend, so it runs once.
test: lint
	.venv/bin/python -m pytest
	DPO_COMFYUI_VERSION=$$(.venv/bin/python scripts/comfy_env.py oldest) \
	  .venv/bin/python -m pytest -m "server and not browser"

demo: setup
	.venv/bin/python scripts/demo.py $(if $(CKPT),--checkpoint "$(CKPT)",)
