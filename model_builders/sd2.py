"""SD 2.x MODEL and CLIP objects from layouts, with ComfyUI's own SD20 classes.

The ``SD20`` config and ``BaseModel`` (epsilon or v-prediction, as ComfyUI decides for a
checkpoint), ``SD2ClipModel`` (OpenCLIP ViT-H text encoder read at the penultimate layer, its
tokenizer padding with 0). The VAE is SD's (``sd1.build_sd1_vae``).
"""

from __future__ import annotations

from collections.abc import Mapping

import comfy.model_management
import comfy.model_patcher
import comfy.sd
import comfy.supported_models
import comfy.supported_models_base
import comfy.text_encoders.sd2_clip
import torch

from .sd1 import SD15_UNET_CONFIG, fill_deterministic

# SD 2.x's UNet as ComfyUI's detector reports it: SD1.5's layout with context 1024, linear
# transformer in/out and 64-channel attention heads.
SD2_UNET_CONFIG: dict = {
    **SD15_UNET_CONFIG,
    "use_linear_in_transformer": True,
    "context_dim": 1024,
    "num_heads": -1,
    "num_head_channels": 64,
}

# ComfyUI tells the 768-v models from the 512 epsilon ones by the spread of this bias in the
# checkpoint; a stand-in state dict with that spread makes it pick v-prediction.
_V_PREDICTION_PROBE = "output_blocks.11.1.transformer_blocks.0.norm1.bias"


def build_sd2_model(
    unet_overrides: Mapping | None = None, seed: int = 0, v_prediction: bool = False
) -> comfy.model_patcher.ModelPatcher:
    """An SD 2.x MODEL (ComfyUI's ``SD20`` config) with seeded weights; ``v_prediction`` as the
    768-v checkpoints (ComfyUI's own detection decides, from a probe tensor)."""
    model_config = comfy.supported_models.SD20(dict(SD2_UNET_CONFIG))
    model_config.unet_config.update(dict(unet_overrides or {}))
    model_config.set_inference_dtype(torch.float32, torch.float32)
    probe = {}
    if v_prediction:
        probe[_V_PREDICTION_PROBE] = torch.linspace(-1.0, 1.0, 64)
    model = model_config.get_model(probe)
    fill_deterministic(model.diffusion_model, seed)
    model.eval()
    return comfy.model_patcher.ModelPatcher(
        model,
        load_device=comfy.model_management.get_torch_device(),
        offload_device=comfy.model_management.unet_offload_device(),
    )


def _sd2_clip_class(h_config: Mapping) -> type:
    """``SD2ClipModel`` with OpenCLIP-H config keys of our choice."""

    class SD2ClipModel(comfy.text_encoders.sd2_clip.SD2ClipModel):
        def __init__(self, device="cpu", dtype=None, model_options=None, **kwargs):
            options = dict(model_options or {})
            options["clip_h_model_config"] = dict(h_config)
            super().__init__(device=device, dtype=dtype, model_options=options, **kwargs)

    return SD2ClipModel


def build_sd2_clip(h_overrides: Mapping | None = None, seed: int = 0) -> comfy.sd.CLIP:
    """A CLIP object of SD 2.x's kind (OpenCLIP-H text encoder, SD2's tokenizer), seeded
    weights; the overrides change keys of its config (at least 3 layers: it is read at the
    penultimate one)."""
    clip_class = _sd2_clip_class(dict(h_overrides or {}))
    target = comfy.supported_models_base.ClipTarget(
        comfy.text_encoders.sd2_clip.SD2Tokenizer, clip_class
    )
    clip = comfy.sd.CLIP(target=target, model_options={"dtype": torch.float32})
    fill_deterministic(clip.cond_stage_model, seed)
    return clip
