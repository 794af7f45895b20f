"""Entry point helper: run a tiny_world module inside the pack package, with ComfyUI on CPU.

The trainers build ComfyUI models with the pack's builders (``model_builders/sd1.py``), which
are only importable inside the pack package (ComfyUI owns the top-level name ``nodes``). So
``python -m tiny_world.train_vae`` re-imports itself as ``dpo_diff.tiny_world.train_vae``.
"""

from __future__ import annotations

import importlib
import logging
import sys
from pathlib import Path


def run_in_pack(module: str, argv: list[str] | None = None) -> None:
    """Bootstrap ComfyUI, import this repository as ``dpo_diff`` and call ``module.main``."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    scripts = Path(__file__).resolve().parents[1] / "scripts"
    sys.path.insert(0, str(scripts))
    from comfy_env import PACK_NAME, load_pack

    load_pack()
    target = importlib.import_module(f"{PACK_NAME}.tiny_world.{module}")
    target.main(sys.argv[1:] if argv is None else argv)
