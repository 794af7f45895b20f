"""Configurations of the world's five models and loaders from the shipped weights.

Generator: a small SD1.5 UNet (ComfyUI's SD15 class), SD1's CLIP text encoder class with a small
config and the standard SD1 tokenizer, and a small KL-f8 VAE (4 latent channels). Judges, never
used for conditioning: a small open_clip CLIP (the evaluator of the spherical loss) and an
attribute classifier (judges.py).
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

log = logging.getLogger(__name__)

SHIPPED_WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
# Trainers write here and loaders read here; TINY_WORLD_WEIGHTS points both at another folder
# (a retraining run in progress, while the shipped weights stay in use).
WEIGHTS_DIR = Path(os.environ.get("TINY_WORLD_WEIGHTS", SHIPPED_WEIGHTS_DIR))

# UNet: two levels (8x8 and 4x4) on the latents of a 64x64 image, width 32 (the least that
# ComfyUI's 32-group norms allow) so that it trains on a shared CPU; context_dim == text width.
UNET_OVERRIDES: dict[str, Any] = {
    "model_channels": 32,
    "num_res_blocks": [1, 1],
    "channel_mult": [1, 2],
    "transformer_depth": [1, 1],
    "transformer_depth_output": [1, 1, 1, 1],
    "transformer_depth_middle": 1,
    "context_dim": 128,
    "num_heads": 2,
}
# Text encoder: CLIP-L's class and tokenizer, width 128 (the 49408-row token table dominates).
TEXT_OVERRIDES: dict[str, Any] = {
    "hidden_size": 128,
    "intermediate_size": 512,
    "num_hidden_layers": 3,
    "num_attention_heads": 2,
    "projection_dim": 128,
}
# VAE: SD's KL-f8 layout (three down-samplings, 4 latent channels) at width 32 (the least
# that ComfyUI's 32-group norms allow); flat shapes need little capacity.
VAE_OVERRIDES: dict[str, Any] = {
    "ch": 32,
    "ch_mult": [1, 1, 2, 2],
    "num_res_blocks": 1,
    "resolution": 64,
}
# Evaluator: an open_clip CLIP config with open_clip's own tokenizer. Small enough to train
# on a shared CPU in minutes; a 32-token context holds every caption of the world (open_clip's
# tokenizer truncates longer texts).
EVALUATOR_CONFIG: dict[str, Any] = {
    "embed_dim": 64,
    "vision_cfg": {"image_size": 64, "patch_size": 8, "width": 64, "layers": 2, "head_width": 32},
    "text_cfg": {"context_length": 32, "vocab_size": 49408, "width": 64, "heads": 2, "layers": 2},
}

FILES = {
    "unet": "unet.safetensors",
    "text_encoder": "text_encoder.safetensors",
    "vae": "vae.safetensors",
    "evaluator": "evaluator.safetensors",
    "evaluator_config": "evaluator_config.json",
    "classifier": "attribute_classifier.safetensors",
}
EVALUATOR_NAME = "tiny-world-clip"


def weight_path(kind: str, weights_dir: Path | None = None) -> Path:
    """Path of one shipped weight file (``kind`` is a key of ``FILES``)."""
    if kind not in FILES:
        raise ValueError(f"expected a weight kind in {sorted(FILES)}, got {kind!r}")
    return Path(weights_dir or WEIGHTS_DIR) / FILES[kind]


def save_weights(state: Mapping[str, torch.Tensor], path: Path, half: bool = True) -> None:
    """Save a state dict as safetensors, floating tensors in fp16 when ``half``."""
    from safetensors.torch import save_file

    out = {}
    for key, value in state.items():
        value = value.detach().cpu().contiguous()
        if half and value.is_floating_point():
            value = value.half()
        out[key] = value
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file(out, str(path))
    log.info("saved %s (%.1f MB)", path, path.stat().st_size / 2**20)


def load_weights(path: Path) -> dict[str, torch.Tensor]:
    """A shipped state dict in fp32; a clear error when the file is missing."""
    from safetensors.torch import load_file

    if not path.is_file():
        raise RuntimeError(
            f"tiny-world weights not found: {path}; run `bash tiny_world/train_all.sh` "
            "to train them (about 30 minutes on a laptop CPU)"
        )
    return {k: (v.float() if v.is_floating_point() else v) for k, v in load_file(str(path)).items()}


def build_vae(state_dict: Mapping[str, torch.Tensor] | None = None, seed: int = 0):
    """The world's VAE as a ``comfy.sd.VAE`` (seeded random weights without ``state_dict``)."""
    from ..model_builders.sd1 import build_sd1_vae

    return build_sd1_vae(VAE_OVERRIDES, state_dict=state_dict, seed=seed)


def build_clip(state_dict: Mapping[str, torch.Tensor] | None = None, seed: int = 0):
    """The world's text encoder as a ``comfy.sd.CLIP`` of SD1 kind."""
    from ..model_builders.sd1 import build_sd1_clip

    return build_sd1_clip(TEXT_OVERRIDES, state_dict=state_dict, seed=seed)


def build_model(state_dict: Mapping[str, torch.Tensor] | None = None, seed: int = 0):
    """The world's diffusion model as a ComfyUI MODEL (``ModelPatcher`` of an SD15 model)."""
    from ..model_builders.sd1 import build_sd1_model

    return build_sd1_model(UNET_OVERRIDES, state_dict=state_dict, seed=seed)


def evaluator_config(weights_dir: Path | None = None) -> dict[str, Any]:
    """The evaluator's open_clip config as shipped (falls back to ``EVALUATOR_CONFIG``)."""
    path = weight_path("evaluator_config", weights_dir)
    return json.loads(path.read_text()) if path.is_file() else dict(EVALUATOR_CONFIG)


def load_evaluator(weights_dir: Path | None = None, checkpoint: bool = True):
    """The evaluator as a ``dpo_core`` ``ImageTextScorer`` (open_clip scorer, local weights)."""
    from dpo_core.scorers import OpenClipScorer

    path = weight_path("evaluator", weights_dir) if checkpoint else None
    if path is not None and not path.is_file():
        load_weights(path)  # raises the "train it" message
    return OpenClipScorer.from_checkpoint(
        EVALUATOR_NAME, path, model_config=evaluator_config(weights_dir), name=EVALUATOR_NAME
    )


def load_classifier(weights_dir: Path | None = None):
    """The attribute classifier (eval mode, fp32)."""
    from .judges import AttributeClassifier

    classifier = AttributeClassifier()
    classifier.load_state_dict(load_weights(weight_path("classifier", weights_dir)))
    return classifier.eval()


@dataclass(frozen=True)
class TinyWorld:
    """The loaded world: ComfyUI's MODEL, CLIP and VAE plus the two judges."""

    model: Any  # comfy.model_patcher.ModelPatcher (SD15)
    clip: Any  # comfy.sd.CLIP (SD1 kind)
    vae: Any  # comfy.sd.VAE
    evaluator: Any  # dpo_core.scorers.OpenClipScorer
    classifier: torch.nn.Module  # judges.AttributeClassifier


def load_world(weights_dir: Path | None = None) -> TinyWorld:
    """Build every model of the world with ComfyUI's classes and load the shipped weights."""
    return TinyWorld(
        model=build_model(load_weights(weight_path("unet", weights_dir))),
        clip=build_clip(load_weights(weight_path("text_encoder", weights_dir))),
        vae=build_vae(load_weights(weight_path("vae", weights_dir))),
        evaluator=load_evaluator(weights_dir),
        classifier=load_classifier(weights_dir),
    )
