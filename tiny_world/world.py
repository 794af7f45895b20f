"""A synthetic captioned image world: one or two flat shapes on a plain background, sometimes
with a removable defect.

Every scene is a combination of attributes (colour, shape, size, count, position, background);
captions come from a small grammar ("a small red circle on the left on a white background",
"two big blue squares on the right on a black background"). Most attributes are binary
(small/big, one/two, left/right, white/black), so that "away from X" means "the other one", as
with the antonyms of a dictionary search space. A seeded part of the combinations is held out:
training never sees those captions, the quality report and the benchmarks use them.

Like web images, a share of the pictures carries a *defect* (blur, grain, a watermark in the
corner) that the caption names most of the time in short captions and rarely in full ones, so
that the model sometimes makes them on a prompt that does not ask for them, and a negative
prompt that names them ("blurry", "grainy", "watermark") has something to remove.

Pure torch, no ComfyUI: images are ``(B, 3, 64, 64)`` floats in [0, 1].
"""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import torch

IMAGE_SIZE = 64

COLOURS: dict[str, tuple[float, float, float]] = {
    "red": (0.90, 0.10, 0.10),
    "green": (0.10, 0.72, 0.15),
    "blue": (0.12, 0.22, 0.92),
    "yellow": (0.96, 0.86, 0.10),
    "purple": (0.58, 0.14, 0.74),
    "orange": (1.00, 0.52, 0.02),
}
SHAPES = ("circle", "square", "triangle")
SIZES = ("small", "big")
COUNTS = ("one", "two")
POSITIONS = ("left", "right")
BACKGROUNDS: dict[str, float] = {"white": 0.95, "black": 0.06}

ATTRIBUTES = ("colour", "shape", "size", "count", "position", "background")
# Class names of each attribute, in the order of the attribute classifier's heads.
ATTRIBUTE_VALUES: dict[str, tuple[str, ...]] = {
    "colour": tuple(COLOURS),
    "shape": SHAPES,
    "size": SIZES,
    "count": COUNTS,
    "position": POSITIONS,
    "background": tuple(BACKGROUNDS),
}

# Defects: present or absent per image, independent of the scene. The first phrase is the
# main word; training captions use the others too (the words of a negative-term library).
DEFECTS: dict[str, tuple[str, ...]] = {
    "blurry": ("blurry", "out of focus", "blurred"),
    "grainy": ("grainy", "noisy", "noise"),
    "watermark": ("watermark", "logo", "text"),
}
DEFECT_PROBABILITY = 0.15  # each defect, independently, in training images
ANY_DEFECT_PHRASE = "low quality"  # short captions of a defective image sometimes say this
# A full caption names a present defect this often; short (partial) captions mostly do. A
# prompt that names no defect then still gets one sometimes, as web-trained models do.
FULL_CAPTION_NAMES_DEFECT = 0.2
PARTIAL_CAPTION_NAMES_DEFECT = 0.8

# Words the grammar may use instead of the main one in TRAINING captions only; held-out
# prompts use the main words.
SYNONYMS: dict[str, tuple[str, ...]] = {"big": ("large",), "small": ("tiny", "little")}

POSITION_PHRASES = {"left": "on the left", "right": "on the right"}

HELD_OUT_FRACTION = 0.15
SPLIT_SEED = 20240721  # fixes which combinations are held out; never change it after training


@dataclass(frozen=True)
class Scene:
    """One combination of attributes (``count == "two"``: two identical objects)."""

    colour: str
    shape: str
    size: str
    count: str
    position: str
    background: str

    def __post_init__(self) -> None:
        for name in ATTRIBUTES:
            value = getattr(self, name)
            if value not in ATTRIBUTE_VALUES[name]:
                raise ValueError(f"expected {name} in {ATTRIBUTE_VALUES[name]}, got {value!r}")

    def labels(self) -> dict[str, int]:
        """Class index of each attribute (the classifier's targets)."""
        return {name: ATTRIBUTE_VALUES[name].index(getattr(self, name)) for name in ATTRIBUTES}

    def replace(self, **changes: str) -> Scene:
        return Scene(**{**{n: getattr(self, n) for n in ATTRIBUTES}, **changes})


def all_scenes() -> list[Scene]:
    """Every combination of attributes, in a fixed order."""
    values = [ATTRIBUTE_VALUES[name] for name in ATTRIBUTES]
    return [Scene(*combo) for combo in itertools.product(*values)]


