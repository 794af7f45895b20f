"""The benchmarks' models: named specs, built with ComfyUI's classes from seeded random weights
(cached), the backend and scorer over them, and the small fixed space of the cost benchmarks."""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .paths import REPO_ROOT

if str(REPO_ROOT) not in sys.path:  # appended: ComfyUI's own top-level modules (``nodes``) win
    sys.path.append(str(REPO_ROOT))

# The cost benchmarks' CPU model is SD1.5's UNet at full width (320, context 768) with one
# level, the smallest layout ComfyUI's detector still calls SD1.5 (shared with the generated
# checkpoint), with the full CLIP-L text encoder and the full SD VAE. ``SD15_FULL_UNET`` (an
# empty override: the four-level 860M-parameter UNet) is what the GPU script runs. The small
# models of the search benchmark and the smoke test are the tests' (model_builders/layouts.py).
from model_builders.family_layouts import (
    SMALL_SD2_TEXT,
    SMALL_SD2_UNET,
    SMALL_SDXL_TEXT,
    SMALL_UNET,
)
from model_builders.layouts import (
    DETECTABLE_SD15_UNET as SD15_CPU_UNET,
)
from model_builders.layouts import (
    SD15_FULL_UNET,
    TINY_EVALUATOR,
    TINY_TEXT,
    TINY_UNET,
    TINY_VAE,
)

# The paper's main metric is CLIP ViT-B/32; its architecture with random weights is the cost
# benchmarks' scorer (scoring cost does not depend on the weights).
COST_SCORER_ARCH = "ViT-B-32-quickgelu"


@dataclass(frozen=True)
class ModelSpec:
    """Which SD1 models to build: UNet/text/VAE overrides of the SD1.5 layout and a scorer."""

    name: str
    unet: dict
    text: dict
    vae: dict
    scorer_arch: str  # open_clip architecture name, or "" for ``scorer_config``
    scorer_config: dict | None = None
    # Re-draw weight matrices as N(0, 1/fan_in): at the builders' N(0, 0.02) a narrow random
    # UNet barely reacts to its text, and every negative prompt would score the same.
    fan_in_init: bool = False
    # Model family ("sd1", "sd2", "sdxl"): which builders. For sd2 and sdxl ``text`` overrides
    # the text encoders' configs (SDXL: the same overrides for clip_l and clip_g).
    family: str = "sd1"


MODEL_SPECS: dict[str, ModelSpec] = {
    # full CLIP-L and VAE, full-width one-level UNet, ViT-B/32 scorer
    "sd15-cpu": ModelSpec("sd15-cpu", SD15_CPU_UNET, {}, {}, COST_SCORER_ARCH),
    # the full SD1.5 architecture (for a GPU)
    "sd15": ModelSpec("sd15", SD15_FULL_UNET, {}, {}, COST_SCORER_ARCH),
    # the tests' tiny world
    "tiny": ModelSpec("tiny", TINY_UNET, TINY_TEXT, TINY_VAE, "", TINY_EVALUATOR, True),
    # SD 2.x and SDXL at full size (for a GPU): ComfyUI's layouts, OpenCLIP-H / clip_l + clip_g
    "sd2": ModelSpec("sd2", {}, {}, {}, COST_SCORER_ARCH, family="sd2"),
    "sdxl": ModelSpec("sdxl", {}, {}, {}, COST_SCORER_ARCH, family="sdxl"),
    # the tests' small SD 2.x and SDXL (SDXL keeps its 2048-wide context and 2816 ADM inputs)
    "sd2-small": ModelSpec(
        "sd2-small", SMALL_SD2_UNET, SMALL_SD2_TEXT, TINY_VAE, "", TINY_EVALUATOR, family="sd2"
    ),
    "sdxl-small": ModelSpec(
        "sdxl-small", SMALL_UNET, SMALL_SDXL_TEXT, TINY_VAE, "", TINY_EVALUATOR, family="sdxl"
    ),
}


def build_models(spec: ModelSpec, seed: int = 0, dtype: Any = None) -> tuple[Any, Any, Any]:
    """(MODEL, CLIP, VAE) built with ComfyUI's classes, seeded random weights.

    ``dtype`` (e.g. ``torch.float16``) converts the UNet and the VAE; the text encoder stays in
    float32, as the differentiable text path computes in float32 anyway.
    """
    from dpo_diff.model_builders.sd1 import build_sd1_clip, build_sd1_model, build_sd1_vae

    if spec.family != "sd1":
        return _cast(*_build_other_family(spec, seed), dtype)
    parts = _cached_weights(spec, seed)
    model = build_sd1_model(spec.unet, state_dict=parts.get("unet"), seed=seed)
    clip = build_sd1_clip(spec.text, state_dict=parts.get("clip"), seed=seed + 1)
    vae = build_sd1_vae(spec.vae, state_dict=parts.get("vae"), seed=seed + 2)
    if not parts:
        if spec.fan_in_init:
            for i, module in enumerate(
                (model.model.diffusion_model, clip.cond_stage_model, vae.first_stage_model)
            ):
                fill_fan_in(module, seed + 10 + i)
        _save_weights(spec, seed, model, clip, vae)
    return _cast(model, clip, vae, dtype)


