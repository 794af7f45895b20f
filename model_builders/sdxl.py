"""SDXL MODEL and CLIP objects from layouts, with ComfyUI's own SDXL classes.

The same role as ``sd1`` for the SDXL family: what the tests and benchmarks build goes through
exactly the code a real SDXL checkpoint goes through in ComfyUI (the ``SDXL`` model class with
its ADM inputs, ``SDXLClipModel`` with clip_l and clip_g, SDXL's tokenizer and latent format).
The VAE is SD's KL-f8 architecture (``sd1.build_sd1_vae``); SDXL's own latent scale belongs to
the MODEL's latent format, not to the VAE object.
"""

from __future__ import annotations

from collections.abc import Mapping

import comfy.model_management
import comfy.model_patcher
import comfy.sd
import comfy.sdxl_clip
import comfy.supported_models
import comfy.supported_models_base
import torch

from .sd1 import fill_deterministic

# SDXL's UNet as ComfyUI's detector reports it: context 768 + 1280 = 2048 wide (clip_l and
# clip_g side by side), 2816 ADM channels (clip_g's 1280-wide pooled output and six 256-wide
# size embeddings).
SDXL_UNET_CONFIG: dict = {
    "use_checkpoint": False,
    "image_size": 32,
    "in_channels": 4,
    "out_channels": 4,
    "model_channels": 320,
    "num_res_blocks": [2, 2, 2],
    "channel_mult": [1, 2, 4],
    "transformer_depth": [0, 0, 2, 2, 10, 10],
    "transformer_depth_output": [0, 0, 0, 2, 2, 2, 10, 10, 10],
    "transformer_depth_middle": 10,
    "use_spatial_transformer": True,
    "legacy": False,
    "num_classes": "sequential",
    "adm_in_channels": 2816,
    "use_linear_in_transformer": True,
    "context_dim": 2048,
    "num_heads": -1,
    "num_head_channels": 64,
    "use_temporal_attention": False,
    "use_temporal_resblock": False,
}


def build_sdxl_model(
    unet_overrides: Mapping | None = None, seed: int = 0
) -> comfy.model_patcher.ModelPatcher:
    """An SDXL MODEL (ComfyUI's ``SDXL`` config and model class) with seeded weights.

    ``unet_overrides`` may shrink the UNet (widths, depths, heads); the context width and the
    ADM channels stay SDXL's unless overridden.
    """
    model_config = comfy.supported_models.SDXL(dict(SDXL_UNET_CONFIG))
    # the config's constructor writes the family's head layout over ours; a narrow UNet needs
    # its own, so the overrides go in afterwards
    model_config.unet_config.update(dict(unet_overrides or {}))
    model_config.set_inference_dtype(torch.float32, torch.float32)
    model = model_config.get_model({})
    fill_deterministic(model.diffusion_model, seed)
    model.eval()
    return comfy.model_patcher.ModelPatcher(
        model,
        load_device=comfy.model_management.get_torch_device(),
        offload_device=comfy.model_management.unet_offload_device(),
    )


def _sdxl_clip_class(l_config: Mapping, g_config: Mapping) -> type:
    """``SDXLClipModel`` with clip_l / clip_g config keys of our choice (model options it reads)."""

    class SDXLClipModel(comfy.sdxl_clip.SDXLClipModel):
        def __init__(self, device="cpu", dtype=None, model_options=None, **kwargs):
            options = dict(model_options or {})
            options["clip_l_model_config"] = dict(l_config)
            options["clip_g_model_config"] = dict(g_config)
            super().__init__(device=device, dtype=dtype, model_options=options, **kwargs)

    return SDXLClipModel


def build_sdxl_clip(
    l_overrides: Mapping | None = None, g_overrides: Mapping | None = None, seed: int = 0
) -> comfy.sd.CLIP:
    """A CLIP object of SDXL's kind (clip_l + clip_g, SDXL's tokenizer) with seeded weights.

    The overrides change keys of clip_l's and clip_g's configs (layers, heads, MLP width); for
    an SDXL UNet the widths stay 768 and 1280 (context 2048, pooled 1280), and both need at
    least 3 layers (SDXL reads them at the penultimate layer).
    """
    clip_class = _sdxl_clip_class(dict(l_overrides or {}), dict(g_overrides or {}))
    target = comfy.supported_models_base.ClipTarget(comfy.sdxl_clip.SDXLTokenizer, clip_class)
    clip = comfy.sd.CLIP(target=target, model_options={"dtype": torch.float32})
    fill_deterministic(clip.cond_stage_model, seed)
    return clip
