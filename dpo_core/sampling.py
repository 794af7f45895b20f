"""Drawing discrete choices: uniformly, or from a learned per-slot distribution, without repeats."""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Callable, Collection, Sequence

from .space import SearchSpace

Choice = tuple[int, ...]
Sampler = Callable[[random.Random], Choice]

MAX_TRIES_PER_SAMPLE = 200  # draws before falling back to enumerating unseen choices


def uniform_sampler(space: SearchSpace) -> Sampler:
    """Every option of every slot equally likely."""
    sizes = space.sizes
    return lambda rng: tuple(rng.randrange(n) for n in sizes)


def softmax_rows(logits: Sequence[Sequence[float]]) -> list[list[float]]:
    out = []
    for row in logits:
        top = max(row)
        e = [math.exp(v - top) for v in row]
        total = sum(e)
        out.append([v / total for v in e])
    return out


def most_likely(logits: Sequence[Sequence[float]]) -> Choice:
    """The argmax of every slot's logits (the first option on ties)."""
    return tuple(max(range(len(row)), key=row.__getitem__) for row in logits)


def distribution_sampler(space: SearchSpace, logits: Sequence[Sequence[float]]) -> Sampler:
    """Each slot sampled independently from ``softmax(logits[slot])`` (the learned distribution)."""
    if tuple(len(r) for r in logits) != space.sizes:
        raise ValueError(
            f"expected logits of sizes {space.sizes}, got {tuple(len(r) for r in logits)}"
        )
    probs = softmax_rows(logits)
    options = [range(n) for n in space.sizes]
    return lambda rng: tuple(
        rng.choices(o, weights=p)[0] for o, p in zip(options, probs, strict=True)
    )


def sample_unique(
    space: SearchSpace,
    sampler: Sampler,
    count: int,
    rng: random.Random,
    exclude: Collection[Choice] = (),
) -> list[Choice]:
    """Up to ``count`` distinct choices from ``sampler`` that are not in ``exclude``.

    When the sampler keeps repeating itself (a peaked distribution, a nearly exhausted space)
    the rest is filled with uniformly drawn unseen choices; fewer are returned only when the
    space has fewer unseen choices left.
    """
    seen = set(exclude)
    out: list[Choice] = []
    tries = 0
    while len(out) < count and tries < MAX_TRIES_PER_SAMPLE * max(count, 1):
        tries += 1
        choice = sampler(rng)
        if choice not in seen:
            seen.add(choice)
            out.append(choice)
    if len(out) < count:
        out.extend(fill_unseen(space, count - len(out), rng, seen))
    return out


def fill_unseen(
    space: SearchSpace, count: int, rng: random.Random, seen: Collection[Choice]
) -> list[Choice]:
    """Up to ``count`` uniformly drawn choices not in ``seen`` (enumerates small spaces)."""
    if space.num_choices <= 200_000:
        unseen = [c for c in itertools.product(*(range(n) for n in space.sizes)) if c not in seen]
        rng.shuffle(unseen)
        return unseen[:count]
    taken = set(seen)
    out: list[Choice] = []
    draw = uniform_sampler(space)
    while len(out) < count:  # a huge space: uniform draws almost never repeat
        choice = draw(rng)
        if choice not in taken:
            taken.add(choice)
            out.append(choice)
    return out