def split_scenes(seed: int = SPLIT_SEED) -> tuple[list[Scene], list[Scene]]:
    """(train, held_out): a seeded ``HELD_OUT_FRACTION`` of the combinations is held out.

    Every single attribute value still occurs in training; only its combinations are new.
    """
    scenes = all_scenes()
    order = list(range(len(scenes)))
    random.Random(seed).shuffle(order)
    n_held = round(HELD_OUT_FRACTION * len(scenes))
    held = sorted(order[:n_held])
    held_set = set(held)
    train = [s for i, s in enumerate(scenes) if i not in held_set]
    return train, [scenes[i] for i in held]


def draw_defects(rng: random.Random) -> frozenset[str]:
    """The defects of one training image (each with ``DEFECT_PROBABILITY``)."""
    return frozenset(d for d in DEFECTS if rng.random() < DEFECT_PROBABILITY)


def _defect_phrase(defect: str, rng: random.Random | None) -> str:
    phrases = DEFECTS[defect]
    return phrases[0] if rng is None or rng.random() < 0.6 else rng.choice(phrases)


def caption(
    scene: Scene,
    rng: random.Random | None = None,
    drop_probability: float = 0.0,
    defects: Iterable[str] = (),
    name_defects: float = 1.0,
) -> str:
    """The caption of ``scene``; with ``rng``, synonyms are drawn, size, position and
    background are each left out with ``drop_probability``, and each of ``defects`` is named
    (", grainy") with probability ``name_defects`` (training-time variety)."""

    def keep() -> bool:
        return rng is None or rng.random() >= drop_probability

    def word(w: str) -> str:
        if rng is None or w not in SYNONYMS or rng.random() < 0.5:
            return w
        return rng.choice(SYNONYMS[w])

    size = word(scene.size) + " " if keep() else ""
    if scene.count == "two":
        text = f"two {size}{scene.colour} {scene.shape}s"
    else:
        text = f"{size}{scene.colour} {scene.shape}"
        text = ("an " if text[0] in "aeiou" else "a ") + text
    if keep():
        text += " " + POSITION_PHRASES[scene.position]
    if keep():
        text += f" on a {scene.background} background"
    for defect in sorted(defects):
        if rng is None or rng.random() < name_defects:
            text += ", " + _defect_phrase(defect, rng)
    return text


def parse_caption(text: str) -> dict[str, str]:
    """The attributes a caption states (a grammar caption, a partial one or a close variant);
    attributes the caption does not mention are absent from the result."""
    words = text.lower().replace(",", " ").split()
    found: dict[str, str] = {}
    for i, w in enumerate(words):
        stem = w[:-1] if w.endswith("s") and w[:-1] in SHAPES else w
        if stem in COLOURS:
            found.setdefault("colour", stem)
        elif stem in SHAPES:
            found.setdefault("shape", stem)
        elif stem in BACKGROUNDS and i + 1 < len(words) and words[i + 1] == "background":
            found["background"] = stem
    for main in SIZES:
        if any(a in words for a in (main, *SYNONYMS.get(main, ()))):
            found["size"] = main
    if "two" in words:
        found["count"] = "two"
    elif words and words[0] in ("a", "an", "one"):
        found["count"] = "one"
    for position in POSITIONS:
        if position in words:
            found["position"] = position
    return found


def named_defects(text: str) -> frozenset[str]:
    """The defects a text names ("blurry", "out of focus", "watermark", ...)."""
    padded = " " + " ".join(text.lower().replace(",", " ").split()) + " "
    return frozenset(
        d for d, phrases in DEFECTS.items() if any(f" {p} " in padded for p in phrases)
    )


def attribute_phrases(name: str, value: str) -> tuple[str, ...]:
    """Phrases that state ``name == value`` on their own (the first is the main one)."""
    if name == "size":
        return (value, *SYNONYMS.get(value, ()))
    if name == "count":
        return ("two",) if value == "two" else ("one",)
    if name == "position":
        return (POSITION_PHRASES[value], value)
    if name == "background":
        return (f"{value} background",)
    return (value,)


# The top contrast of each attribute value: the word a hand-written negative prompt would use
# against it ("the other one" for the binary attributes).
CONTRASTS: dict[str, dict[str, str]] = {
    "colour": {
        "red": "green",
        "green": "red",
        "blue": "orange",
        "orange": "blue",
        "yellow": "purple",
        "purple": "yellow",
    },
    "shape": {"circle": "square", "square": "circle", "triangle": "circle"},
    "size": {"small": "big", "big": "small"},
    "count": {"one": "two", "two": "one"},
    "position": {"left": "right", "right": "left"},
    "background": {"white": "black", "black": "white"},
}
# Attribute order of the captions' grammar; partial captions and contrasts keep it.
CAPTION_ORDER = ("count", "size", "colour", "shape", "position", "background")


