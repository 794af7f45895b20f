"""Write a small random-weight open_clip CLIP that carries its own config (safetensors metadata
``open_clip_config``), loadable by the DPO Evaluator Loader's "embedded config" kind.

For tests and for the demo on the generated checkpoint; a real evaluator is a CLIP ViT-B/32.

    python scripts/make_tiny_evaluator.py OUTPUT.safetensors [--seed N]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.append(str(Path(__file__).resolve().parents[1]))  # appended: ComfyUI's modules win
from model_builders.layouts import TINY_EVALUATOR  # noqa: E402


def make_evaluator(path: Path, seed: int = 0, config: dict | None = None) -> Path:
    import open_clip
    import torch
    from safetensors.torch import save_file

    config = config or TINY_EVALUATOR
    torch.manual_seed(seed)
    model = open_clip.CLIP(**config)
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file(state, str(path), metadata={"open_clip_config": json.dumps(config)})
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output", type=Path)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    make_evaluator(args.output, args.seed)


if __name__ == "__main__":
    main()
