"""The learned distribution: what the gradient phase hands to a search (GPO -> the hybrid)."""

from __future__ import annotations

from dataclasses import dataclass, field

from .config import GPOConfig
from .record import RunRecord
from .sampling import softmax_rows
from .space import SearchSpace


@dataclass(frozen=True)
class LearnedDistribution:
    """Logits over each slot's candidates, and what a search needs to draw from them: the space
    they index (a search on another space refuses them), the evaluations learning them was
    charged (counted in the search's budget) and the GPO settings they were learned with (kept
    in the search's config, so the hybrid's record says how its distribution was learned).
    The gradient run's own record (loss curve, timings) stays in its file."""

    space: SearchSpace
    logits: tuple[tuple[float, ...], ...]  # one row per slot
    gradient_evaluations: int = 0
    gpo: GPOConfig = field(default_factory=GPOConfig)

    def __post_init__(self) -> None:
        sizes = tuple(len(row) for row in self.logits)
        if sizes != self.space.sizes:
            raise ValueError(f"expected logits of slot sizes {self.space.sizes}, got {sizes}")

    @property
    def probabilities(self) -> tuple[tuple[float, ...], ...]:
        """``softmax`` of each slot's logits: the chance of each candidate."""
        return tuple(tuple(row) for row in softmax_rows(self.logits))

    @classmethod
    def from_record(cls, record: RunRecord) -> LearnedDistribution:
        """The distribution a gradient run learned (its record's logits and charge)."""
        if record.logits is None:
            raise ValueError("the run record holds no learned distribution (no gradient phase)")
        return cls(record.space, record.logits, record.gradient_evaluations, record.config.gpo)
