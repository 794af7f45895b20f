"""Write a random-weight checkpoint in the SD1.5 single-file format, for tests and the demo.

ComfyUI's CheckpointLoaderSimple detects it as SD1.5: the UNet has SD1.5's width (320) and
context (768) but only one level, the text encoder is a full CLIP-L and the VAE has the
standard layout. About 470 MB in fp16, written in seconds; never committed.

    python scripts/make_sd15_checkpoint.py OUTPUT.safetensors [--seed N]
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT / "scripts"))
sys.path.append(str(REPO_ROOT))  # appended: ComfyUI's own top-level ``nodes`` module must win

from comfy_env import bootstrap_comfy, load_pack  # noqa: E402

from model_builders.layouts import DETECTABLE_SD15_UNET  # noqa: E402


def make_checkpoint(path: Path, seed: int = 0) -> Path:
    """Write the checkpoint to ``path`` (atomically) and return it."""
    bootstrap_comfy()
    load_pack()
    import comfy.utils
    import torch
    from dpo_diff.model_builders.sd1 import build_sd1_clip, build_sd1_model, build_sd1_vae

    model = build_sd1_model(DETECTABLE_SD15_UNET, seed=seed)
    clip = build_sd1_clip(seed=seed + 1)
    vae = build_sd1_vae(seed=seed + 2)
    state = model.state_dict_for_saving(clip_state_dict=clip.get_sd(), vae_state_dict=vae.get_sd())
    state = {k: v.to(torch.float16).contiguous() for k, v in state.items()}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".partial")
    comfy.utils.save_torch_file(state, str(tmp), metadata={"dpo_diff": f"random sd15 seed {seed}"})
    tmp.replace(path)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output", type=Path)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO)
    if args.output.exists():
        logging.info("%s exists; nothing to do", args.output)
        return
    make_checkpoint(args.output, args.seed)
    logging.info("wrote %s", args.output)


if __name__ == "__main__":
    main()
