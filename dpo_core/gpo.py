"""Gradient prompt optimization (GPO): learn per-slot logits by the (shortcut) text gradient."""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

from .config import GPOConfig
from .evaluation import condition_pair, fixed_text
from .losses import objective
from .optimizers import OPTIMIZERS
from .protocols import DiffusionBackend, ImageTextScorer
from .relaxation import CandidateTokens, encode_relaxed, gumbel_softmax, tokenize_candidates
from .shortcut import GradientMode, gradient_images, step_schedule
from .space import SearchSpace

# on_iteration(iteration index, loss curve so far, current logits as rows, preview); may raise
# StopSearch. The curve is collected here only (its last value is this iteration's loss); the
# hook keeps it. preview: the image the iteration scored on its first seed, (1, 3, H, W) on the
# CPU: the decoded clean-latent estimate of the sampled (argmax-layout) text at the shortcut step.
IterationHook = Callable[
    [int, tuple[float, ...], tuple[tuple[float, ...], ...], torch.Tensor], None
]


@dataclass(frozen=True)
class GPOResult:
    logits: tuple[tuple[float, ...], ...]  # one row per slot
    loss_curve: tuple[float, ...]  # relaxed loss per iteration
    cost: float = 0.0  # model calls spent, in evaluations (see gradient_cost)


def gradient_cost(model_calls: Sequence[int], seeds_used: Sequence[int], steps: int,
                  num_seeds: int) -> float:  # fmt: skip
    """The gradient phase's price in evaluations: its model calls (``model_calls[i]`` on
    ``seeds_used[i]`` images at iteration ``i``) over those of one evaluation (``steps`` calls
    on each of ``num_seeds`` seeds). Backward passes are not counted, as in the reference's
    accounting: 20 iterations at a mean step of 19.5 of 50 cost about 8 evaluations."""
    calls = sum(c * n for c, n in zip(model_calls, seeds_used, strict=True))
    return calls / (steps * num_seeds)


def initial_logits(space: SearchSpace, config: GPOConfig) -> list[torch.Tensor]:
    """``initial_logit`` on option 0 (the user's original), 0 elsewhere; one leaf per slot."""
    out = []
    for n in space.sizes:
        a = torch.zeros(n, dtype=torch.float32)
        a[0] = config.initial_logit
        out.append(a.requires_grad_(True))
    return out


def logits_rows(logits: Sequence[torch.Tensor]) -> tuple[tuple[float, ...], ...]:
    return tuple(tuple(float(v) for v in a.detach().cpu().tolist()) for a in logits)


def relaxed_loss(
    backend: DiffusionBackend,
    scorer: ImageTextScorer,
    space: SearchSpace,
    weights: Sequence[torch.Tensor],
    noise: torch.Tensor,
    fixed: torch.Tensor,
    prompt_embedding: torch.Tensor,
    *,
    gradient: GradientMode = "shortcut",
    step: int = 0,
    grad_steps: int = 1,
    candidates: CandidateTokens | None = None,
    seeds: Sequence[int] | None = None,
) -> torch.Tensor:
    """Mean loss over the noise batch of a relaxed choice; differentiable w.r.t. ``weights``.

    ``fixed`` is the conditioning ``(1, T, D)`` of the text that is not optimized; ``seeds``
    are those of ``noise`` (for samplers that draw noise while sampling).
    """
    return relaxed_loss_and_images(
        backend, scorer, space, weights, noise, fixed, prompt_embedding, gradient=gradient,
        step=step, grad_steps=grad_steps, candidates=candidates, seeds=seeds,
    )[0]  # fmt: skip


@torch.enable_grad()
def relaxed_loss_and_images(
    backend: DiffusionBackend,
    scorer: ImageTextScorer,
    space: SearchSpace,
    weights: Sequence[torch.Tensor],
    noise: torch.Tensor,
    fixed: torch.Tensor,
    prompt_embedding: torch.Tensor,
    *,
    gradient: GradientMode = "shortcut",
    step: int = 0,
    grad_steps: int = 1,
    candidates: CandidateTokens | None = None,
    seeds: Sequence[int] | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """``relaxed_loss`` and the images it scored ``(B, 3, H, W)`` (part of the graph); the
    gradient contract is on the function: autograd is on, whatever the caller's mode."""
    batch = noise.shape[0]
    optimized = encode_relaxed(backend, space, weights, candidates).expand(batch, -1, -1)
    positive, negative = condition_pair(space, optimized, fixed.expand(batch, -1, -1))
    images = gradient_images(gradient, backend, noise, positive, negative, step, grad_steps, seeds)
    loss = objective(scorer.embed_images(images), prompt_embedding, space.mode).mean()
    return loss, images


def learn_distribution(
    backend: DiffusionBackend,
    scorer: ImageTextScorer,
    space: SearchSpace,
    config: GPOConfig,
    seeds: Sequence[int],
    prompt_embedding: torch.Tensor,
    *,
    generator: torch.Generator,
    negative_prompt: str = "",
    on_iteration: IterationHook | None = None,
) -> GPOResult:
    """Run ``config.iterations`` gradient steps on the slot logits (Wang et al., 2024, sec. 4)."""
    if not seeds:
        raise ValueError("expected at least one search seed, got none")
    logits = initial_logits(space, config)
    optimizer = OPTIMIZERS[config.optimizer].make(logits, config.learning_rate, config.momentum)
    candidates = tokenize_candidates(backend, space)
    with torch.no_grad():
        fixed = backend.encode_text([fixed_text(space, negative_prompt)])
    steps = len(backend.sigmas) - 1
    schedule = step_schedule(
        steps,
        config.iterations,
        config.step_start_fraction,
        config.step_end_fraction,
        config.step_repeats,
        config.step_mode,
        rng=_python_rng(generator),
    )
    per_iteration = config.seeds_per_iteration or len(seeds)
    curve: list[float] = []
    calls: list[int] = []
    for i, step in enumerate(schedule):
        batch_seeds = [seeds[(i * per_iteration + j) % len(seeds)] for j in range(per_iteration)]
        optimizer.zero_grad(set_to_none=True)
        weights = gumbel_softmax(logits, config.temperature, config.hard, generator)
        loss, images = relaxed_loss_and_images(
            backend,
            scorer,
            space,
            weights,
            backend.noise(batch_seeds),
            fixed,
            prompt_embedding.detach(),
            gradient=config.gradient,
            step=step,
            grad_steps=config.grad_steps,
            candidates=candidates,
            seeds=batch_seeds,
        )
        if loss.requires_grad:
            loss.backward()
        with_grad = [a for a in logits if a.grad is not None]  # empty-argmax slots get none
        if config.grad_clip > 0 and with_grad:
            torch.nn.utils.clip_grad_value_(with_grad, config.grad_clip)
        optimizer.step()
        with torch.no_grad():
            for a in logits:
                a.clamp_(config.logit_min, config.logit_max)
        curve.append(float(loss.detach()))
        calls.append(steps if config.gradient == "full" else min(step + config.grad_steps, steps))
        if on_iteration is not None:
            on_iteration(i, tuple(curve), logits_rows(logits), images[:1].detach().cpu())
    cost = gradient_cost(calls, [per_iteration] * len(calls), steps, len(seeds))
    return GPOResult(logits=logits_rows(logits), loss_curve=tuple(curve), cost=cost)


def _python_rng(generator: torch.Generator) -> random.Random:
    seed = int(torch.randint(0, 2**31 - 1, (1,), generator=generator))
    return random.Random(seed)
