"""The world's judges: an attribute classifier (exact faithfulness) and the CLIP evaluator's
training objective. Neither is the text encoder that conditions the diffusion model."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

from . import world

# Classifier heads: every attribute, then one present/absent head per defect.
HEADS: dict[str, tuple[str, ...]] = {
    **world.ATTRIBUTE_VALUES,
    **{d: ("absent", "present") for d in world.DEFECTS},
}


class AttributeClassifier(nn.Module):
    """A small CNN on 64x64 images with one head per attribute and per defect (``HEADS``)."""

    def __init__(self, width: int = 16) -> None:
        super().__init__()
        w = width

        def block(c_in: int, c_out: int) -> nn.Sequential:
            return nn.Sequential(
                nn.Conv2d(c_in, c_out, 3, stride=2, padding=1),
                nn.GroupNorm(8, c_out),
                nn.SiLU(),
                nn.Conv2d(c_out, c_out, 3, padding=1),
                nn.GroupNorm(8, c_out),
                nn.SiLU(),
            )

        # a full-resolution stem first: grain and blur live in the finest pixels
        self.stem = nn.Sequential(nn.Conv2d(3, w, 3, padding=1), nn.SiLU())
        # 64 -> 32 -> 16 -> 8 -> 4; the flattened 4x4 map keeps where things are
        self.features = nn.Sequential(
            block(w, w), block(w, 2 * w), block(2 * w, 4 * w), block(4 * w, 4 * w)
        )
        self.trunk = nn.Sequential(nn.Flatten(), nn.Linear(4 * w * 16, 128), nn.SiLU())
        self.heads = nn.ModuleDict({name: nn.Linear(128, len(v)) for name, v in HEADS.items()})

    def forward(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        """Images ``(B, 3, 64, 64)`` in [0, 1] -> logits per head ``(B, n_classes)``."""
        if images.shape[-2:] != (world.IMAGE_SIZE, world.IMAGE_SIZE):
            images = nn.functional.interpolate(
                images, size=(world.IMAGE_SIZE, world.IMAGE_SIZE), mode="bilinear", antialias=True
            )
        h = self.trunk(self.features(self.stem(images * 2.0 - 1.0)))
        return {name: head(h) for name, head in self.heads.items()}

    @torch.no_grad()
    def predict(self, images: torch.Tensor) -> list[dict[str, str]]:
        """The most likely value of every head, per image."""
        logits = self(images)
        picks = {name: logits[name].argmax(-1).tolist() for name in logits}
        return [{n: HEADS[n][picks[n][i]] for n in picks} for i in range(images.shape[0])]


@dataclass(frozen=True)
class Faithfulness:
    """How well images show what their captions state, by the attribute classifier.

    An image is *all right* when every attribute the caption states is right and it shows no
    defect the caption does not name (an unwanted extra counts as an error)."""

    per_image: list[float]  # fraction of the caption's stated attributes the image shows
    all_correct: list[bool]  # every stated attribute right and no unwanted defect
    per_attribute: dict[str, float]  # accuracy per attribute, over captions that state it
    defect_free: list[bool]  # no defect the caption does not name
    predictions: list[dict[str, str]]

    @property
    def mean(self) -> float:
        return sum(self.per_image) / max(1, len(self.per_image))

    @property
    def exact(self) -> float:
        return sum(self.all_correct) / max(1, len(self.all_correct))

    @property
    def clean(self) -> float:
        return sum(self.defect_free) / max(1, len(self.defect_free))


def defects_of(prediction: dict[str, str]) -> frozenset[str]:
    return frozenset(d for d in world.DEFECTS if prediction[d] == "present")


def faithfulness(
    classifier: AttributeClassifier, images: torch.Tensor, captions: Sequence[str]
) -> Faithfulness:
    """Score images against the attributes their captions state (``world.parse_caption``)."""
    if images.shape[0] != len(captions):
        raise ValueError(
            f"expected one caption per image, got {len(captions)} for {images.shape[0]}"
        )
    predictions = classifier.predict(images.float())
    per_image, all_correct, clean = [], [], []
    hits: dict[str, list[bool]] = {name: [] for name in (*world.ATTRIBUTES, "no defect")}
    for predicted, text in zip(predictions, captions):
        stated = world.parse_caption(text)
        if not stated:
            raise ValueError(f"expected a caption of the tiny world's grammar, got {text!r}")
        matches = [predicted[name] == value for name, value in stated.items()]
        for (name, _), ok in zip(stated.items(), matches):
            hits[name].append(ok)
        unwanted = defects_of(predicted) - world.named_defects(text)
        hits["no defect"].append(not unwanted)
        clean.append(not unwanted)
        per_image.append(sum(matches) / len(matches))
        all_correct.append(all(matches) and not unwanted)
    per_attribute = {n: sum(v) / len(v) for n, v in hits.items() if v}
    return Faithfulness(per_image, all_correct, per_attribute, clean, predictions)


def caption_match_matrix(
    scenes: Sequence[world.Scene], defects: Sequence[frozenset[str]], captions: Sequence[str]
) -> torch.Tensor:
    """``(B_images, B_captions)`` bool: the caption's stated attributes all hold for the scene
    and it names exactly the image's defects (a caption that names none means a clean image)."""
    stated = [(world.parse_caption(t), world.named_defects(t)) for t in captions]
    return torch.tensor(
        [
            [
                all(getattr(s, k) == v for k, v in attrs.items()) and named == d
                for attrs, named in stated
            ]
            for s, d in zip(scenes, defects)
        ]
    )


