"""A synthetic captioned image world: one or two flat shapes on a plain background.

Every scene is a combination of attributes (count, colour, shape, size, layout, background);
captions come from a small grammar ("a small red circle on the left on a white background",
"two big blue squares side by side on a black background"). The words have real opposites and
confusables (red/green, big/small, left/right, circle/square, white/black), so dictionary and
language-model search spaces apply. A seeded part of the combinations is held out: training
never sees those captions, the quality report and the benchmarks use them.

Pure torch, no ComfyUI: images are ``(B, 3, 64, 64)`` floats in [0, 1].
"""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Sequence
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
LAYOUTS = ("left", "right", "top", "bottom", "pair")  # "pair": two objects side by side
BACKGROUNDS: dict[str, float] = {"white": 0.95, "black": 0.06}

# Words the grammar may use instead of the main one in TRAINING captions only, so that a few
# synonyms mean something to the trained text encoder; held-out prompts use the main words.
SYNONYMS: dict[str, tuple[str, ...]] = {"big": ("large",), "small": ("tiny",)}

POSITION_PHRASES = {
    "left": "on the left",
    "right": "on the right",
    "top": "at the top",
    "bottom": "at the bottom",
}
ATTRIBUTES = ("colour", "shape", "size", "layout", "background")
# Class names of each attribute, in the order of the attribute classifier's heads.
ATTRIBUTE_VALUES: dict[str, tuple[str, ...]] = {
    "colour": tuple(COLOURS),
    "shape": SHAPES,
    "size": SIZES,
    "layout": LAYOUTS,
    "background": tuple(BACKGROUNDS),
}

HELD_OUT_FRACTION = 0.15
SPLIT_SEED = 20240721  # fixes which combinations are held out; never change it after training


@dataclass(frozen=True)
class Scene:
    """One combination of attributes; ``layout == "pair"`` means two identical objects."""

    colour: str
    shape: str
    size: str
    layout: str
    background: str

    def __post_init__(self) -> None:
        for name in ATTRIBUTES:
            value = getattr(self, name)
            if value not in ATTRIBUTE_VALUES[name]:
                raise ValueError(f"expected {name} in {ATTRIBUTE_VALUES[name]}, got {value!r}")

    def labels(self) -> dict[str, int]:
        """Class index of each attribute (the classifier's targets)."""
        return {name: ATTRIBUTE_VALUES[name].index(getattr(self, name)) for name in ATTRIBUTES}


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


def caption(
    scene: Scene,
    rng: random.Random | None = None,
    drop_probability: float = 0.0,
) -> str:
    """The caption of ``scene``; with ``rng``, synonyms are drawn and size, position and
    background are each left out with ``drop_probability`` (training-time variety)."""

    def keep() -> bool:
        return rng is None or rng.random() >= drop_probability

    def word(w: str) -> str:
        if rng is None or w not in SYNONYMS or rng.random() < 0.5:
            return w
        return rng.choice(SYNONYMS[w])

    size = word(scene.size) + " " if keep() else ""
    if scene.layout == "pair":
        text = f"two {size}{scene.colour} {scene.shape}s side by side"
    else:
        text = f"{size}{scene.colour} {scene.shape}"
        text = ("an " if text[0] in "aeiou" else "a ") + text
        if keep():
            text += " " + POSITION_PHRASES[scene.layout]
    if keep():
        text += f" on a {scene.background} background"
    return text


def parse_caption(text: str) -> dict[str, str]:
    """The attributes a caption states (a grammar caption or a close variant); attributes the
    caption does not mention are absent from the result."""
    words = text.lower().replace(",", " ").split()
    found: dict[str, str] = {}
    for w in words:
        stem = w[:-1] if w.endswith("s") and w[:-1] in SHAPES else w
        if stem in COLOURS:
            found.setdefault("colour", stem)
        elif stem in SHAPES:
            found.setdefault("shape", stem)
        elif stem in BACKGROUNDS and "background" in words:
            found["background"] = stem  # the last colour-like word before "background"
    for main, alternatives in [(s, (s, *SYNONYMS.get(s, ()))) for s in SIZES]:
        if any(a in words for a in alternatives):
            found["size"] = main
    if "two" in words or "pair" in words:
        found["layout"] = "pair"
    else:
        for layout in ("left", "right", "top", "bottom"):
            if layout in words:
                found["layout"] = layout
    return found


# Phrases that state one attribute alone, in the forms a negative prompt takes ("green",
# "square", "big", "on the right", "black background", "two"). The first phrase of each value
# is the main one; training may use the others.
def attribute_phrases(name: str, value: str) -> tuple[str, ...]:
    """Phrases that state ``name == value`` on their own (the first is the main one)."""
    if name == "size":
        return (value, *SYNONYMS.get(value, ()))
    if name == "layout":
        return ("two", "side by side") if value == "pair" else (POSITION_PHRASES[value],)
    if name == "background":
        return (f"{value} background",)
    return (value,)


