"""Refuse what the method cannot use, with one message that says what was found and what to do."""

from __future__ import annotations

from .model_family import Family, clip_family, model_family
from .text_encoders import encoder_modules

SUPPORTED = "Stable Diffusion 1.x, Stable Diffusion 2.x and SDXL (and their fine-tunes)"
_CLIP_NAMES = {"sd1": "SD1.x CLIP", "sd2": "SD2.x CLIP", "sdxl": "SDXL CLIP"}
_MODEL_NAMES = {"sd1": "SD1.x MODEL", "sd2": "SD2.x MODEL", "sdxl": "SDXL MODEL"}
# clip_g's pooled output and six 256-wide size embeddings make SDXL's ADM input
_SDXL_SIZE_CHANNELS = 6 * 256


def check_models(model, clip, vae) -> Family:
    """The family of MODEL; ValueError unless it is SD1.x, SD2.x or SDXL text-to-image and CLIP
    and VAE fit it."""
    config = model.model.model_config
    found = type(config).__name__
    family = model_family(model)
    if family is None:
        raise ValueError(
            f"DPO-Diff supports {SUPPORTED}; the MODEL input is {found}. Load such a checkpoint "
            "with Load Checkpoint and connect its MODEL, CLIP and VAE."
        )
    channels = model.model.latent_format.latent_channels
    inputs = int(config.unet_config.get("in_channels", channels))
    if inputs != channels:
        raise ValueError(
            f"the MODEL input is an {_MODEL_NAMES[family.key]} with {inputs} input channels (an "
            f"inpainting or image-conditioned model); DPO-Diff needs a text-to-image model with "
            f"{channels}. Load the base checkpoint of the family."
        )
    clip_kind = clip_family(clip)
    if clip_kind is not family:
        what = _CLIP_NAMES[clip_kind.key] if clip_kind else type(clip.cond_stage_model).__name__
        raise ValueError(
            f"the CLIP input is {'an' if clip_kind else 'a'} {what} but the MODEL is an "
            f"{_MODEL_NAMES[family.key]} (it needs {' + '.join(family.encoders)}); connect the "
            "CLIP output of the same checkpoint as the MODEL."
        )
    encoders = encoder_modules(clip, family)
    width = sum(e.transformer.get_input_embeddings().weight.shape[1] for e in encoders)
    context = config.unet_config.get("context_dim")
    adm = config.unet_config.get("adm_in_channels")
    pooled = encoders[-1].transformer.get_input_embeddings().weight.shape[1]
    if int(context) != int(width) or (family.pooled and adm != pooled + _SDXL_SIZE_CHANNELS):
        raise ValueError(
            f"the CLIP input makes {width}-wide conditioning but the MODEL expects {context}; "
            "connect the CLIP output of the same checkpoint as the MODEL."
        )
    if getattr(vae, "latent_channels", None) != channels or vae.downscale_ratio != 8:
        raise ValueError(
            f"the VAE input has {getattr(vae, 'latent_channels', '?')} latent channels and "
            f"{vae.downscale_ratio}x downscaling; an {_MODEL_NAMES[family.key]} needs {channels} "
            "channels and 8x. Connect the VAE of the same checkpoint (or one made for the "
            "family, such as vae-ft-mse for SD1.x or the SDXL VAE)."
        )
    return family


check_sd1 = check_models  # the former name, kept for callers that still use it


def check_sampling(cfg: float) -> None:
    if cfg <= 1.0:
        raise ValueError(
            f"cfg is {cfg}: with a CFG scale of 1 or less the negative prompt has no effect on the "
            "image, so there is nothing to optimize. Use the cfg of your KSampler (e.g. 7.5)."
        )
