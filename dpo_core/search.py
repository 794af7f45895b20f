"""The public entry point: ``optimize(backend, scorer, space, config)`` and its method registry.

Every method spends the same budget, ``config.generations * config.epo.population`` evaluations
(a candidate sampled fully on every search seed), so their records compare directly:

* ``random``: uniform choices, no repeats (the baseline every report compares against);
* ``epo``: evolutionary search from a uniform first population;
* ``gpo``: gradient search of the slot logits, then candidates sampled from the learned
  distribution at the full budget, keeping the best ("GPO + sampling");
* ``hybrid``: gradient search, then EPO whose first population is sampled from the learned
  distribution (DPO-Diff's main method).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence

from .config import SearchConfig
from .evolution import evolve
from .gpo import learn_distribution
from .protocols import DiffusionBackend, ImageTextScorer
from .record import RunRecord
from .run import Callback, SearchRun, StopSearch
from .sampling import distribution_sampler, sample_unique, uniform_sampler
from .space import SearchSpace

log = logging.getLogger(__name__)


def random_search(run: SearchRun) -> None:
    """Uniformly drawn distinct choices, one population at a time."""
    population = run.config.epo.population
    generation = 0
    while run.remaining > 0:
        count = min(population, run.remaining)
        batch = sample_unique(run.space, uniform_sampler(run.space), count, run.rng, run.seen)
        if not batch:
            break
        run.evaluate(batch, "random", generation)
        generation += 1


def gradient_phase(run: SearchRun) -> tuple[tuple[float, ...], ...]:
    """GPO on the run's search seeds; logits and loss curve are kept in the run as they come."""
    config = run.config.gpo

    def on_iteration(i: int, loss: float, logits: tuple[tuple[float, ...], ...]) -> None:
        run.logits = logits
        run.loss_curve.append(loss)
        run.report("gradient", i + 1, config.iterations, loss=loss)

    start = time.perf_counter()
    try:
        result = learn_distribution(
            run.backend,
            run.scorer,
            run.space,
            config,
            run.config.search_seeds,
            run.prompt_embedding,
            generator=run.generator,
            negative_prompt=run.config.negative_prompt,
            on_iteration=on_iteration,
        )
    finally:
        run.timed("gradient", time.perf_counter() - start)
    run.logits = result.logits
    return result.logits


def gpo_search(run: SearchRun) -> None:
    """GPO + sampling: learn the distribution, then evaluate distinct samples from it."""
    logits = gradient_phase(run)
    sampler = distribution_sampler(run.space, logits)
    population = run.config.epo.population
    generation = 0
    while run.remaining > 0:
        count = min(population, run.remaining)
        batch = sample_unique(run.space, sampler, count, run.rng, run.seen)
        if not batch:
            break
        run.evaluate(batch, "sampling", generation)
        generation += 1


def epo_search(run: SearchRun) -> None:
    """EPO from a uniformly drawn first population."""
    evolve(run, uniform_sampler(run.space))


def hybrid_search(run: SearchRun) -> None:
    """GPO, then EPO whose first population is sampled from the learned distribution (a
    distribution given to ``optimize`` is used as it is, without a new gradient phase)."""
    logits = run.logits if run.logits is not None else gradient_phase(run)
    evolve(run, distribution_sampler(run.space, logits))


METHODS: dict[str, Callable[[SearchRun], None]] = {
    "random": random_search,
    "epo": epo_search,
    "gpo": gpo_search,
    "hybrid": hybrid_search,
}


def optimize(
    backend: DiffusionBackend,
    scorer: ImageTextScorer,
    space: SearchSpace,
    config: SearchConfig,
    *,
    callback: Callback | None = None,
    logits: Sequence[Sequence[float]] | None = None,
) -> RunRecord:
    """Search ``space`` with ``config.method``; returns the record of every evaluation.

    ``callback(progress)`` is called after every gradient iteration and every evaluated batch
    (see ``dpo_core.run.Callback``); returning False or raising ``StopSearch`` ends the run early
    and the returned record still holds everything evaluated so far. The held-out comparison is
    skipped when the run was stopped. ``logits`` (one row per slot, e.g. a previous GPO run's)
    make ``hybrid`` start its evolution from that distribution instead of learning one.
    """
    if config.method not in METHODS:
        raise ValueError(f"expected a method in {sorted(METHODS)}, got {config.method!r}")
    if not space.slots:
        raise ValueError("expected a search space with at least one slot, got none")
    run = SearchRun(backend, scorer, space, config, callback)
    if logits is not None:
        if config.method != "hybrid":
            raise ValueError(
                f"a learned distribution is used by method 'hybrid', got {config.method!r}"
            )
        if tuple(len(row) for row in logits) != space.sizes:
            raise ValueError(
                f"expected logits with slot sizes {space.sizes}, got {tuple(len(r) for r in logits)}"
            )
        run.logits = tuple(tuple(float(v) for v in row) for row in logits)
    start = time.perf_counter()
    try:
        METHODS[config.method](run)
    except StopSearch as stop:
        log.info("%s", stop)
        run.stopped_early = True
    if not run.stopped_early:
        run.evaluate_holdout()
    run.timed("total", time.perf_counter() - start)
    record = run.snapshot()
    if callback is not None and not run.stopped_early:
        try:
            run.report("done", len(run.candidates), config.budget)
        except StopSearch:
            pass
    return record
