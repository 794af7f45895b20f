"""Build SD1.x MODEL, CLIP and VAE objects from configs with ComfyUI's own classes.

Used by the tiny trained world (weights shipped with the pack), by the tests (small
random-weight models) and by the benchmarks (full-size layouts, random weights), so that all
of them exercise exactly the code paths a real checkpoint goes through in ComfyUI.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping

import comfy.model_management
import comfy.model_patcher
import comfy.sd
import comfy.sd1_clip
import comfy.supported_models
import comfy.supported_models_base
import torch
from comfy.ldm.models.autoencoder import AutoencoderKL

# The full SD1.5 UNet layout as ComfyUI's detector reports it; small configs override keys.
SD15_UNET_CONFIG: dict = {
    "use_checkpoint": False,
    "image_size": 32,
    "in_channels": 4,
    "out_channels": 4,
    "model_channels": 320,
    "num_res_blocks": [2, 2, 2, 2],
    "channel_mult": [1, 2, 4, 4],
    "transformer_depth": [1, 1, 1, 1, 1, 1, 0, 0],
    "transformer_depth_output": [1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0],
    "transformer_depth_middle": 1,
    "use_spatial_transformer": True,
    "legacy": False,
    "adm_in_channels": None,
    "use_linear_in_transformer": False,
    "context_dim": 768,
    "num_heads": 8,
    "num_head_channels": -1,
    "use_temporal_attention": False,
    "use_temporal_resblock": False,
}

# The standard SD VAE (KL-f8, 4 latent channels).
SD_VAE_DDCONFIG: dict = {
    "double_z": True,
    "z_channels": 4,
    "resolution": 256,
    "in_channels": 3,
    "out_ch": 3,
    "ch": 128,
    "ch_mult": [1, 2, 4, 4],
    "num_res_blocks": 2,
    "attn_resolutions": [],
    "dropout": 0.0,
}


def fill_deterministic(module: torch.nn.Module, seed: int, scale: float = 0.02) -> None:
    """Give every parameter a seeded value: N(0, scale) for weights, ones/zeros for norms.

    ComfyUI's layers skip torch's initialisation, so freshly built models hold garbage;
    this makes small test models reproducible across machines and runs.
    """
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, param in module.named_parameters():
            leaf = name.rsplit(".", 1)[-1]
            is_norm = "norm" in name or name.endswith("ln_final.weight") or ".ln_" in name
            if is_norm and leaf == "weight":
                param.copy_(torch.ones_like(param))
            elif leaf == "bias":
                param.copy_(torch.zeros_like(param))
            else:
                value = torch.randn(param.shape, generator=gen, dtype=torch.float32) * scale
                param.copy_(value.to(param.dtype))


def build_sd1_model(
    unet_overrides: Mapping | None = None,
    state_dict: Mapping[str, torch.Tensor] | None = None,
    seed: int = 0,
) -> comfy.model_patcher.ModelPatcher:
    """An SD1.5 MODEL (ComfyUI's SD15 model class) with a possibly smaller UNet layout.

    ``state_dict`` holds UNet weights without prefix; without it the weights are seeded.
    """
    unet_config = {**copy.deepcopy(SD15_UNET_CONFIG), **dict(unet_overrides or {})}
    model_config = comfy.supported_models.SD15(unet_config)
    model_config.set_inference_dtype(torch.float32, torch.float32)
    model = model_config.get_model({})
    if state_dict is None:
        fill_deterministic(model.diffusion_model, seed)
    else:
        missing, unexpected = model.diffusion_model.load_state_dict(dict(state_dict), strict=False)
        if missing or unexpected:
            raise ValueError(
                f"UNet weights do not fit the config: missing {missing[:5]}, "
                f"unexpected {unexpected[:5]}"
            )
    model.eval()
    load_device = comfy.model_management.get_torch_device()
    offload_device = comfy.model_management.unet_offload_device()
    return comfy.model_patcher.ModelPatcher(
        model, load_device=load_device, offload_device=offload_device
    )


class _SmallSD1ClipModel(comfy.sd1_clip.SD1ClipModel):
    """SD1's text encoder (CLIP-L class, SD1 tokenizer) with a text-model config of our choice."""

    text_config: dict = {}

    def __init__(self, device="cpu", dtype=None, model_options=None, **kwargs):
        options = dict(model_options or {})
        options["clip_l_model_config"] = dict(self.text_config)
        super().__init__(device=device, dtype=dtype, model_options=options, **kwargs)


def build_sd1_clip(
    text_overrides: Mapping | None = None,
    state_dict: Mapping[str, torch.Tensor] | None = None,
    seed: int = 0,
) -> comfy.sd.CLIP:
    """A CLIP object (``comfy.sd.CLIP``) of SD1's kind, optionally with a smaller text model.

    ``text_overrides`` changes keys of CLIP-L's config (hidden_size, num_hidden_layers, ...);
    the tokenizer is always SD1's. ``state_dict`` holds the text model's tensors
    (``text_model.*``), with or without the ``clip_l.transformer.`` prefix that ``CLIP.get_sd()``
    writes.
    """
    overrides = dict(text_overrides or {})
    clip_class = type("SD1ClipModel", (_SmallSD1ClipModel,), {"text_config": overrides})
    target = comfy.supported_models_base.ClipTarget(comfy.sd1_clip.SD1Tokenizer, clip_class)
    clip = comfy.sd.CLIP(target=target, model_options={"dtype": torch.float32})
    if state_dict is None:
        fill_deterministic(clip.cond_stage_model, seed)
    else:
        prefix = "clip_l.transformer."
        state = {k.removeprefix(prefix): v for k, v in state_dict.items()}
        missing, unexpected = clip.load_sd(state)
        missing = [k for k in missing if "logit_scale" not in k and "text_projection" not in k]
        if missing:
            raise ValueError(f"text-encoder weights do not fit the config: missing {missing[:5]}")
    return clip


def build_sd1_vae(
    ddconfig_overrides: Mapping | None = None,
    state_dict: Mapping[str, torch.Tensor] | None = None,
    seed: int = 0,
) -> comfy.sd.VAE:
    """A VAE object (``comfy.sd.VAE``) with SD's latent layout and a possibly smaller width."""
    ddconfig = {**copy.deepcopy(SD_VAE_DDCONFIG), **dict(ddconfig_overrides or {})}
    config = {"params": {"ddconfig": ddconfig, "embed_dim": ddconfig["z_channels"]}}
    if state_dict is None:
        autoencoder = AutoencoderKL(ddconfig=ddconfig, embed_dim=ddconfig["z_channels"])
        fill_deterministic(autoencoder, seed)
        state_dict = autoencoder.state_dict()
    vae = comfy.sd.VAE(sd=dict(state_dict), config=config, dtype=torch.float32)
    vae.throw_exception_if_invalid()
    return vae
