"""Scoring discrete choices with full, gradient-free sampling, and generating images from texts."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from .losses import objective
from .protocols import DiffusionBackend, ImageTextScorer
from .space import MODE_RULES, SearchSpace
from .text_windows import concat_conditionings

# Called after each batch with (choice indices, seeds, images (n, 3, H, W), losses (n,)).
BatchHook = Callable[[list[int], list[int], torch.Tensor, torch.Tensor], None]


def condition_pair(
    space: SearchSpace, optimized: torch.Tensor, fixed: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """(positive, negative) conditioning: the optimized text is the negative prompt in
    ``negative`` mode and the positive prompt in ``positive`` mode (``MODE_RULES``)."""
    return MODE_RULES[space.mode].pair(optimized, fixed)


def fixed_text(space: SearchSpace, negative_prompt: str = "") -> str:
    """The text that is not optimized: the user's prompt (negative mode) or the fixed negative
    prompt (positive mode)."""
    return MODE_RULES[space.mode].fixed(space.prompt, negative_prompt)


@torch.no_grad()
def generate_images(
    backend: DiffusionBackend,
    positives: Sequence[str],
    negatives: Sequence[str],
    seeds: Sequence[int],
    batch_size: int = 8,
) -> torch.Tensor:
    """Images ``(N, 3, H, W)`` of N (positive, negative, seed) triples; full sampling, no
    gradient (the contract is on the function)."""
    if not len(positives) == len(negatives) == len(seeds):
        raise ValueError(
            f"expected equal numbers of positives, negatives and seeds, got "
            f"{len(positives)}, {len(negatives)}, {len(seeds)}"
        )
    if batch_size < 1:
        raise ValueError(f"expected batch_size >= 1, got {batch_size}")
    cache: dict[str, torch.Tensor] = {}

    def encode(text: str) -> torch.Tensor:
        if text not in cache:
            cache[text] = backend.encode_text([text])
        return cache[text]

    steps = len(backend.sigmas) - 1
    out = []
    for lo in range(0, len(seeds), batch_size):
        hi = min(lo + batch_size, len(seeds))
        pos = concat_conditionings([encode(t) for t in positives[lo:hi]])
        neg = concat_conditionings([encode(t) for t in negatives[lo:hi]])
        batch_seeds = [int(s) for s in seeds[lo:hi]]
        latents = backend.sample(backend.noise(batch_seeds), pos, neg, steps, seeds=batch_seeds)
        out.append(backend.decode(latents))
    return torch.cat(out)


@torch.no_grad()
def score_choices(
    backend: DiffusionBackend,
    scorer: ImageTextScorer,
    space: SearchSpace,
    choices: Sequence[Sequence[int]],
    seeds: Sequence[int],
    prompt_embedding: torch.Tensor,
    batch_size: int = 8,
    *,
    negative_prompt: str = "",
    on_batch: BatchHook | None = None,
) -> torch.Tensor:
    """Losses ``(len(choices), len(seeds))`` of each choice on each seed, full sampling, no grad.

    Choice x seed pairs are sampled ``batch_size`` at a time. ``negative_prompt`` is the fixed
    negative prompt in positive (attack) mode. ``on_batch`` sees every batch's images and losses.
    Nothing is charged to a budget here: ``SearchRun.evaluate`` spends evaluations (and calls
    this), the held-out comparison and the benchmarks only score.
    """
    choices = [space.check_choice(c) for c in choices]
    seeds = list(seeds)
    if not seeds:
        raise ValueError("expected at least one seed, got none")
    pairs = [(c, s) for c in range(len(choices)) for s in range(len(seeds))]
    texts = [space.render(choices[c]) for c, _ in pairs]
    positives, negatives = MODE_RULES[space.mode].pair(
        texts, [fixed_text(space, negative_prompt)] * len(pairs)
    )
    losses = torch.zeros(len(choices), len(seeds), dtype=torch.float64)
    target = prompt_embedding.detach()
    for lo in range(0, len(pairs), batch_size):
        chunk = pairs[lo : lo + batch_size]
        images = generate_images(
            backend,
            positives[lo : lo + batch_size],
            negatives[lo : lo + batch_size],
            [seeds[s] for _, s in chunk],
            batch_size,
        )
        values = objective(scorer.embed_images(images), target, space.mode)
        for (c, s), v in zip(chunk, values.tolist(), strict=True):
            losses[c, s] = v
        if on_batch is not None:
            on_batch([c for c, _ in chunk], [seeds[s] for _, s in chunk], images, values.detach())
    return losses
