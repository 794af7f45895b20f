"""State of one search run: the evaluated candidates, the budget, progress and early stopping."""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any, Literal, NotRequired, TypedDict, get_args

import torch

from .config import SearchConfig
from .evaluation import score_choices
from .protocols import DiffusionBackend, ImageTextScorer
from .record import Candidate, HoldoutComparison, RunRecord, best_of
from .space import SearchSpace

log = logging.getLogger(__name__)

Phase = Literal[
    "gradient", "original", "argmax", "initial", "evolution", "random", "sampling", "holdout",
    "done", "stopped",
]
# what proposed a candidate, and "gradient"/"done"; "stopped": an exception (Cancel) ended it
PHASES: tuple[Phase, ...] = get_args(Phase)


class Progress(TypedDict):
    """What the callback sees after every gradient iteration and every evaluated batch."""

    phase: Phase
    iteration: int  # gradient: the iteration; holdout: images scored; else evaluations spent
    total: int  # gradient: the iterations; holdout: images to score; else the budget
    best_loss: float | None  # the best candidate's mean loss so far (signed, as recorded)
    best_text: str | None
    image: torch.Tensor | None  # the best candidate's image on the first search seed (1, 3, H, W)
    record: RunRecord  # everything so far
    loss: NotRequired[float]  # gradient: this iteration's relaxed loss
    preview: NotRequired[torch.Tensor]  # gradient: the image it scored (x0 estimate, first seed)
    holdout_images: NotRequired[torch.Tensor | None]  # done: (2, seeds, 3, H, W), original, best


# callback(progress) -> False to stop (or raise StopSearch)
Callback = Callable[[Progress], "bool | None"]


class StopSearch(Exception):
    """Raised (by a callback or by the run) to end a search early; what was evaluated is kept."""


