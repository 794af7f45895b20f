"""Evolutionary prompt optimization (EPO): a genetic search that never re-evaluates a choice."""

from __future__ import annotations

import logging
import random
from collections.abc import Collection, Sequence

from .config import EPOConfig
from .record import Candidate
from .run import Phase, SearchRun
from .sampling import MAX_TRIES_PER_SAMPLE, Choice, Sampler, fill_unseen, sample_unique
from .space import SearchSpace

log = logging.getLogger(__name__)


def mutate(
    choice: Sequence[int], sizes: Sequence[int], probability: float, rng: random.Random
) -> Choice:
    """Resample each gene uniformly with ``probability``."""
    return tuple(
        rng.randrange(n) if rng.random() < probability else c
        for c, n in zip(choice, sizes, strict=True)
    )


def crossover(a: Sequence[int], b: Sequence[int], rng: random.Random) -> Choice:
    """Uniform crossover: each gene from either parent with probability 1/2."""
    return tuple(x if rng.random() < 0.5 else y for x, y in zip(a, b, strict=True))


def next_generation(
    parents: Sequence[Choice],
    space: SearchSpace,
    config: EPOConfig,
    rng: random.Random,
    seen: Collection[Choice],
) -> list[Choice]:
    """``mutations`` mutants and ``crossovers`` crosses of ``parents``, all new and distinct.

    A child that was already seen is redrawn; after many failed draws the slot is filled with a
    uniformly drawn unseen choice. Fewer children come back only when the space is exhausted.
    """
    taken = set(seen)
    children: list[Choice] = []
    plan = ["mutation"] * config.mutations + ["crossover"] * config.crossovers
    for kind in plan:
        for _ in range(MAX_TRIES_PER_SAMPLE):
            if kind == "mutation":
                child = mutate(rng.choice(parents), space.sizes, config.mutation_probability, rng)
            else:
                child = crossover(rng.choice(parents), rng.choice(parents), rng)
            if child not in taken:
                break
        else:
            filler = fill_unseen(space, 1, rng, taken)
            if not filler:
                break
            child = filler[0]
        taken.add(child)
        children.append(child)
    return children


def evolve(
    run: SearchRun,
    initial: Sampler,
    config: EPOConfig | None = None,
    first: Sequence[tuple[Choice, Phase]] = (),
) -> list[Candidate]:
    """EPO within the run's budget: a first population from ``initial``, then generations.

    Generation 0 evaluates ``population`` distinct choices: ``first`` (choice, phase) pairs
    (the original, the learned argmax), then choices drawn from ``initial``; each later
    generation keeps the ``keep`` best of everything this search evaluated and evaluates
    ``mutations + crossovers`` new children. Stops when the budget is spent.
    """
    config = config or run.config.epo
    space = run.space
    count = min(config.population, run.remaining)
    opening = [(c, phase) for c, phase in first if c not in run.seen][:count]
    taken = run.seen | {c for c, _ in opening}
    drawn = sample_unique(space, initial, count - len(opening), run.rng, taken)
    choices = [c for c, _ in opening] + drawn
    pool = run.evaluate(choices, [p for _, p in opening] + ["initial"] * len(drawn), 0)
    generation = 1
    while run.remaining > 0:
        parents = [c.choice for c in sorted(pool, key=lambda c: c.mean)[: config.keep]]
        children = next_generation(parents, space, config, run.rng, run.seen)
        if not children:
            log.info("the search space is exhausted after %d evaluations", len(run.candidates))
            break
        pool += run.evaluate(children, "evolution", generation)
        generation += 1
    return pool