def _cast(model: Any, clip: Any, vae: Any, dtype: Any) -> tuple[Any, Any, Any]:
    if dtype is not None:
        unet = model.model.diffusion_model
        unet.to(dtype)
        unet.dtype = dtype
        vae.first_stage_model.to(dtype)
        vae.vae_dtype = dtype
    return model, clip, vae


def _build_other_family(spec: ModelSpec, seed: int) -> tuple[Any, Any, Any]:
    """SD 2.x or SDXL models of ``spec`` (seeded, not cached: the SD1 cache's key layout is
    CLIP-L's)."""
    from dpo_diff.model_builders.sd1 import build_sd1_vae
    from dpo_diff.model_builders.sd2 import build_sd2_clip, build_sd2_model
    from dpo_diff.model_builders.sdxl import build_sdxl_clip, build_sdxl_model

    if spec.family == "sd2":
        model = build_sd2_model(spec.unet, seed=seed)
        clip = build_sd2_clip(spec.text, seed=seed + 1)
    elif spec.family == "sdxl":
        model = build_sdxl_model(spec.unet, seed=seed)
        clip = build_sdxl_clip(spec.text, spec.text, seed=seed + 1)
    else:
        raise ValueError(f"unknown model family {spec.family!r}")
    return model, clip, build_sd1_vae(spec.vae, seed=seed + 2)


def fill_fan_in(module: Any, seed: int) -> None:
    """Weight matrices and kernels ~ N(0, 1/fan_in); norms and biases keep their values."""
    import torch

    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for param in module.parameters():
            if param.ndim >= 2:
                value = torch.randn(param.shape, generator=gen) / math.sqrt(param[0].numel())
                param.copy_(value.to(param.dtype))


WEIGHTS_CACHE = REPO_ROOT / ".cache" / "benchmarks"  # seeded random weights, made once


def _weights_path(spec: ModelSpec, seed: int) -> Path:
    return WEIGHTS_CACHE / f"{spec.name}-seed{seed}.safetensors"


def _cached_weights(spec: ModelSpec, seed: int) -> dict[str, dict[str, Any]]:
    """The seeded weights saved by an earlier run (filling 200M+ random values takes tens of
    seconds on a small CPU, reading them back well under one)."""
    path = _weights_path(spec, seed)
    if not path.is_file():
        return {}
    from safetensors.torch import load_file

    parts: dict[str, dict[str, Any]] = {"unet": {}, "clip": {}, "vae": {}}
    for key, value in load_file(str(path)).items():
        part, name = key.split("/", 1)
        parts[part][name] = value
    return parts


def _save_weights(spec: ModelSpec, seed: int, model: Any, clip: Any, vae: Any) -> None:
    from safetensors.torch import save_file

    state = {f"unet/{k}": v for k, v in model.model.diffusion_model.state_dict().items()}
    text = clip.get_sd().items()  # build_sd1_clip loads keys below "clip_l.transformer."
    state.update({f"clip/{k.removeprefix('clip_l.transformer.')}": v for k, v in text})
    state.update({f"vae/{k}": v for k, v in vae.get_sd().items()})
    path = _weights_path(spec, seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".partial")
    save_file({k: v.contiguous() for k, v in state.items()}, str(tmp))
    tmp.replace(path)


def build_backend(models: tuple[Any, Any, Any], steps: int, size: int, cfg: float = 7.5) -> Any:
    from dpo_diff.nodes.comfy_backend import ComfyBackend
    from dpo_diff.nodes.sampling_settings import SamplingSettings

    model, clip, vae = models
    settings = SamplingSettings(steps=steps, cfg=cfg, width=size, height=size)
    return ComfyBackend(model, clip, vae, settings)


def build_scorer(spec: ModelSpec, device: str = "cpu", seed: int = 0) -> Any:
    import torch

    from dpo_core.scorers import OpenClipScorer

    torch.manual_seed(seed)
    return OpenClipScorer.from_checkpoint(
        spec.scorer_arch or "custom", None, model_config=spec.scorer_config, device=device
    )


def parameter_count(module: Any) -> int:
    return sum(p.numel() for p in module.parameters())


# The small fixed search space of the cost benchmarks.
def cost_space() -> Any:
    """A negative-mode space of six slots (about the size WordNet gives a short prompt)."""
    from dpo_core.space import SearchSpace, Slot

    words = {
        "red": ("", "green", "blue", "pale"),
        "cat": ("", "dog", "bird", "golden retriever"),
        "sitting": ("", "standing", "running"),
        "soft": ("", "hard", "rough", "sharp"),
        "mat": ("", "floor", "table"),
        "sunny": ("", "dark", "rainy", "cloudy", "night"),
    }
    return SearchSpace(
        prompt="a red cat sitting on a soft mat on a sunny day",
        mode="negative",
        slots=tuple(Slot(word, options) for word, options in words.items()),
    )