# The top contrast of each attribute value: the word a hand-written negative prompt would use
# against it. A pair of objects has no single-word contrast in the grammar.
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
    "layout": {"left": "right", "right": "left", "top": "bottom", "bottom": "top"},
    "background": {"white": "black", "black": "white"},
}
# Attribute order of the captions' grammar; partial captions and contrasts keep it.
CAPTION_ORDER = ("size", "colour", "shape", "layout", "background")


def partial_caption(scene: Scene, rng: random.Random, max_items: int = 5) -> str:
    """A comma-joined list of 1 to ``max_items`` phrases, each TRUE of ``scene`` and stating
    one attribute ("red", "big, on the left, white background"), in the grammar's order.

    Training captions of this form teach the model what an attribute alone looks like, so that
    a negative prompt of contrasting words means "images with those attributes".
    """
    k = rng.choices(range(1, max_items + 1), weights=[5, 4, 3, 2, 1][:max_items])[0]
    chosen = set(rng.sample(CAPTION_ORDER, k))
    parts = []
    for name in CAPTION_ORDER:
        if name not in chosen:
            continue
        value = getattr(scene, name)
        phrases = attribute_phrases(name, value)
        phrase = phrases[0] if rng.random() < 0.7 else rng.choice(phrases)
        if name == "shape" and scene.layout == "pair" and rng.random() < 0.5:
            phrase += "s"
        parts.append(phrase)
    return ", ".join(parts)


def contrast_negative(scene: Scene, attributes: Sequence[str] = CAPTION_ORDER) -> str:
    """The hand-written contrast negative of ``scene``: the top contrast of each of
    ``attributes`` ("big, green, square, on the right, black background" against
    "a small red circle on the left on a white background")."""
    parts = []
    for name in CAPTION_ORDER:
        value = getattr(scene, name)
        if name not in attributes or value not in CONTRASTS[name]:
            continue
        parts.append(attribute_phrases(name, CONTRASTS[name][value])[0])
    return ", ".join(parts)


def training_captions(seed: int, count: int) -> list[tuple[Scene, str]]:
    """``count`` (scene, caption) pairs drawn from the training combinations only."""
    train, _ = split_scenes()
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        scene = rng.choice(train)
        out.append((scene, caption(scene, rng, drop_probability=0.15)))
    return out


def held_out_prompts() -> list[str]:
    """Full captions of the held-out combinations (the benchmark's and the report's prompts)."""
    return [caption(scene) for scene in split_scenes()[1]]


# ---------------------------------------------------------------------------------------------
# Rendering


def _object_centres(scene: Scene, radius: float, rng: random.Random) -> list[tuple[float, float]]:
    """Centres (x, y) in pixels of the scene's objects, with a little jitter."""
    s = IMAGE_SIZE

    def jitter() -> float:
        return rng.uniform(-3.0, 3.0)

    mid = s / 2
    near, far = 0.31 * s, 0.69 * s  # 20 px and 44 px on a 64 px image
    if scene.layout == "pair":
        gap = max(radius + 2.0, 0.23 * s)
        return [(mid - gap + jitter(), mid + jitter()), (mid + gap + jitter(), mid + jitter())]
    x, y = {
        "left": (near, mid),
        "right": (far, mid),
        "top": (mid, near),
        "bottom": (mid, far),
    }[scene.layout]
    return [(x + jitter(), y + jitter())]


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


def render(scenes: Sequence[Scene], seed: int) -> torch.Tensor:
    """Images ``(B, 3, 64, 64)`` in [0, 1] of ``scenes``; deterministic in ``seed``.

    Edges are anti-aliased by a one-pixel ramp of the signed distance.
    """
    rng = random.Random(seed)
    images = torch.empty(len(scenes), 3, IMAGE_SIZE, IMAGE_SIZE)
    for i, scene in enumerate(scenes):
        grey = BACKGROUNDS[scene.background] + rng.uniform(-0.04, 0.04)
        colour = torch.tensor(
            [min(1.0, max(0.0, c + rng.uniform(-0.06, 0.06))) for c in COLOURS[scene.colour]]
        )
        radius = rng.uniform(6.5, 8.5) if scene.size == "small" else rng.uniform(12.0, 14.0)
        alpha = torch.zeros(IMAGE_SIZE, IMAGE_SIZE)
        for cx, cy in _object_centres(scene, radius, rng):
            sdf = _signed_distance(scene.shape, cx, cy, radius, _GRID)
            alpha = torch.maximum(alpha, (0.5 - sdf).clamp(0.0, 1.0))
        images[i] = grey + alpha * (colour[:, None, None] - grey)
    return images.clamp(0.0, 1.0)


def sample_batch(
    rng: random.Random, batch_size: int, scenes: Sequence[Scene] | None = None
) -> tuple[list[Scene], list[str], torch.Tensor]:
    """A random training batch: (scenes, captions with variety, images)."""
    pool = list(scenes) if scenes is not None else split_scenes()[0]
    chosen = [rng.choice(pool) for _ in range(batch_size)]
    texts = [caption(s, rng, drop_probability=0.15) for s in chosen]
    return chosen, texts, render(chosen, rng.randrange(2**31))