def partial_caption(
    scene: Scene, rng: random.Random, defects: Iterable[str] = (), max_items: int = 5
) -> str:
    """A comma-joined list of phrases, each TRUE of the image ("red", "big, on the left,
    white background", "grainy", "blue, watermark"), in the grammar's order.

    Training captions of this form teach the model what one attribute or one defect alone
    looks like, so that a negative prompt of such words means "images with those"."""
    present = sorted(defects)
    parts: list[str] = []
    only_defects = bool(present) and rng.random() < 0.3
    if not only_defects:
        k = rng.choices(range(1, max_items + 1), weights=[5, 4, 3, 2, 1][:max_items])[0]
        chosen = set(rng.sample(CAPTION_ORDER, k))
        for name in CAPTION_ORDER:
            if name not in chosen:
                continue
            phrases = attribute_phrases(name, getattr(scene, name))
            phrase = phrases[0] if rng.random() < 0.7 else rng.choice(phrases)
            if name == "shape" and scene.count == "two" and rng.random() < 0.5:
                phrase += "s"
            parts.append(phrase)
    named = [d for d in present if only_defects or rng.random() < PARTIAL_CAPTION_NAMES_DEFECT]
    if only_defects and not named:
        named = present[:1]
    parts.extend(_defect_phrase(d, rng) for d in named)
    if present and rng.random() < 0.15:
        parts.append(ANY_DEFECT_PHRASE)
    return ", ".join(parts) if parts else attribute_phrases("colour", scene.colour)[0]


def contrast_negative(scene: Scene, attributes: Sequence[str] = CAPTION_ORDER) -> str:
    """The hand-written contrast negative of ``scene``: the top contrast of each of
    ``attributes`` ("two, big, green, square, on the right, black background")."""
    parts = []
    for name in CAPTION_ORDER:
        if name in attributes:
            value = getattr(scene, name)
            parts.append(attribute_phrases(name, CONTRASTS[name][value])[0])
    return ", ".join(parts)


def training_caption(scene: Scene, defects: frozenset[str], rng: random.Random) -> str:
    """A full training caption with variety (drops, synonyms, defects sometimes named)."""
    return caption(scene, rng, 0.15, defects, FULL_CAPTION_NAMES_DEFECT)


def training_captions(seed: int, count: int) -> list[tuple[Scene, frozenset[str], str]]:
    """``count`` (scene, defects, caption) triples drawn from the training combinations."""
    train, _ = split_scenes()
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        scene = rng.choice(train)
        defects = draw_defects(rng)
        out.append((scene, defects, training_caption(scene, defects, rng)))
    return out


def held_out_prompts() -> list[str]:
    """Full captions of the held-out combinations (the benchmark's and the report's prompts)."""
    return [caption(scene) for scene in split_scenes()[1]]


def training_prompts() -> list[str]:
    """Full captions of the training combinations (no defect named)."""
    return [caption(scene) for scene in split_scenes()[0]]


# ---------------------------------------------------------------------------------------------
# Rendering


def _object_centres(scene: Scene, radius: float, rng: random.Random) -> list[tuple[float, float]]:
    """Centres (x, y) in pixels of the scene's objects, with a little jitter."""
    s = IMAGE_SIZE
    x = (0.31 if scene.position == "left" else 0.69) * s + rng.uniform(-2.5, 2.5)
    mid = s / 2
    if scene.count == "two":  # stacked one above the other on the stated side
        gap = max(radius + 2.5, 0.22 * s)
        return [
            (x + rng.uniform(-1.5, 1.5), mid - gap + rng.uniform(-1.5, 1.5)),
            (x + rng.uniform(-1.5, 1.5), mid + gap + rng.uniform(-1.5, 1.5)),
        ]
    return [(x, mid + rng.uniform(-4.0, 4.0))]


def _signed_distance(
    shape: str, cx: float, cy: float, r: float, grid: torch.Tensor
) -> torch.Tensor:
    """Approximate signed distance in pixels (negative inside) to one shape centred at
    (cx, cy) with 'radius' r, on a pixel grid ``(2, H, W)``."""
    x, y = grid[0] - cx, grid[1] - cy
    if shape == "circle":
        return torch.sqrt(x * x + y * y) - r
    if shape == "square":
        return torch.maximum(x.abs(), y.abs()) - 0.88 * r  # about the area of the circle
    # equilateral triangle pointing up: the largest distance to its three edge lines
    apothem = 0.65 * r  # circumradius 1.3 r, a similar area
    edges = [y - apothem]
    for angle in (math.pi / 6, 5 * math.pi / 6):
        edges.append(x * math.cos(angle) - y * math.sin(angle) - apothem)
    return torch.stack(edges).amax(0)