class SearchRun:
    """Mutable bookkeeping of a run; ``snapshot()`` gives the frozen ``RunRecord`` so far."""

    def __init__(
        self,
        backend: DiffusionBackend,
        scorer: ImageTextScorer,
        space: SearchSpace,
        config: SearchConfig,
        callback: Callback | None = None,
    ) -> None:
        self.backend, self.scorer, self.space, self.config = backend, scorer, space, config
        self.callback = callback
        self.rng = random.Random(config.seed)
        self.generator = torch.Generator().manual_seed(config.seed)
        with torch.no_grad():
            self.prompt_embedding = scorer.embed_texts([space.prompt]).detach()
        self.candidates: list[Candidate] = []
        # the best candidate's image on the first search seed, by its choice (only the best's
        # is kept; ``best_image`` looks it up, so it always belongs to ``best``)
        self.first_seed_images: dict[tuple[int, ...], torch.Tensor] = {}
        self.logits: tuple[tuple[float, ...], ...] | None = None
        self.loss_curve: tuple[float, ...] = ()  # the gradient phase's, as it comes
        self.gradient_evaluations = 0  # the gradient phase's charge against the budget
        self.holdout: HoldoutComparison | None = None
        # held-out images, (2, seeds, 3, H, W): the original's row, then the best's (kept so
        # that a before/after grid need not generate them again)
        self.holdout_images: torch.Tensor | None = None
        self.timings: dict[str, float] = {}
        self.stopped_early = False

    # --- what the candidates tell ----------------------------------------------------------
    @property
    def best(self) -> Candidate | None:
        """The candidate of lowest mean loss so far (the first of equals)."""
        return best_of(self.candidates)

    @property
    def best_image(self) -> torch.Tensor | None:
        """The best candidate's image on the first search seed ``(1, 3, H, W)``, if kept."""
        best = self.best
        return None if best is None else self.first_seed_images.get(best.choice)

    @property
    def seen(self) -> set[tuple[int, ...]]:
        """Every choice evaluated so far (none is evaluated twice)."""
        return {c.choice for c in self.candidates}

    # --- budget ----------------------------------------------------------------------------
    @property
    def spent(self) -> int:
        """Evaluations spent so far: candidates plus the gradient phase's charge."""
        return self.gradient_evaluations + len(self.candidates)

    @property
    def remaining(self) -> int:
        return self.config.evaluations - self.spent

    def timed(self, name: str, seconds: float) -> None:
        self.timings[name] = self.timings.get(name, 0.0) + seconds

    # --- evaluation ------------------------------------------------------------------------
    def evaluate(
        self,
        choices: Sequence[Sequence[int]],
        phase: Phase | Sequence[Phase],
        generation: int = 0,
    ) -> list[Candidate]:
        """Evaluate new choices on the search seeds (at most the remaining budget).

        ``phase`` names what proposed them, one name for all or one per choice. Notifies the
        callback after every backend batch group; raises StopSearch when the callback asks to
        stop, after recording what was already evaluated.
        """
        phases: list[Phase] = [phase] * len(choices) if isinstance(phase, str) else list(phase)
        if len(phases) != len(choices):
            raise ValueError(f"expected one phase per choice, got {len(phases)} for {len(choices)}")
        choices = [self.space.check_choice(c) for c in choices][: max(self.remaining, 0)]
        seen = self.seen
        repeated = [c for c in choices if c in seen]
        if repeated or len(set(choices)) != len(choices):
            raise ValueError(f"expected choices never evaluated before, got repeats {repeated}")
        seeds = list(self.config.search_seeds)
        per_group = max(1, self.config.batch_size // len(seeds))
        out: list[Candidate] = []
        for lo in range(0, len(choices), per_group):
            group = choices[lo : lo + per_group]
            group_phases = phases[lo : lo + per_group]
            images: dict[int, torch.Tensor] = {}

            start = time.perf_counter()
            losses = score_choices(
                self.backend,
                self.scorer,
                self.space,
                group,
                seeds,
                self.prompt_embedding,
                self.config.batch_size,
                negative_prompt=self.config.negative_prompt,
                on_batch=partial(_keep_first_seed, images, seeds[0]),
            )
            self.timed("evaluation", time.perf_counter() - start)
            for j, choice in enumerate(group):
                row = tuple(float(v) for v in losses[j].tolist())
                candidate = Candidate(
                    choice=choice,
                    text=self.space.render(choice),
                    losses=row,
                    phase=group_phases[j],
                    generation=generation,
                )
                self.candidates.append(candidate)
                out.append(candidate)
            best = self.best
            if best is not None and best.choice in group:
                image = images.get(group.index(best.choice))
                self.first_seed_images = {} if image is None else {best.choice: image}
            self.notify(group_phases[-1], self.spent, self.config.evaluations)
        return out

    # --- progress --------------------------------------------------------------------------
    def notify(self, phase: Phase, iteration: int, total: int, **extra: Any) -> None:
        """Call the callback with a ``Progress``; raise StopSearch if it returns False."""
        if self.callback is None:
            return
        best = self.best
        progress: Progress = {
            "phase": phase,
            "iteration": iteration,
            "total": total,
            "best_loss": None if best is None else best.mean,
            "best_text": None if best is None else best.text,
            "image": self.best_image,
            "record": self.snapshot(),
            **extra,  # type: ignore[typeddict-item]  # the NotRequired keys, per phase
        }
        if self.callback(progress) is False:
            raise StopSearch(f"stopped by the callback during {phase} at {iteration}/{total}")

    def snapshot(self) -> RunRecord:
        return RunRecord(
            config=self.config,
            space=self.space,
            candidates=tuple(self.candidates),
            logits=self.logits,
            loss_curve=self.loss_curve,
            gradient_evaluations=self.gradient_evaluations,
            holdout=self.holdout,
            timings=dict(self.timings),
            stopped_early=self.stopped_early,
        )

    # --- the held-out comparison ----------------------------------------------------------
    def score_holdout(self) -> None:
        """Score the best candidate and the user's original on the held-out seeds."""
        best_candidate = self.best
        if best_candidate is None or not self.config.holdout_seeds:
            return
        original = self.space.original_choice()
        best_choice = best_candidate.choice
        choices = [best_choice] if best_choice == original else [best_choice, original]
        start = time.perf_counter()
        kept: dict[tuple[int, int], torch.Tensor] = {}
        total = len(choices) * len(self.config.holdout_seeds)

        def keep(
            indices: list[int], seeds: list[int], images: torch.Tensor, _: torch.Tensor
        ) -> None:
            for j, key in enumerate(zip(indices, seeds, strict=True)):
                kept[key] = images[j].detach().cpu()
            # Held-out scoring is a phase of its own on the progress bar (it samples fully).
            try:
                self.notify("holdout", len(kept), total)
            except StopSearch:
                pass  # the search itself is over; the comparison finishes

        losses = score_choices(
            self.backend,
            self.scorer,
            self.space,
            choices,
            self.config.holdout_seeds,
            self.prompt_embedding,
            self.config.batch_size,
            negative_prompt=self.config.negative_prompt,
            on_batch=keep,
        )
        rows = [len(choices) - 1, 0]  # the original's row (the last choice), then the best's
        self.holdout_images = torch.stack(
            [torch.stack([kept[r, s] for s in self.config.holdout_seeds]) for r in rows]
        )
        self.timed("holdout", time.perf_counter() - start)
        best = tuple(float(v) for v in losses[0].tolist())
        orig = tuple(float(v) for v in losses[-1].tolist())
        self.holdout = HoldoutComparison(
            seeds=self.config.holdout_seeds,
            best_losses=best,
            original_losses=orig,
        )
        log.info(
            "held-out loss: best %.4f vs original %.4f (%r)",
            self.holdout.best_mean,
            self.holdout.original_mean,
            best_candidate.text,
        )


def _keep_first_seed(
    store: dict[int, torch.Tensor],
    first_seed: int,
    indices: list[int],
    seeds: list[int],
    images: torch.Tensor,
    _losses: torch.Tensor,
) -> None:
    """Batch hook: keep each choice's image on the first search seed (for previews)."""
    for j, (c, s) in enumerate(zip(indices, seeds, strict=True)):
        if s == first_seed and c not in store:
            store[c] = images[j : j + 1].detach().cpu()
