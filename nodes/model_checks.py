"""Refuse what the method cannot use, with one message that says what was found and what to do."""

from __future__ import annotations

import comfy.supported_models

from .text_encoding import sd1_text_encoder

SUPPORTED = "Stable Diffusion 1.x (SD1.4/SD1.5 and fine-tunes)"


def check_sd1(model, clip, vae) -> None:
    """ValueError unless MODEL is an SD1.x model and CLIP/VAE fit it."""
    config = model.model.model_config
    found = type(config).__name__
    # SD15 subclasses with other inputs (e.g. instruct-pix2pix, 8 channels) are not text-to-image
    if type(config) is not comfy.supported_models.SD15:
        raise ValueError(
            f"DPO-Diff supports {SUPPORTED}; the MODEL input is {found}. "
            "Load an SD1.x checkpoint with Load Checkpoint and connect its MODEL, CLIP and VAE."
        )
    try:
        encoder = sd1_text_encoder(clip)
    except ValueError:
        raise ValueError(
            f"DPO-Diff needs the SD1.x text encoder (CLIP-L); the CLIP input is "
            f"{type(clip.cond_stage_model).__name__}. Connect the CLIP output of the same "
            "SD1.x checkpoint as the MODEL."
        ) from None
    width = encoder.transformer.get_input_embeddings().weight.shape[1]
    context = config.unet_config.get("context_dim")
    if int(context) != int(width):
        raise ValueError(
            f"the CLIP input makes {width}-wide conditioning but the MODEL expects {context}; "
            "connect the CLIP output of the same checkpoint as the MODEL."
        )
    channels = model.model.latent_format.latent_channels
    if getattr(vae, "latent_channels", None) != channels or vae.downscale_ratio != 8:
        raise ValueError(
            f"the VAE input has {getattr(vae, 'latent_channels', '?')} latent channels and "
            f"{vae.downscale_ratio}x downscaling; an SD1.x MODEL needs {channels} channels and 8x. "
            "Connect the VAE of the same checkpoint (or an SD1.x VAE such as vae-ft-mse)."
        )


def check_sampling(cfg: float) -> None:
    if cfg <= 1.0:
        raise ValueError(
            f"cfg is {cfg}: with a CFG scale of 1 or less the negative prompt has no effect on the "
            "image, so there is nothing to optimize. Use the cfg of your KSampler (e.g. 7.5)."
        )
