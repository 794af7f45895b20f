"""Rendered training sets of the world, cached on disk so that every trainer reuses them."""

from __future__ import annotations

import logging
import os
import random
from dataclasses import dataclass
from pathlib import Path

import torch

from . import world

log = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parents[1]
CACHE_DIR = Path(os.environ.get("DPO_DIFF_CACHE", REPO_ROOT / ".cache")) / "tiny_world"
DATA_VERSION = 2  # bump when the world's rendering or labels change


@dataclass(frozen=True)
class WorldData:
    """Images with their scenes, defects, labels and one caption each (training combinations)."""

    images: torch.Tensor  # (N, 3, 64, 64) uint8
    labels: dict[str, torch.Tensor]  # attribute or defect -> (N,) class indices (defects 0/1)
    captions: list[str]

    def __len__(self) -> int:
        return len(self.captions)

    def floats(self, index: torch.Tensor) -> torch.Tensor:
        """Images ``index`` as floats in [0, 1]."""
        return self.images[index].float() / 255.0

    def scene(self, i: int) -> world.Scene:
        values = world.ATTRIBUTE_VALUES
        return world.Scene(**{a: values[a][int(self.labels[a][i])] for a in world.ATTRIBUTES})

    def defects(self, i: int) -> frozenset[str]:
        return frozenset(d for d in world.DEFECTS if int(self.labels[d][i]))


def render_dataset(seed: int, size: int) -> WorldData:
    """``size`` rendered training scenes, deterministic in ``seed`` (cached in .cache)."""
    path = CACHE_DIR / f"train_v{DATA_VERSION}_seed{seed}_n{size}.pt"
    if path.is_file():
        stored = torch.load(path, weights_only=True)
        return WorldData(stored["images"], stored["labels"], list(stored["captions"]))
    log.info("rendering %d training scenes (seed %d) into %s", size, seed, path)
    triples = world.training_captions(seed, size)
    images = torch.empty(size, 3, world.IMAGE_SIZE, world.IMAGE_SIZE, dtype=torch.uint8)
    rng = random.Random(seed + 1)
    for start in range(0, size, 256):
        chunk = triples[start : start + 256]
        rendered = world.render(
            [s for s, _, _ in chunk], rng.randrange(2**31), [d for _, d, _ in chunk]
        )
        images[start : start + len(chunk)] = (rendered * 255.0).round().to(torch.uint8)
    labels = {
        name: torch.tensor([s.labels()[name] for s, _, _ in triples]) for name in world.ATTRIBUTES
    }
    for defect in world.DEFECTS:
        labels[defect] = torch.tensor([int(defect in d) for _, d, _ in triples])
    data = WorldData(images, labels, [text for _, _, text in triples])
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"images": images, "labels": labels, "captions": data.captions}, path)
    return data
