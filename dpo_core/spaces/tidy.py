"""Tidying a space before the search: prompt syntax out of candidates, one slot per word.

* ``strip_prompt_syntax``: a pasted or edited space (``space_json``) may hold ComfyUI prompt
  syntax in its candidates, ``(green:1.4)``, ``[green]``, ``embedding:name``, ``<lora:...>``,
  ``BREAK``. The relaxation sees plain words only, so a weight would be searched as if it were
  not there while the final prompt would apply it. The syntax is removed (a candidate that held
  nothing else is dropped) and a warning says so.
* ``dedupe_across_slots``: in negative mode two slots offering the same word spend the token
  budget twice on one choice; the word stays in the first slot only.
"""

from __future__ import annotations

import re
from dataclasses import replace

from ..space import SearchSpace, Slot

_SYNTAX = re.compile(
    r"<[^<>]*>"  # <lora:name:0.8>, <hypernet:...>
    r"|\bembedding:[^\s,()\[\]{}]+"  # embedding:name
    r"|\bBREAK\b"  # ComfyUI's chunk break
    r"|:\s*[-+]?(?:\d+(?:\.\d*)?|\.\d+)\s*(?=[)\]])"  # the :1.4 of (word:1.4)
    r"|\\?[()\[\]{}]"  # brackets, escaped or not
)


def _plain(text: str) -> str:
    return " ".join(_SYNTAX.sub(" ", text).replace(",", " ").split())


def strip_prompt_syntax(space: SearchSpace) -> tuple[SearchSpace, tuple[str, ...]]:
    """Candidates without prompt syntax (option 0 of a positive slot, the original text, stays)."""
    changed: list[str] = []
    emptied = 0
    lost: list[str] = []  # slots left with no alternative
    slots: list[Slot] = []
    for slot in space.slots:
        first = slot.candidates[0]
        kept = [first]
        for candidate in slot.candidates[1:]:
            plain = _plain(candidate)
            if plain != candidate:
                changed.append(f"{candidate!r} -> {plain!r}" if plain else repr(candidate))
            if not plain or plain in kept:
                emptied += plain != candidate
                continue
            kept.append(plain)
        if len(kept) > 1:
            slots.append(replace(slot, candidates=tuple(kept)))
        else:
            lost.append(repr(slot.word or "library"))
    if not changed:
        return space, ()
    shown = ", ".join(changed[:3]) + (f", and {len(changed) - 3} more" if len(changed) > 3 else "")
    message = (
        f"space_json: removed prompt syntax that the search cannot weigh (weights, brackets, "
        f"embedding:, <lora:>, BREAK) from {len(changed)} candidates ({shown})"
        + (f"; {emptied} held nothing else and were dropped" if emptied else "")
        + (f", and with them the slots {', '.join(lost)}" if lost else "")
        + "; put weights in the prompt or the negative prompt instead"
    )
    return replace(space, slots=tuple(slots)), (message,)


def dedupe_across_slots(space: SearchSpace) -> tuple[SearchSpace, tuple[str, ...]]:
    """Negative mode: a word offered by several slots stays in the first one only."""
    if space.mode != "negative":
        return space, ()
    owner: dict[str, str] = {}
    repeated: list[str] = []
    slots: list[Slot] = []
    for slot in space.slots:
        label = slot.word or "library"
        kept = [slot.candidates[0]]
        for candidate in slot.candidates[1:]:
            key = candidate.lower()
            if key in owner:
                repeated.append(f"{candidate!r} ({label}; kept in {owner[key]})")
                continue
            owner[key] = label
            kept.append(candidate)
        if len(kept) > 1:
            slots.append(replace(slot, candidates=tuple(kept)))
    if not repeated:
        return space, ()
    shown = ", ".join(repeated[:3]) + (f", and {len(repeated) - 3} more" if len(repeated) > 3 else "")
    message = f"{len(repeated)} candidates were offered by two slots and kept once: {shown}"
    return replace(space, slots=tuple(slots)), (message,)
