"""The result of a search as frozen dataclasses that round-trip through JSON.

Only what cannot be computed is stored: a candidate's mean loss, the held-out means, the best
candidate and the method are properties of what is stored beside them (format 2; a format-1
file, which also stored those, loads the same: its derived fields are not read)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .config import SearchConfig
from .json_fields import Fields, FormatError, join, parse_json_object
from .space import SearchSpace

RECORD_FORMAT_VERSION = 2
READABLE_FORMAT_VERSIONS = (1, 2)  # 1 also stored the derived fields, which are not read


def mean_of(values: tuple[float, ...]) -> float:
    return sum(values) / len(values)


def read_losses(f: Fields, data: dict[str, Any], key: str, path: str) -> tuple[float, ...]:
    """A non-empty list of losses (one per seed; a mean is taken of it)."""
    values = f.numbers(f.get(data, key, path), join(path, key))
    if not values:
        f.fail(join(path, key), "at least one loss", [])
    return values


def best_of(candidates: tuple[Candidate, ...] | list[Candidate]) -> Candidate | None:
    """The candidate of lowest mean loss, the first of equals; None for no candidates."""
    return min(candidates, key=lambda c: c.mean, default=None)


@dataclass(frozen=True)
class Candidate:
    """One evaluated choice: its text and its loss on every search seed."""

    choice: tuple[int, ...]
    text: str
    losses: tuple[float, ...]  # one per search seed, in config.search_seeds order
    phase: str  # which part of the run proposed it, e.g. "random", "initial", "evolution"
    generation: int = 0

    @property
    def mean(self) -> float:
        """The fitness: the mean loss over the search seeds."""
        return mean_of(self.losses)

    @classmethod
    def from_dict(
        cls, data: dict[str, Any], fields: Fields | None = None, path: str = ""
    ) -> Candidate:
        f = fields or Fields("candidate JSON")
        data = f.mapping(data, path)
        return cls(
            choice=f.integers(f.get(data, "choice", path), join(path, "choice")),
            text=f.string(f.get(data, "text", path), join(path, "text")),
            losses=read_losses(f, data, "losses", path),
            phase=f.string(f.get(data, "phase", path), join(path, "phase")),
            generation=f.integer(f.get(data, "generation", path, 0), join(path, "generation")),
        )


@dataclass(frozen=True)
class HoldoutComparison:
    """Best candidate vs. the user's original (all-zero choice) on seeds never searched on."""

    seeds: tuple[int, ...]
    best_losses: tuple[float, ...]
    original_losses: tuple[float, ...]

    @property
    def best_mean(self) -> float:
        return mean_of(self.best_losses)

    @property
    def original_mean(self) -> float:
        return mean_of(self.original_losses)

    @classmethod
    def from_dict(
        cls, data: dict[str, Any], fields: Fields | None = None, path: str = ""
    ) -> HoldoutComparison:
        f = fields or Fields("holdout JSON")
        data = f.mapping(data, path)
        return cls(
            seeds=f.integers(f.get(data, "seeds", path), join(path, "seeds")),
            best_losses=read_losses(f, data, "best_losses", path),
            original_losses=read_losses(f, data, "original_losses", path),
        )


@dataclass(frozen=True)
class RunRecord:
    """Everything a run produced; ``candidates`` holds every evaluation, in order."""

    config: SearchConfig
    space: SearchSpace
    candidates: tuple[Candidate, ...] = ()
    logits: tuple[tuple[float, ...], ...] | None = None  # learned by GPO, one row per slot
    loss_curve: tuple[float, ...] = ()  # GPO loss per gradient iteration
    gradient_evaluations: int = 0  # evaluations the gradient phase was charged (of the budget)
    holdout: HoldoutComparison | None = None
    timings: dict[str, float] = field(default_factory=dict)  # seconds per phase
    # the run ended before its budget (the callback asked, or Cancel or an error ended it);
    # the candidates are still complete
    stopped_early: bool = False
    format_version: int = RECORD_FORMAT_VERSION

    @property
    def method(self) -> str:
        return self.config.method

    @property
    def best(self) -> Candidate | None:
        """The candidate of lowest mean loss (the first of equals), None before any."""
        return best_of(self.candidates)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["config"] = self.config.to_dict()
        data["space"] = self.space.to_dict()
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunRecord:
        """A record from ``to_dict``'s shape; any other shape gives one ``FormatError`` that
        names the field."""
        f = Fields("run record JSON")
        data = f.mapping(data, "")
        version = f.get(data, "format_version", "", RECORD_FORMAT_VERSION)
        if version not in READABLE_FORMAT_VERSIONS or isinstance(version, bool):
            f.fail("format_version", " or ".join(map(str, READABLE_FORMAT_VERSIONS)), version)
        raw_config = f.mapping(f.get(data, "config", ""), "config")
        config = f.like_defaults(SearchConfig, SearchConfig.with_current_names(raw_config), "config")
        try:
            search_config = SearchConfig.from_dict(config)
        except (TypeError, ValueError) as err:
            raise f.problem(f"field 'config': {err}") from None
        holdout = f.get(data, "holdout", "", None)
        logits = f.get(data, "logits", "", None)
        timings = f.mapping(f.get(data, "timings", "", {}), "timings")
        return cls(
            config=search_config,
            space=SearchSpace.from_dict(f.get(data, "space", ""), f, "space"),
            candidates=tuple(
                Candidate.from_dict(c, f, f"candidates[{i}]")
                for i, c in enumerate(f.array(f.get(data, "candidates", ""), "candidates"))
            ),
            logits=None if logits is None else tuple(
                f.numbers(row, f"logits[{i}]") for i, row in enumerate(f.array(logits, "logits"))
            ),
            loss_curve=f.numbers(f.get(data, "loss_curve", "", []), "loss_curve"),
            gradient_evaluations=f.integer(
                f.get(data, "gradient_evaluations", "", 0), "gradient_evaluations"
            ),
            holdout=None if holdout is None else HoldoutComparison.from_dict(holdout, f, "holdout"),
            timings={k: f.number(v, f"timings.{k}") for k, v in timings.items()},
            stopped_early=f.boolean(f.get(data, "stopped_early", "", False), "stopped_early"),
        )  # fmt: skip

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
        path = Path(path)
        try:
            data = path.read_bytes()
        except OSError as err:
            raise FormatError(f"run record {path.name} cannot be read: {err.strerror}") from None
        return cls.from_dict(parse_json_object(data, f"run record {path.name}"))
