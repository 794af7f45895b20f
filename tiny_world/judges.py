"""The world's judges: an attribute classifier (exact faithfulness) and the CLIP evaluator's
training objective. Neither is the text encoder that conditions the diffusion model."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

from . import world


class AttributeClassifier(nn.Module):
    """A small CNN on 64x64 images with one head per attribute of ``world.ATTRIBUTES``
    (the ``layout`` head covers both position and count: left/right/top/bottom/pair)."""

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

        # 64 -> 32 -> 16 -> 8 -> 4; the flattened 4x4 map keeps where things are
        self.features = nn.Sequential(
            block(3, w), block(w, 2 * w), block(2 * w, 4 * w), block(4 * w, 4 * w)
        )
        self.trunk = nn.Sequential(nn.Flatten(), nn.Linear(4 * w * 16, 128), nn.SiLU())
        self.heads = nn.ModuleDict(
            {name: nn.Linear(128, len(values)) for name, values in world.ATTRIBUTE_VALUES.items()}
        )

    def forward(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        """Images ``(B, 3, 64, 64)`` in [0, 1] -> logits per attribute ``(B, n_classes)``."""
        if images.shape[-2:] != (world.IMAGE_SIZE, world.IMAGE_SIZE):
            images = nn.functional.interpolate(
                images, size=(world.IMAGE_SIZE, world.IMAGE_SIZE), mode="bilinear", antialias=True
            )
        h = self.trunk(self.features(images * 2.0 - 1.0))
        return {name: head(h) for name, head in self.heads.items()}

    @torch.no_grad()
    def predict(self, images: torch.Tensor) -> list[dict[str, str]]:
        """The most likely value of every attribute, per image."""
        logits = self(images)
        picks = {name: logits[name].argmax(-1).tolist() for name in logits}
        values = world.ATTRIBUTE_VALUES
        return [{n: values[n][picks[n][i]] for n in picks} for i in range(images.shape[0])]


@dataclass(frozen=True)
class Faithfulness:
    """How well images show what their captions state, by the attribute classifier."""

    per_image: list[float]  # fraction of the caption's stated attributes the image shows
    all_correct: list[bool]  # the image shows every stated attribute
    per_attribute: dict[str, float]  # accuracy per attribute, over captions that state it

    @property
    def mean(self) -> float:
        return sum(self.per_image) / max(1, len(self.per_image))

    @property
    def exact(self) -> float:
        return sum(self.all_correct) / max(1, len(self.all_correct))


def faithfulness(
    classifier: AttributeClassifier, images: torch.Tensor, captions: Sequence[str]
) -> Faithfulness:
    """Score images against the attributes their captions state (``world.parse_caption``)."""
    if images.shape[0] != len(captions):
        raise ValueError(
            f"expected one caption per image, got {len(captions)} for {images.shape[0]}"
        )
    predictions = classifier.predict(images.float())
    per_image, all_correct = [], []
    hits: dict[str, list[bool]] = {name: [] for name in world.ATTRIBUTES}
    for predicted, text in zip(predictions, captions):
        stated = world.parse_caption(text)
        if not stated:
            raise ValueError(f"expected a caption of the tiny world's grammar, got {text!r}")
        matches = [predicted[name] == value for name, value in stated.items()]
        for (name, _), ok in zip(stated.items(), matches):
            hits[name].append(ok)
        per_image.append(sum(matches) / len(matches))
        all_correct.append(all(matches))
    per_attribute = {n: sum(v) / len(v) for n, v in hits.items() if v}
    return Faithfulness(per_image, all_correct, per_attribute)


def caption_match_matrix(scenes: Sequence[world.Scene], captions: Sequence[str]) -> torch.Tensor:
    """``(B_images, B_captions)`` bool: the caption's stated attributes all hold for the scene
    (a batch may hold several true captions per image; contrastive targets use all of them)."""
    stated = [world.parse_caption(text) for text in captions]
    return torch.tensor(
        [[all(getattr(s, k) == v for k, v in attrs.items()) for attrs in stated] for s in scenes]
    )


def degrade(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Random blur and noise, so the judges also read the softer images a decoder makes."""
    b = images.shape[0]
    kernel = torch.tensor([1.0, 4.0, 6.0, 4.0, 1.0])
    kernel = (kernel[:, None] * kernel[None, :]) / 256.0
    blurred = nn.functional.conv2d(
        nn.functional.pad(images, (2, 2, 2, 2), mode="replicate"),
        kernel.expand(3, 1, 5, 5),
        groups=3,
    )
    amount = torch.rand(b, 1, 1, 1, generator=generator)
    noise = (
        torch.randn(images.shape, generator=generator)
        * 0.03
        * torch.rand(b, 1, 1, 1, generator=generator)
    )
    return (images + amount * (blurred - images) + noise).clamp(0.0, 1.0)


def changed_scene(scene: world.Scene, attribute: str, shift: int = 1) -> world.Scene:
    """``scene`` with one attribute moved to another value (a wrong caption's scene)."""
    values = world.ATTRIBUTE_VALUES[attribute]
    new = values[(values.index(getattr(scene, attribute)) + shift) % len(values)]
    return world.Scene(**{**{n: getattr(scene, n) for n in world.ATTRIBUTES}, attribute: new})


def evaluator_ranking(
    evaluator, images: torch.Tensor, scenes: Sequence[world.Scene], attribute: str
) -> float:
    """Share of images whose true caption the evaluator scores above the caption with
    ``attribute`` changed (cosine similarity of the embeddings)."""
    true = [world.caption(s) for s in scenes]
    wrong = [world.caption(changed_scene(s, attribute)) for s in scenes]
    with torch.no_grad():
        img = nn.functional.normalize(evaluator.embed_images(images), dim=-1)
        t = nn.functional.normalize(evaluator.embed_texts(true), dim=-1)
        w = nn.functional.normalize(evaluator.embed_texts(wrong), dim=-1)
    return ((img * t).sum(-1) > (img * w).sum(-1)).float().mean().item()
