"""Which model family a MODEL and a CLIP belong to, read from ComfyUI's own classes.

The family comes from the MODEL's ``model_config`` class (what ComfyUI's checkpoint detection
chose) and from the CLIP's ``cond_stage_model`` class, never from file or node names, so a
renamed fine-tune (Pony, Illustrious, NoobAI, ...) is recognised as the SDXL model it is.
"""

from __future__ import annotations

from dataclasses import dataclass

import comfy.sd1_clip
import comfy.sdxl_clip
import comfy.supported_models as supported
import comfy.text_encoders.sd2_clip


@dataclass(frozen=True)
class Family:
    key: str  # "sd1", "sd2", "sdxl"
    name: str  # for messages and the README
    encoders: tuple[str, ...]  # the CLIP's text encoders, in conditioning order
    pooled: bool  # the UNet takes the pooled text output (ADM) besides the token context


SD1 = Family("sd1", "Stable Diffusion 1.x", ("clip_l",), pooled=False)
SD2 = Family("sd2", "Stable Diffusion 2.x", ("clip_h",), pooled=False)
SDXL = Family("sdxl", "SDXL", ("clip_l", "clip_g"), pooled=True)
FAMILIES = (SD1, SD2, SDXL)

# Exact classes: a subclass with other inputs (instruct-pix2pix, unCLIP, upscalers, depth
# models) is not a text-to-image model of the family. The SDXL distillations keep SDXL's text
# encoders, context and ADM layout.
_MODEL_CLASSES: dict[type, Family] = {
    supported.SD15: SD1,
    supported.SD20: SD2,
    supported.SDXL: SDXL,
    supported.SSD1B: SDXL,
    supported.Segmind_Vega: SDXL,
    supported.KOALA_700M: SDXL,
    supported.KOALA_1B: SDXL,
}


def model_family(model) -> Family | None:
    """The family of a MODEL (ModelPatcher), or None when it is none of SD1, SD2 and SDXL."""
    return _MODEL_CLASSES.get(type(model.model.model_config))


def clip_family(clip) -> Family | None:
    """The family of a CLIP (``comfy.sd.CLIP``) from its text-encoder classes, or None."""
    inner = clip.cond_stage_model
    if isinstance(inner, comfy.sdxl_clip.SDXLClipModel):
        return SDXL
    if isinstance(inner, comfy.text_encoders.sd2_clip.SD2ClipModel):
        return SD2
    if isinstance(inner, comfy.sd1_clip.SD1ClipModel) and getattr(inner, "clip", None) == "clip_l":
        return SD1
    return None
