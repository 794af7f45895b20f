"""A small library of common negative-prompt terms, grouped, that can add extra slots.

Each group becomes one negative-mode slot: ``word`` is the group name, option 0 is ``""``
(nothing) and the other options are the group's terms, most generally useful first. The
terms are short and plain on purpose: every one of them costs tokens in the 75-token window.
"""

from __future__ import annotations

from ..space import Slot

LIBRARY_SOURCE = "library"

NEGATIVE_TERMS: dict[str, tuple[str, ...]] = {
    "quality": (
        "blurry",
        "low quality",
        "lowres",
        "out of focus",
        "grainy",
        "noisy",
        "pixelated",
        "overexposed",
        "underexposed",
        "washed out",
    ),
    "anatomy": (
        "bad anatomy",
        "deformed",
        "extra fingers",
        "extra limbs",
        "missing limbs",
        "malformed hands",
        "distorted face",
        "fused fingers",
        "long neck",
        "disfigured",
    ),
    "artefacts": (
        "watermark",
        "text",
        "signature",
        "logo",
        "jpeg artifacts",
        "cropped",
        "frame",
        "duplicate",
        "glitch",
        "banding",
    ),
    "composition": (
        "cluttered",
        "cut off",
        "tilted",
        "out of frame",
        "bad framing",
        "unbalanced",
        "empty",
        "busy background",
    ),
}
GROUPS: tuple[str, ...] = tuple(NEGATIVE_TERMS)


def library_slots(
    groups: tuple[str, ...] = GROUPS, max_terms: int = 5, exclude: frozenset[str] = frozenset()
) -> tuple[Slot, ...]:
    """One negative-mode slot per group: ``("", term, ...)`` with at most ``max_terms`` terms.

    ``exclude``: lower-case words of the user's prompt; a term that names one of them
    ("text" in a prompt about a sign with text) is left out.
    """
    unknown = [g for g in groups if g not in NEGATIVE_TERMS]
    if unknown:
        raise ValueError(f"unknown negative-term groups {unknown}; expected some of {GROUPS}")
    if max_terms < 1:
        raise ValueError(f"expected max_terms >= 1, got {max_terms}")
    slots = []
    for group in groups:
        terms = [t for t in NEGATIVE_TERMS[group] if not set(t.split()) & exclude][:max_terms]
        if terms:
            slots.append(Slot(word=group, candidates=("", *terms), source=LIBRARY_SOURCE))
    return tuple(slots)
