"""The result of a search as frozen dataclasses that round-trip through JSON."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .config import SearchConfig
from .space import SearchSpace, parse_json_object

RECORD_FORMAT_VERSION = 1


@dataclass(frozen=True)
class Candidate:
    """One evaluated choice: its text and its loss on every search seed."""

    choice: tuple[int, ...]
    text: str
    losses: tuple[float, ...]  # one per search seed, in config.search_seeds order
    mean: float
    phase: str  # which part of the run proposed it, e.g. "random", "initial", "evolution"
    generation: int = 0

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Candidate:
        return cls(
            choice=tuple(int(c) for c in data["choice"]),
            text=data["text"],
            losses=tuple(float(v) for v in data["losses"]),
            mean=float(data["mean"]),
            phase=data["phase"],
            generation=int(data.get("generation", 0)),
        )


@dataclass(frozen=True)
class HoldoutReport:
    """Best candidate vs. the user's original (all-zero choice) on seeds never searched on."""

    seeds: tuple[int, ...]
    best_losses: tuple[float, ...]
    original_losses: tuple[float, ...]
    best_mean: float
    original_mean: float

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> HoldoutReport:
        return cls(
            seeds=tuple(int(s) for s in data["seeds"]),
            best_losses=tuple(float(v) for v in data["best_losses"]),
            original_losses=tuple(float(v) for v in data["original_losses"]),
            best_mean=float(data["best_mean"]),
            original_mean=float(data["original_mean"]),
        )


@dataclass(frozen=True)
class RunRecord:
    """Everything a run produced; ``candidates`` holds every evaluation, in order."""

    method: str
    config: SearchConfig
    space: SearchSpace
    candidates: tuple[Candidate, ...] = ()
    best: Candidate | None = None
    logits: tuple[tuple[float, ...], ...] | None = None  # learned by GPO, one row per slot
    loss_curve: tuple[float, ...] = ()  # GPO loss per gradient iteration
    holdout: HoldoutReport | None = None
    timings: dict[str, float] = field(default_factory=dict)  # seconds per phase
    stopped_early: bool = False  # the callback asked to stop; candidates are still complete
    format_version: int = RECORD_FORMAT_VERSION

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["config"] = self.config.to_dict()
        data["space"] = self.space.to_dict()
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunRecord:
        version = data.get("format_version", RECORD_FORMAT_VERSION)
        if version != RECORD_FORMAT_VERSION:
            raise ValueError(
                f"expected a run record of format_version {RECORD_FORMAT_VERSION}, got {version}"
            )
        try:
            logits = data.get("logits")
            return cls(
                method=data["method"],
                config=SearchConfig.from_dict(data["config"]),
                space=SearchSpace.from_dict(data["space"]),
                candidates=tuple(Candidate.from_dict(c) for c in data["candidates"]),
                best=Candidate.from_dict(data["best"]) if data.get("best") else None,
                logits=None if logits is None else tuple(tuple(map(float, r)) for r in logits),
                loss_curve=tuple(float(v) for v in data.get("loss_curve", ())),
                holdout=HoldoutReport.from_dict(data["holdout"]) if data.get("holdout") else None,
                timings={str(k): float(v) for k, v in data.get("timings", {}).items()},
                stopped_early=bool(data.get("stopped_early", False)),
            )
        except KeyError as err:
            raise ValueError(f"run record JSON is missing the field {err}") from None

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> RunRecord:
        return cls.from_dict(parse_json_object(text, "run record"))

    def save(self, path: str | Path) -> None:
        """Write JSON atomically (a partial file never replaces a complete one)."""
        path = Path(path)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(self.to_json(), encoding="utf-8")
        tmp.replace(path)

    @classmethod
    def load(cls, path: str | Path) -> RunRecord:
        return cls.from_json(Path(path).read_text(encoding="utf-8"))
