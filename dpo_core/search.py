"""The public entry point: ``optimize(backend, scorer, space, config)`` and its method registry.

Every method spends the same budget, ``config.evaluations`` evaluations (one evaluation: a
candidate sampled fully on every search seed), and evaluates the user's original first, so
their records compare directly and every method can answer "keep what you have":

* ``random``: the original, then uniform choices, no repeats (the baseline);
* ``epo``: evolutionary search whose first population is the original and uniform choices;
* ``gpo``: gradient search of the slot logits, charged its model calls
  (``RunRecord.gradient_evaluations``), then the original, the learned argmax and samples from
  the learned distribution for the rest of the budget, keeping the best ("GPO + sampling");
* ``hybrid``: the same gradient phase, then EPO whose first population is the original, the
  learned argmax and samples from the learned distribution (DPO-Diff's main method).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence

import torch

from .config import SearchConfig
from .evolution import evolve
from .gpo import learn_distribution
from .protocols import DiffusionBackend, ImageTextScorer
from .record import RunRecord
from .run import Callback, Phase, SearchRun, StopSearch
from .sampling import (
    Choice,
    Sampler,
    distribution_sampler,
    most_likely,
    sample_unique,
    uniform_sampler,
)
from .space import SearchSpace

log = logging.getLogger(__name__)

# phases of the candidates every method starts with
ORIGINAL: Phase = "original"
ARGMAX: Phase = "argmax"


def opening(run: SearchRun, learned: bool) -> list[tuple[Choice, Phase]]:
    """The first candidates: the user's original, then (after a gradient phase) the argmax of
    the learned distribution when it differs."""
    first = [(run.space.original_choice(), ORIGINAL)]
    if learned and run.logits is not None:
        argmax = most_likely(run.logits)
        if argmax != first[0][0]:
            first.append((argmax, ARGMAX))
    return first


def sample_search(run: SearchRun, sampler: Sampler, phase: Phase, learned: bool) -> None:
    """The opening, then distinct draws from ``sampler``, one population at a time."""
    population = run.config.epo.population
    pending = opening(run, learned)
    generation = 0
    while run.remaining > 0:
        count = min(population, run.remaining)
        first = [(c, p) for c, p in pending[:count] if c not in run.seen]
        pending = pending[count:]
        taken = run.seen | {c for c, _ in first}
        drawn = sample_unique(run.space, sampler, count - len(first), run.rng, taken)
        if not first and not drawn:
            break
        run.evaluate([c for c, _ in first] + drawn, [p for _, p in first] + [phase] * len(drawn),
                     generation)  # fmt: skip
        generation += 1


def random_search(run: SearchRun) -> None:
    """The original, then uniformly drawn distinct choices."""
    sample_search(run, uniform_sampler(run.space), "random", learned=False)


def gradient_phase(run: SearchRun) -> tuple[tuple[float, ...], ...]:
    """GPO on the run's search seeds; logits and loss curve (collected by ``learn_distribution``)
    are kept in the run as they come, and the phase's model calls are charged to the budget."""
    config = run.config.gpo

    def on_iteration(
        i: int, curve: tuple[float, ...], logits: tuple[tuple[float, ...], ...],
        preview: torch.Tensor,
    ) -> None:  # fmt: skip
        run.logits, run.loss_curve = logits, curve
        run.notify("gradient", i + 1, config.iterations, loss=curve[-1], preview=preview)

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
    run.logits, run.loss_curve = result.logits, result.loss_curve
    run.gradient_evaluations = round(result.cost)
    return result.logits


def gpo_search(run: SearchRun) -> None:
    """GPO + sampling: learn the distribution, then the original, its argmax and distinct
    samples from it."""
    logits = gradient_phase(run)
    sample_search(run, distribution_sampler(run.space, logits), "sampling", learned=True)


def epo_search(run: SearchRun) -> None:
    """EPO from the original and uniformly drawn choices."""
    evolve(run, uniform_sampler(run.space), first=opening(run, learned=False))


def hybrid_search(run: SearchRun) -> None:
    """GPO, then EPO whose first population is the original, the learned argmax and samples
    from the learned distribution (a distribution given to ``optimize`` is used as it is,
    without a new gradient phase; its charge comes with it)."""
    logits = run.logits if run.logits is not None else gradient_phase(run)
    evolve(run, distribution_sampler(run.space, logits), first=opening(run, learned=True))


METHODS: dict[str, Callable[[SearchRun], None]] = {
    "random": random_search,
    "epo": epo_search,
    "gpo": gpo_search,
    "hybrid": hybrid_search,
}


def _stopped_by_exception(run: SearchRun) -> None:
    """An exception ended the run (ComfyUI's Cancel raises inside the sampler, out of reach of
    the callback): the callback still gets the record so far, marked ``stopped_early``, so the
    record saved last says the run did not finish; then the exception goes on."""
    run.stopped_early = True
    if run.callback is None:
        return
    try:
        run.notify("stopped", run.spent, run.config.evaluations)
    except Exception:  # e.g. the callback raising the same Cancel again: the first one wins
        log.debug("the callback raised while a stopped run was being reported", exc_info=True)


def optimize(
    backend: DiffusionBackend,
    scorer: ImageTextScorer,
    space: SearchSpace,
    config: SearchConfig,
    *,
    callback: Callback | None = None,
    logits: Sequence[Sequence[float]] | None = None,
    gradient_evaluations: int = 0,
) -> RunRecord:
    """Search ``space`` with ``config.method``; returns the record of every evaluation.

    ``callback(progress)`` is called after every gradient iteration and every evaluated batch
    (see ``dpo_core.run.Callback``); returning False or raising ``StopSearch`` ends the run early
    and the returned record still holds everything evaluated so far. The held-out comparison is
    skipped when the run was stopped. ``logits`` (one row per slot, e.g. a previous GPO run's)
    make ``hybrid`` start its evolution from that distribution instead of learning one;
    ``gradient_evaluations`` is what learning it was charged (that record's
    ``gradient_evaluations``), so the hybrid's total stays within ``config.evaluations``.
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
        run.gradient_evaluations = int(gradient_evaluations)
    start = time.perf_counter()
    try:
        METHODS[config.method](run)
    except StopSearch as stop:
        log.info("%s", stop)
        run.stopped_early = True
    except BaseException:
        _stopped_by_exception(run)
        raise
    if not run.stopped_early:
        try:
            run.score_holdout()
        except BaseException:
            _stopped_by_exception(run)
            raise
    run.timed("total", time.perf_counter() - start)
    record = run.snapshot()
    if callback is not None and not run.stopped_early:
        try:
            run.notify("done", run.spent, config.evaluations, holdout_images=run.holdout_images)
        except StopSearch:
            pass
    return record
