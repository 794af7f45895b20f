"""SDXL's pooled text output carried inside dpo_core's conditioning tensors.

dpo_core treats a conditioning as one tensor ``(B, T, D)`` that it only batches, slices and
repeats along the batch and token axes. SDXL's UNet also takes clip_g's pooled output (through
its ADM input), so for SDXL the backend appends the pooled vector to every token row:
``(B, T, 2048 + 1280)``. Any batching or token repetition keeps each row's pooled part with
its conditioning; the backend splits it off again before ComfyUI sees it. For a long text the
first window's pooled output is the one kept, as ComfyUI keeps it.
"""

from __future__ import annotations

import torch


def attach_pooled(context: torch.Tensor, pooled: torch.Tensor) -> torch.Tensor:
    """``(B, T, D)`` context and ``(B, P)`` pooled -> ``(B, T, D + P)``."""
    rows = pooled[:, None, :].to(context).expand(-1, context.shape[1], -1)
    return torch.cat([context, rows], dim=-1)


def split_pooled(
    conditioning: torch.Tensor, width: int
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Inverse of ``attach_pooled`` for a context ``width`` wide: (context, pooled or None)."""
    if conditioning.shape[-1] == width:
        return conditioning, None
    return conditioning[..., :width], conditioning[:, 0, width:]


def comfy_conditioning(conditioning: torch.Tensor, width: int) -> list:
    """ComfyUI's CONDITIONING for a batch, as CLIPTextEncode makes it (context and, when there is
    one, ``pooled_output``; the image size comes from the latent, as for CLIPTextEncode)."""
    context, pooled = split_pooled(conditioning, width)
    extra = {} if pooled is None else {"pooled_output": pooled}
    return [[context, extra]]
