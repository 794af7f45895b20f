"""The DPO-Diff objective: spherical distance between CLIP-style image and text embeddings."""

from __future__ import annotations

import torch

from .space import MODE_RULES, Mode

# Enhancement (negative mode) makes the image closer to the prompt: minimise the distance.
# Attack (positive mode) makes it drift away: minimise the negated distance.
LOSS_SIGN: dict[Mode, float] = {mode: rules.loss_sign for mode, rules in MODE_RULES.items()}


def spherical_distance(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """``2 * arcsin(||x - y|| / 2) ** 2`` of L2-normalised ``x`` and ``y`` along the last dim.

    ``x`` (B, E) and ``y`` (B, E) or (1, E) broadcast; returns (B,). Values lie in [0, pi^2 / 2].
    """
    if x.shape[-1] != y.shape[-1]:
        raise ValueError(f"expected embeddings of equal width, got {x.shape[-1]} and {y.shape[-1]}")
    x = torch.nn.functional.normalize(x, dim=-1)
    y = torch.nn.functional.normalize(y.to(x.dtype), dim=-1)
    half_chord = (x - y).norm(dim=-1).div(2).clamp(max=1.0)
    return half_chord.arcsin().pow(2).mul(2)


def loss_sign(mode: Mode) -> float:
    """+1 for enhancement (minimise the distance), -1 for attack (maximise it)."""
    if mode not in LOSS_SIGN:
        raise ValueError(f"expected mode in {tuple(LOSS_SIGN)}, got {mode!r}")
    return LOSS_SIGN[mode]


def objective(
    image_embeddings: torch.Tensor, prompt_embedding: torch.Tensor, mode: Mode
) -> torch.Tensor:
    """Per-image loss to minimise, (B,): the signed spherical distance to the prompt."""
    return loss_sign(mode) * spherical_distance(image_embeddings, prompt_embedding)


def distance(loss: float, mode: Mode) -> float:
    """The spherical distance behind a recorded (signed) loss: one sign in both modes, so a
    report reads "distance 0.41 -> 0.47" in attack mode where the losses are -0.41 -> -0.47."""
    return loss_sign(mode) * loss
