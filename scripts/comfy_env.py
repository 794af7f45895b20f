"""Make the real ComfyUI importable in-process on CPU and load this pack as a package.

The setup (``make test``) unpacks ComfyUI into ``.cache/comfyui/ComfyUI``; ``COMFYUI_DIR``
points elsewhere if you have your own checkout. The pack is imported under the package name
``dpo_diff`` because its folder name varies (a clone, ``custom_nodes/<name>``) and because
ComfyUI owns the top-level module name ``nodes``.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path
from types import ModuleType

REPO_ROOT = Path(__file__).resolve().parents[1]
CACHE_DIR = Path(os.environ.get("DPO_DIFF_CACHE", REPO_ROOT / ".cache"))
COMFYUI_DIR = Path(os.environ.get("COMFYUI_DIR", CACHE_DIR / "comfyui" / "ComfyUI"))
PACK_NAME = "dpo_diff"


def bootstrap_comfy() -> Path:
    """Put ComfyUI on sys.path with CPU-only arguments; returns its folder."""
    if not (COMFYUI_DIR / "comfy" / "sd.py").is_file():
        raise RuntimeError(
            f"ComfyUI not found in {COMFYUI_DIR}; run `make test` (it fetches it) "
            "or set COMFYUI_DIR to a ComfyUI checkout"
        )
    if str(COMFYUI_DIR) not in sys.path:
        sys.path.insert(0, str(COMFYUI_DIR))
    from comfy.cli_args import args

    args.cpu = True
    args.disable_auto_launch = True
    return COMFYUI_DIR


def load_pack() -> ModuleType:
    """Import this repository as the ComfyUI pack package ``dpo_diff`` (after bootstrap_comfy)."""
    if PACK_NAME in sys.modules:
        return sys.modules[PACK_NAME]
    bootstrap_comfy()
    spec = importlib.util.spec_from_file_location(
        PACK_NAME, REPO_ROOT / "__init__.py", submodule_search_locations=[str(REPO_ROOT)]
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[PACK_NAME] = module
    spec.loader.exec_module(module)
    return module