_GRID = torch.stack(
    torch.meshgrid(
        torch.arange(IMAGE_SIZE, dtype=torch.float32) + 0.5,
        torch.arange(IMAGE_SIZE, dtype=torch.float32) + 0.5,
        indexing="xy",
    )
)  # (2, H, W): pixel-centre x, y

# Grain: one fixed texture of 2x2-pixel cells (the same in every grainy image, so that a small
# decoder can draw it), added with a random strength.
_GRAIN = (
    (
        torch.rand(IMAGE_SIZE // 2, IMAGE_SIZE // 2, generator=torch.Generator().manual_seed(7)) * 2
        - 1
    )
    .repeat_interleave(2, 0)
    .repeat_interleave(2, 1)
)


def _watermark_mask() -> torch.Tensor:
    """A small grey mark in the bottom-right corner: a box with two bars ("text")."""
    mask = torch.zeros(IMAGE_SIZE, IMAGE_SIZE)
    top, left, bottom, right = 51, 41, 60, 61
    mask[top:bottom, left:right] = 1.0
    mask[top + 2 : bottom - 2, left + 2 : right - 2] = 0.0
    mask[top + 4, left + 4 : right - 4] = 1.0
    mask[top + 6 : top + 7, left + 4 : right - 8] = 1.0
    return mask


_WATERMARK = _watermark_mask()


def _blur(image: torch.Tensor, sigma: float) -> torch.Tensor:
    radius = 4
    t = torch.arange(-radius, radius + 1, dtype=torch.float32)
    k = torch.exp(-0.5 * (t / sigma) ** 2)
    k = k / k.sum()
    x = torch.nn.functional.pad(image[None], (radius, radius, radius, radius), mode="replicate")
    x = torch.nn.functional.conv2d(x, k.view(1, 1, 1, -1).expand(3, 1, 1, -1), groups=3)
    x = torch.nn.functional.conv2d(x, k.view(1, 1, -1, 1).expand(3, 1, -1, 1), groups=3)
    return x[0]


def apply_defects(image: torch.Tensor, defects: Iterable[str], rng: random.Random) -> torch.Tensor:
    """One image ``(3, H, W)`` with the named defects added (watermark, grain, then blur)."""
    defects = set(defects)
    unknown = defects - set(DEFECTS)
    if unknown:
        raise ValueError(f"unknown defects {sorted(unknown)}; expected some of {list(DEFECTS)}")
    if "watermark" in defects:
        grey = 0.5 + rng.uniform(-0.05, 0.05)
        image = image + 0.85 * _WATERMARK * (grey - image)
    if "grainy" in defects:
        image = (image + rng.uniform(0.14, 0.2) * _GRAIN).clamp(0.0, 1.0)
    if "blurry" in defects:
        image = _blur(image, rng.uniform(1.6, 2.2))
    return image


def render(
    scenes: Sequence[Scene], seed: int, defects: Sequence[Iterable[str]] | None = None
) -> torch.Tensor:
    """Images ``(B, 3, 64, 64)`` in [0, 1] of ``scenes`` (with ``defects[i]`` on image i);
    deterministic in ``seed``. Edges are anti-aliased by a one-pixel ramp of the distance."""
    rng = random.Random(seed)
    images = torch.empty(len(scenes), 3, IMAGE_SIZE, IMAGE_SIZE)
    for i, scene in enumerate(scenes):
        grey = BACKGROUNDS[scene.background] + rng.uniform(-0.04, 0.04)
        colour = torch.tensor(
            [min(1.0, max(0.0, c + rng.uniform(-0.06, 0.06))) for c in COLOURS[scene.colour]]
        )
        radius = rng.uniform(6.5, 8.5) if scene.size == "small" else rng.uniform(12.0, 13.5)
        alpha = torch.zeros(IMAGE_SIZE, IMAGE_SIZE)
        for cx, cy in _object_centres(scene, radius, rng):
            sdf = _signed_distance(scene.shape, cx, cy, radius, _GRID)
            alpha = torch.maximum(alpha, (0.5 - sdf).clamp(0.0, 1.0))
        image = grey + alpha * (colour[:, None, None] - grey)
        if defects is not None and defects[i]:
            image = apply_defects(image, defects[i], rng)
        images[i] = image
    return images.clamp(0.0, 1.0)
