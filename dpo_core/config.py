"""Typed, frozen configurations of a search; every field has a JSON-friendly type."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

from .optimizers import OPTIMIZERS, OptimizerName
from .shortcut import GRADIENT_MODES, STEP_MODES, GradientMode, StepMode

# GPOConfig fields renamed since run record format 1: old name -> new name
RENAMED_GPO_FIELDS = {"step_start": "step_start_fraction", "step_end": "step_end_fraction"}


@dataclass(frozen=True)
class GPOConfig:
    """Gradient prompt optimization. Defaults are the reference's settings."""

    iterations: int = 20
    optimizer: OptimizerName = "rmsprop"
    learning_rate: float = 0.1
    momentum: float = 0.5  # RMSprop/SGD momentum (Adam ignores it)
    grad_clip: float = 0.025  # gradients clipped to [-grad_clip, grad_clip]; 0 turns clipping off
    logit_min: float = 0.0  # logits clamped to [logit_min, logit_max] after every step
    logit_max: float = 3.0
    initial_logit: float = 1.0  # option 0 (the user's original) starts here, other options at 0
    temperature: float = 1.0  # Gumbel-softmax tau
    hard: bool = False  # straight-through one-hot samples instead of soft mixtures
    gradient: GradientMode = "shortcut"  # "full" backpropagates through every sampling step
    grad_steps: int = 1  # K: model calls with gradient in the shortcut (the paper uses 1)
    # the range of the shortcut step t, as fractions of the sampling steps (0.3 and 0.48 of 50:
    # steps 15 to 24); the gradient node's widgets keep the names step_start and step_end
    step_start_fraction: float = 0.3
    step_end_fraction: float = 0.48
    step_repeats: int = 2  # iterations per step value in the "walk" schedule
    step_mode: StepMode = "walk"  # "walk" through the range in order, or "random" draws
    # search seeds per gradient iteration (cycled); 0 = all, the reference's choice: RMSprop's
    # first step moves every logit by about lr / sqrt(1 - alpha) = 1 whatever the gradient's
    # size, so a single seed's noise would move the logits by +-1
    seeds_per_iteration: int = 0

    def __post_init__(self) -> None:
        if self.iterations < 0:
            raise ValueError(f"expected iterations >= 0, got {self.iterations}")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"expected optimizer in {tuple(OPTIMIZERS)}, got {self.optimizer!r}")
        if self.gradient not in GRADIENT_MODES:
            raise ValueError(f"expected gradient in {tuple(GRADIENT_MODES)}, got {self.gradient!r}")
        if self.step_mode not in STEP_MODES:
            raise ValueError(f"expected step_mode in {STEP_MODES}, got {self.step_mode!r}")
        if self.logit_min > self.logit_max:
            raise ValueError(
                f"expected logit_min <= logit_max, got {self.logit_min} > {self.logit_max}"
            )
        if self.temperature <= 0:
            raise ValueError(f"expected a positive temperature, got {self.temperature}")
        if self.grad_steps < 1:
            raise ValueError(f"expected grad_steps >= 1, got {self.grad_steps}")
        if self.seeds_per_iteration < 0:
            raise ValueError(f"expected seeds_per_iteration >= 0, got {self.seeds_per_iteration}")


@dataclass(frozen=True)
class EPOConfig:
    """Evolutionary prompt optimization. Defaults are the reference's settings."""

    population: int = 20  # candidates evaluated per generation (the first one included)
    keep: int = 10  # best genomes that parent the next generation
    mutations: int = 10  # children per generation made by mutation ...
    crossovers: int = 10  # ... and by uniform crossover; mutations + crossovers == population
    mutation_probability: float = 0.1  # each gene resampled uniformly with this probability

    def __post_init__(self) -> None:
        if min(self.population, self.keep) < 1:
            raise ValueError(
                f"expected population and keep >= 1, got {self.population} and {self.keep}"
            )
        if self.mutations < 0 or self.crossovers < 0:
            raise ValueError(
                f"expected mutations, crossovers >= 0, got {self.mutations}, {self.crossovers}"
            )
        if self.mutations + self.crossovers != self.population:
            raise ValueError(
                f"expected mutations + crossovers == population ({self.population}), got "
                f"{self.mutations} + {self.crossovers}"
            )
        if not 0.0 <= self.mutation_probability <= 1.0:
            raise ValueError(
                f"expected mutation_probability in [0, 1], got {self.mutation_probability}"
            )


@dataclass(frozen=True)
class SearchConfig:
    """One search run: the method, its budget, the seeds and the sub-method settings."""

    method: str = "hybrid"  # a key of dpo_core.search.METHODS
    # Budget in evaluations (one evaluation: one candidate sampled fully on every search seed),
    # the reference's unit. Every method spends the same: random and EPO on candidates, GPO +
    # sampling and the hybrid on their gradient phase (charged by its model calls, about 8 of
    # 40 at the defaults: 20 iterations x mean step 19.5 / 50 steps) and then candidates.
    evaluations: int = 40
    search_seeds: tuple[int, ...] = (0,)
    holdout_seeds: tuple[int, ...] = (1, 2, 3, 4)  # report seeds, never searched on
    batch_size: int = 8  # images per backend call during evaluation
    seed: int = 0  # random state of the search itself (Gumbel noise, sampling, evolution)
    negative_prompt: str = ""  # positive (attack) mode: the fixed negative prompt
    gpo: GPOConfig = field(default_factory=GPOConfig)
    epo: EPOConfig = field(default_factory=EPOConfig)

    def __post_init__(self) -> None:
        object.__setattr__(self, "search_seeds", tuple(int(s) for s in self.search_seeds))
        object.__setattr__(self, "holdout_seeds", tuple(int(s) for s in self.holdout_seeds))
        if self.evaluations < 0:
            raise ValueError(f"expected evaluations >= 0, got {self.evaluations}")
        if not self.search_seeds:
            raise ValueError("expected at least one search seed, got none")
        if self.batch_size < 1:
            raise ValueError(f"expected batch_size >= 1, got {self.batch_size}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @staticmethod
    def with_current_names(data: dict[str, Any]) -> dict[str, Any]:
        """``data`` (a config's JSON) with the GPO fields of older records under their names."""
        gpo = data.get("gpo")
        if not isinstance(gpo, dict) or not set(RENAMED_GPO_FIELDS) & set(gpo):
            return data
        renamed = {RENAMED_GPO_FIELDS.get(k, k): v for k, v in gpo.items()}
        return {**data, "gpo": renamed}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SearchConfig:
        data = dict(cls.with_current_names(data))
        data["gpo"] = _build(GPOConfig, data.get("gpo", {}))
        data["epo"] = _build(EPOConfig, data.get("epo", {}))
        if "generations" in data and "evaluations" not in data:  # records before evaluations
            data["evaluations"] = int(data.pop("generations")) * data["epo"].population
        for key in ("search_seeds", "holdout_seeds"):
            if key in data:
                data[key] = tuple(data[key])
        return _build(cls, data)


def _build(cls: Any, data: dict[str, Any]) -> Any:
    names = {f.name for f in fields(cls)}
    unknown = set(data) - names
    if unknown:
        raise ValueError(
            f"{cls.__name__}: expected fields among {sorted(names)}, got {sorted(unknown)}"
        )
    return cls(**data)