def soften(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """A little smoothing and noise, far milder than the blur and grain defects, so the judges
    also read the slightly soft images a decoder makes."""
    b = images.shape[0]
    kernel = torch.tensor([1.0, 2.0, 1.0])
    kernel = (kernel[:, None] * kernel[None, :]) / 16.0
    smooth = nn.functional.conv2d(
        nn.functional.pad(images, (1, 1, 1, 1), mode="replicate"),
        kernel.expand(3, 1, 3, 3),
        groups=3,
    )
    amount = 0.6 * torch.rand(b, 1, 1, 1, generator=generator)
    noise = torch.randn(images.shape, generator=generator) * 0.012
    return (images + amount * (smooth - images) + noise).clamp(0.0, 1.0)


def changed_scene(scene: world.Scene, attribute: str, shift: int = 1) -> world.Scene:
    """``scene`` with one attribute moved to another value (a wrong caption's scene)."""
    values = world.ATTRIBUTE_VALUES[attribute]
    return scene.replace(
        **{attribute: values[(values.index(getattr(scene, attribute)) + shift) % len(values)]}
    )


def hard_negative_caption(scene: world.Scene, defects: frozenset[str], rng: random.Random) -> str:
    """A caption that is wrong for the image in one way: one attribute changed, an absent
    defect named, or a present defect left out."""
    u = rng.random()
    if u < 0.65:
        attribute = rng.choice(world.ATTRIBUTES)
        shift = rng.randrange(1, len(world.ATTRIBUTE_VALUES[attribute]))
        return world.caption(changed_scene(scene, attribute, shift), defects=defects)
    if defects and u < 0.85:
        keep = set(defects) - {rng.choice(sorted(defects))}
        return world.caption(scene, defects=keep)
    absent = [d for d in world.DEFECTS if d not in defects]
    if not absent:
        return world.caption(scene, defects=set(defects) - {"blurry"})
    return world.caption(scene, defects={*defects, rng.choice(absent)})


def twin_scene(
    scene: world.Scene, defects: frozenset[str], training: set[world.Scene], rng: random.Random
) -> tuple[world.Scene, frozenset[str]]:
    """A second picture that differs from ``(scene, defects)`` in one way: the defects toggled
    (a clean image gets one, a defective one loses them) or one attribute changed to another
    training combination. In one batch with the first, it makes the caption of each a wrong
    answer for the other image, which the contrastive loss over random images rarely does."""

    def toggled() -> frozenset[str]:
        return frozenset() if defects else frozenset({rng.choice(list(world.DEFECTS))})

    if rng.random() < 0.6:
        return scene, toggled()
    options = [
        changed_scene(scene, a, shift)
        for a in world.ATTRIBUTES
        for shift in range(1, len(world.ATTRIBUTE_VALUES[a]))
    ]
    options = [o for o in options if o in training]
    if not options:  # no training combination one change away: toggle the defects instead
        return scene, toggled()
    return rng.choice(options), defects


def evaluator_ranking(
    evaluator, images: torch.Tensor, scenes: Sequence[world.Scene], attribute: str
) -> float:
    """Share of clean images whose true caption the evaluator scores above the caption with
    ``attribute`` changed (an attribute, or a defect: the caption naming it wrongly)."""
    true = [world.caption(s) for s in scenes]
    if attribute in world.DEFECTS:
        wrong = [world.caption(s, defects=(attribute,)) for s in scenes]
    else:
        wrong = [world.caption(changed_scene(s, attribute)) for s in scenes]
    with torch.no_grad():
        img = nn.functional.normalize(evaluator.embed_images(images), dim=-1)
        t = nn.functional.normalize(evaluator.embed_texts(true), dim=-1)
        w = nn.functional.normalize(evaluator.embed_texts(wrong), dim=-1)
    return ((img * t).sum(-1) > (img * w).sum(-1)).float().mean().item()


def defect_separation(
    evaluator, clean: torch.Tensor, defective: torch.Tensor, scenes: Sequence[world.Scene]
) -> float:
    """Share of pairs (same scene) where the clean image scores above the defective one
    against the plain caption: does the judge see an unwanted extra?"""
    texts = [world.caption(s) for s in scenes]
    with torch.no_grad():
        t = nn.functional.normalize(evaluator.embed_texts(texts), dim=-1)
        a = (nn.functional.normalize(evaluator.embed_images(clean), dim=-1) * t).sum(-1)
        b = (nn.functional.normalize(evaluator.embed_images(defective), dim=-1) * t).sum(-1)
    return (a > b).float().mean().item()
