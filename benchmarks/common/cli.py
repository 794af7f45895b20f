"""Setting a benchmark up: logging, threads, the real ComfyUI and this pack; shared arguments."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any

from .paths import REPO_ROOT, RESULTS_DIR


def setup(threads: int = 2, device: str = "cpu") -> None:
    """Logging, torch threads, the real ComfyUI on sys.path and this pack as ``dpo_diff``.

    ``device="cuda"`` lets ComfyUI use the GPU (its CPU flag is set by the bootstrap and read
    once, when ``comfy.model_management`` is first imported).
    """
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    import torch

    torch.set_num_threads(threads)
    sys.path.insert(0, str(REPO_ROOT / "scripts"))
    if str(REPO_ROOT) not in sys.path:  # for dpo_core; appended: ComfyUI owns the name `nodes`
        sys.path.append(str(REPO_ROOT))
    from comfy_env import bootstrap_comfy, load_pack

    bootstrap_comfy()
    if device != "cpu":
        from comfy.cli_args import args

        args.cpu = False
        import comfy.model_management  # noqa: F401  (reads args.cpu now, once)
    load_pack()



def add_common_arguments(parser: Any) -> None:
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    parser.add_argument(
        "--out", type=Path, default=RESULTS_DIR, help="folder for the JSON and PNG results"
    )
    parser.add_argument(
        "--tiny", action="store_true", help="tiny models and sizes (seconds; the smoke test)"
    )
