"""Text gradients through the sampler: the shortcut gradient of DPO-Diff and the full one.

Shortcut (Wang et al., 2024, sec. 4.2): sample without gradient from pure noise down to step
``t``, then run ``K`` denoising steps with gradient, take the clean-latent estimate of the last
prediction, decode and score. Activation memory is that of ``K`` model calls, whatever the number
of sampling steps. The full gradient backpropagates through every step from the noise.

Steps with gradient are Euler steps in sigma form, ``x_next = x0 + sigma_next * (x - x0) / sigma``
(the deterministic DDIM step), using the backend's guided ``denoise``, whatever the sampler: the
full gradient is that of an Euler sampler from the host's starting latent (with the ``euler``
sampler its images are KSampler's); the shortcut's no-gradient prefix uses the chosen sampler.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

import torch

from .protocols import DiffusionBackend

GradientMode = Literal["shortcut", "full"]
StepMode = Literal["walk", "random"]
STEP_MODES: tuple[StepMode, ...] = ("walk", "random")


def euler_step(x: torch.Tensor, x0: torch.Tensor, sigma: float, sigma_next: float) -> torch.Tensor:
    """One deterministic step from ``sigma`` to ``sigma_next`` given the clean estimate ``x0``."""
    return x0 + (sigma_next / sigma) * (x - x0)


def initial_latent(backend: DiffusionBackend, noise: torch.Tensor) -> torch.Tensor:
    """The latent at step 0, where the host's sampler starts (the backend's rule)."""
    return backend.initial_latent(noise)


@torch.no_grad()
def latent_at_step(
    backend: DiffusionBackend,
    noise: torch.Tensor,
    positive: torch.Tensor,
    negative: torch.Tensor,
    step: int,
    seeds: Sequence[int] | None = None,
) -> torch.Tensor:
    """Latent at ``sigmas[step]``, sampled from pure noise WITHOUT gradient (detached).

    ``seeds`` (those of ``noise``) seed the noise that ancestral/SDE samplers draw on the way,
    so the prefix equals KSampler's first ``step`` steps for the same seeds."""
    if step == 0:
        return initial_latent(backend, noise).detach()
    return backend.sample(noise, positive.detach(), negative.detach(), step, seeds=seeds)


def images_with_gradient(
    backend: DiffusionBackend,
    noise: torch.Tensor,
    positive: torch.Tensor,
    negative: torch.Tensor,
    start_step: int,
    grad_steps: int = 1,
    seeds: Sequence[int] | None = None,
) -> torch.Tensor:
    """Images ``(B, 3, H, W)`` whose graph covers ``grad_steps`` model calls from ``start_step``.

    ``start_step = t, grad_steps = K`` is the shortcut gradient; ``start_step = 0, grad_steps =
    steps`` is the full gradient. The image is the decoded x0 estimate of the last model call.
    """
    sigmas = backend.sigmas
    steps = len(sigmas) - 1
    if grad_steps < 1 or not 0 <= start_step or start_step + grad_steps > steps:
        raise ValueError(
            f"expected 0 <= start_step, 1 <= grad_steps, start_step + grad_steps <= {steps}, "
            f"got start_step={start_step}, grad_steps={grad_steps}"
        )
    x = latent_at_step(backend, noise, positive, negative, start_step, seeds)
    with torch.enable_grad():
        x0 = x
        for i in range(start_step, start_step + grad_steps):
            sigma = float(sigmas[i])
            x0 = backend.denoise(x, sigma, positive, negative)
            if i + 1 < start_step + grad_steps:
                x = euler_step(x, x0, sigma, float(sigmas[i + 1]))
        return backend.decode(x0)


def step_schedule(
    steps: int,
    iterations: int,
    start: float = 0.3,
    end: float = 0.48,
    repeats: int = 2,
    mode: StepMode = "walk",
    rng: random.Random | None = None,
) -> list[int]:
    """Step index ``t`` for each gradient iteration.

    ``start`` and ``end`` are fractions of ``steps`` (0.3 and 0.48 of 50 steps are steps 15 and 24,
    the reference's walk). ``walk`` visits each step of the range ``repeats`` times in order and
    cycles; ``random`` draws uniformly from the range.
    """
    if mode not in STEP_MODES:
        raise ValueError(f"expected a step mode in {STEP_MODES}, got {mode!r}")
    if not 0.0 <= start <= end < 1.0:
        raise ValueError(f"expected 0 <= start <= end < 1, got start={start}, end={end}")
    if repeats < 1:
        raise ValueError(f"expected repeats >= 1, got {repeats}")
    first = min(round(start * steps), steps - 1)
    last = min(max(round(end * steps), first), steps - 1)
    values = list(range(first, last + 1))
    if mode == "random":
        rng = rng or random.Random(0)
        return [rng.choice(values) for _ in range(iterations)]
    walk = [v for v in values for _ in range(repeats)]
    return [walk[i % len(walk)] for i in range(iterations)]


ImagesFn = Callable[
    [DiffusionBackend, torch.Tensor, torch.Tensor, torch.Tensor, int, int, "Sequence[int] | None"],
    torch.Tensor,
]  # (backend, noise, positive, negative, step, grad_steps, seeds) -> images with a graph


def _shortcut(
    backend: DiffusionBackend, noise: torch.Tensor, positive: torch.Tensor,
    negative: torch.Tensor, step: int, grad_steps: int, seeds: Sequence[int] | None,
) -> torch.Tensor:  # fmt: skip
    k = min(grad_steps, len(backend.sigmas) - 1 - step)
    return images_with_gradient(backend, noise, positive, negative, step, k, seeds)


def _full(
    backend: DiffusionBackend, noise: torch.Tensor, positive: torch.Tensor,
    negative: torch.Tensor, step: int, grad_steps: int, seeds: Sequence[int] | None,
) -> torch.Tensor:  # fmt: skip
    return images_with_gradient(backend, noise, positive, negative, 0, len(backend.sigmas) - 1)


@dataclass(frozen=True)
class GradientKind:
    description: str
    images: ImagesFn


GRADIENT_MODES: dict[GradientMode, GradientKind] = {
    "shortcut": GradientKind(
        "no-gradient sampling to step t, then grad_steps model calls with gradient (the paper)",
        _shortcut,
    ),
    "full": GradientKind(
        "backpropagation through every step from the starting latent, Euler steps", _full
    ),
}


def gradient_images(
    mode: GradientMode,
    backend: DiffusionBackend,
    noise: torch.Tensor,
    positive: torch.Tensor,
    negative: torch.Tensor,
    step: int,
    grad_steps: int = 1,
    seeds: Sequence[int] | None = None,
) -> torch.Tensor:
    """Dispatch on the gradient mode; ``step`` and ``grad_steps`` are ignored by ``full``."""
    if mode not in GRADIENT_MODES:
        raise ValueError(f"expected a gradient mode in {tuple(GRADIENT_MODES)}, got {mode!r}")
    return GRADIENT_MODES[mode].images(backend, noise, positive, negative, step, grad_steps, seeds)
