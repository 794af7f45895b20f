"""Generate images of the world with ComfyUI's own KSampler path and VAE decode."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class SamplingSettings:
    """KSampler settings used by the quality report (and a sensible default for the world)."""

    steps: int = 20
    cfg: float = 6.0
    sampler: str = "euler"
    scheduler: str = "normal"
    images_per_prompt: int = 4  # one latent batch per prompt, noise from one seed


def conditioning(clip, text: str) -> list:
    """CONDITIONING for ``text`` exactly as ComfyUI's CLIPTextEncode builds it."""
    cond, pooled = clip.encode_from_tokens(clip.tokenize(text), return_pooled=True)
    return [[cond, {"pooled_output": pooled}]]


def generate(
    model,
    clip,
    vae,
    prompts: Sequence[str],
    negative: str | Sequence[str] = "",
    seed: int = 0,
    settings: SamplingSettings | None = None,
) -> torch.Tensor:
    """Images ``(len(prompts) * images_per_prompt, 3, 64, 64)`` in [0, 1], prompt-major.

    Prompt ``i`` uses seed ``seed + i`` for its latent batch, as a KSampler with that seed would.
    """
    import nodes as comfy_nodes  # ComfyUI's own nodes module

    settings = settings or SamplingSettings()
    negatives = [negative] * len(prompts) if isinstance(negative, str) else list(negative)
    if len(negatives) != len(prompts):
        raise ValueError(f"expected one negative prompt per prompt, got {len(negatives)}")
    out = []
    for i, (text, neg) in enumerate(zip(prompts, negatives)):
        latent = {"samples": torch.zeros(settings.images_per_prompt, 4, 8, 8)}
        (samples,) = comfy_nodes.common_ksampler(
            model,
            seed + i,
            settings.steps,
            settings.cfg,
            settings.sampler,
            settings.scheduler,
            conditioning(clip, text),
            conditioning(clip, neg),
            latent,
        )
        images = vae.decode(samples["samples"])  # (B, 64, 64, 3) in [0, 1]
        out.append(images.movedim(-1, 1).float())
    return torch.cat(out)
