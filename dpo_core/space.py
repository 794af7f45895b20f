"""The discrete search space of DPO-Diff: slots of candidate words and how a choice renders to text.

Two modes share one model:

* ``negative`` (prompt enhancement): every slot contributes one word (or nothing) to the
  negative prompt. Option 0 of every slot is ``""`` (nothing), so the all-zero choice renders
  to the user's own negative prompt (``SearchSpace.negative_prompt``, possibly empty).
* ``positive`` (attack): every slot replaces one word of the user's prompt. Option 0 is the
  original word, so the all-zero choice renders to the user's prompt unchanged.

The rendered text is the single source of truth: the relaxation builds its token sequence
from exactly the pieces that ``render`` joins (see ``segments``), so the text a choice
renders to and the tokens the gradient sees cannot drift apart.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from dataclasses import asdict, dataclass, field
from functools import partial
from typing import Literal, TypeVar

from .json_fields import Fields, join
from .json_fields import FormatError as FormatError  # raised by the loaders
from .json_fields import parse_json_object as parse_json_object  # the record reads alike

Mode = Literal["negative", "positive"]
MODES: tuple[Mode, ...] = ("negative", "positive")
T = TypeVar("T")


@dataclass(frozen=True)
class ModeRules:
    """What a mode means, in one place: which prompt of the (positive, negative) pair a choice
    renders to, and which way the distance to the prompt should go."""

    optimizes: Literal["negative", "positive"]  # the prompt of the pair a choice renders to
    loss_sign: float  # the loss is loss_sign * distance: +1 minimises it, -1 maximises it
    goal: str  # how a report says which way is better

    def pair(self, optimized: T, fixed: T) -> tuple[T, T]:
        """``(positive, negative)``: the optimized text (or its conditioning) and the fixed one."""
        return (fixed, optimized) if self.optimizes == "negative" else (optimized, fixed)

    def fixed(self, prompt: T, negative_prompt: T) -> T:
        """Of the user's prompt and fixed negative prompt, the one a search leaves unchanged."""
        return prompt if self.optimizes == "negative" else negative_prompt


# negative (enhancement): the choice is the negative prompt, the user's prompt is fixed, and
# the image should come closer to the prompt; positive (attack): the choice rewrites the
# prompt, a fixed negative prompt stays, and the image should drift away from the prompt.
MODE_RULES: dict[Mode, ModeRules] = {
    "negative": ModeRules(optimizes="negative", loss_sign=1.0, goal="lower is the goal"),
    "positive": ModeRules(optimizes="positive", loss_sign=-1.0, goal="higher is the goal"),
}
SPACE_FORMAT_VERSION = 1
NEGATIVE_SEPARATOR = ", "  # how chosen negative words are joined (the usual negative-prompt style)


@dataclass(frozen=True)
class Slot:
    """One position of the search: a word of the prompt and the options that can stand for it."""

    word: str  # the prompt word this slot is about ("" for slots from the negative-term library)
    candidates: tuple[str, ...]  # option 0: "" (negative mode) or the original text (positive mode)
    piece: int = -1  # positive mode: index into SearchSpace.pieces that this slot replaces
    source: str = ""  # where the candidates came from, e.g. "wordnet", "llm", "library"

    def __post_init__(self) -> None:
        if len(self.candidates) < 1:
            raise ValueError(f"slot {self.word!r}: expected at least one candidate, got none")
        if len(set(self.candidates)) != len(self.candidates):
            raise ValueError(
                f"slot {self.word!r}: candidates must be distinct, got {self.candidates}"
            )


