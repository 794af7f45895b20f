# The two commands: `make demo` (the main job) and `make test` (everything CI runs).
.PHONY: setup test lint demo

setup:
	bash scripts/setup.sh

lint: setup
	.venv/bin/ruff check .
	.venv/bin/mypy

test: lint
	.venv/bin/python -m pytest

demo: setup
	.venv/bin/python scripts/demo.py $(if $(CKPT),--checkpoint "$(CKPT)",)