@dataclass(frozen=True)
class SearchSpace:
    """A prompt, a mode and its slots; ``render(choice)`` gives the text that is evaluated."""

    prompt: str  # the user's (positive) prompt
    mode: Mode
    slots: tuple[Slot, ...]
    # negative mode: the user's own negative prompt, kept in front of the chosen words
    negative_prompt: str = ""
    # positive mode: the prompt cut into pieces, "".join(pieces) == prompt; slots replace pieces
    pieces: tuple[str, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"expected mode in {MODES}, got {self.mode!r}")
        if not self.prompt.strip():
            raise ValueError("expected a non-empty prompt, got an empty one")
        if self.mode == "negative":
            for slot in self.slots:
                if slot.candidates[0] != "":
                    raise ValueError(
                        f"negative-mode slot {slot.word!r}: option 0 must be '' (nothing), "
                        f"got {slot.candidates[0]!r}"
                    )
        else:
            if "".join(self.pieces) != self.prompt:
                raise ValueError("positive mode: expected pieces that join to the prompt exactly")
            used = [slot.piece for slot in self.slots]
            if len(set(used)) != len(used) or not all(0 <= p < len(self.pieces) for p in used):
                raise ValueError(f"positive mode: slots must replace distinct pieces, got {used}")
            for slot in self.slots:
                if slot.candidates[0] != self.pieces[slot.piece]:
                    raise ValueError(
                        f"positive-mode slot {slot.word!r}: option 0 must be the original text "
                        f"{self.pieces[slot.piece]!r}, got {slot.candidates[0]!r}"
                    )

    # --- sizes -----------------------------------------------------------------------------
    @property
    def sizes(self) -> tuple[int, ...]:
        """Number of options per slot."""
        return tuple(len(slot.candidates) for slot in self.slots)

    @property
    def num_choices(self) -> int:
        """Size of the whole discrete space (product of the slot sizes)."""
        total = 1
        for n in self.sizes:
            total *= n
        return total

    def original_choice(self) -> tuple[int, ...]:
        """The choice that renders to the user's original text (all options 0)."""
        return (0,) * len(self.slots)

    def check_choice(self, choice: Sequence[int]) -> tuple[int, ...]:
        choice = tuple(int(c) for c in choice)
        if len(choice) != len(self.slots):
            raise ValueError(f"expected a choice of length {len(self.slots)}, got {len(choice)}")
        for i, (c, n) in enumerate(zip(choice, self.sizes)):
            if not 0 <= c < n:
                raise ValueError(f"slot {i}: expected an option in [0, {n}), got {c}")
        return choice

    # --- rendering -------------------------------------------------------------------------
    def segments(self, choice: Sequence[int], keep: Collection[int] = ()) -> list[tuple[int, str]]:
        """The rendered text as ordered segments ``(slot index or -1 for fixed text, text)``.

        ``"".join(text for _, text in segments(choice)) == render(choice)``. The relaxation
        tokenizes each segment on its own and concatenates, so segment boundaries are always
        at word boundaries (separators are their own fixed segments).

        ``keep``: slots whose segment stays in place (with its separator) even when their
        option is empty; the relaxation's gradient layout gives such slots a placeholder token.
        """
        choice = self.check_choice(choice)
        out: list[tuple[int, str]] = []
        if self.mode == "negative":
            if self.negative_prompt.strip():
                out.append((-1, self.negative_prompt.strip()))
            for i, c in enumerate(choice):
                word = self.slots[i].candidates[c]
                if not word and i not in keep:
                    continue
                if out:
                    out.append((-1, NEGATIVE_SEPARATOR))
                out.append((i, word))
            return out
        slot_of_piece = {slot.piece: i for i, slot in enumerate(self.slots)}
        for p, text in enumerate(self.pieces):
            i = slot_of_piece.get(p, -1)
            if i >= 0:
                out.append((i, self.slots[i].candidates[choice[i]]))
            elif text:
                out.append((-1, text))
        return out

    def render(self, choice: Sequence[int]) -> str:
        """The exact text evaluated for a choice (negative prompt or rewritten positive prompt)."""
        return "".join(text for _, text in self.segments(choice))

    # --- (de)serialisation ----------------------------------------------------------------
    def to_dict(self) -> dict:
        data = asdict(self)
        data["format_version"] = SPACE_FORMAT_VERSION
        return data

    @classmethod
    def from_dict(cls, data: dict, fields: Fields | None = None, path: str = "") -> SearchSpace:
        """A space from ``to_dict``'s shape; any other shape gives one ``FormatError`` that
        names the field (``fields`` and ``path`` place it inside a larger document)."""
        f = fields or Fields("search space JSON")
        data = f.mapping(data, path)
        at = partial(join, path)
        version = f.get(data, "format_version", path, SPACE_FORMAT_VERSION)
        if version != SPACE_FORMAT_VERSION:
            f.fail(at("format_version"), f"{SPACE_FORMAT_VERSION}", version)
        mode = f.string(f.get(data, "mode", path), at("mode"))
        if mode not in MODES:
            f.fail(at("mode"), " or ".join(repr(m) for m in MODES), mode)
        slots = []
        for i, item in enumerate(f.array(f.get(data, "slots", path), at("slots"))):
            where = at(f"slots[{i}]")
            item = f.mapping(item, where)
            try:
                slots.append(
                    Slot(
                        word=f.string(f.get(item, "word", where), join(where, "word")),
                        candidates=f.strings(f.get(item, "candidates", where),
                                             join(where, "candidates")),
                        piece=f.integer(f.get(item, "piece", where, -1), join(where, "piece")),
                        source=f.string(f.get(item, "source", where, ""), join(where, "source")),
                    )
                )  # fmt: skip
            except FormatError:
                raise
            except ValueError as err:
                raise f.problem(f"{where}: {err}") from None
        try:
            return cls(
                prompt=f.string(f.get(data, "prompt", path), at("prompt")),
                mode=mode,  # type: ignore[arg-type]  # checked against MODES above
                slots=tuple(slots),
                # "base": the field's name in spaces saved before it was renamed
                negative_prompt=f.string(
                    f.get(
                        data, "negative_prompt" if "negative_prompt" in data else "base", path, ""
                    ),
                    at("negative_prompt"),
                ),
                pieces=f.strings(f.get(data, "pieces", path, []), at("pieces")),
            )
        except FormatError:
            raise
        except ValueError as err:
            raise f.problem(str(err)) from None

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> SearchSpace:
        return cls.from_dict(parse_json_object(text, "search space"))
