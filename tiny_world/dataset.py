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


@dataclass(frozen=True)
class WorldData:
    """Images with their scenes' labels and one caption each (training combinations only)."""

    images: torch.Tensor  # (N, 3, 64, 64) uint8
    labels: dict[str, torch.Tensor]  # attribute -> (N,) class indices
    captions: list[str]

    def __len__(self) -> int:
        return len(self.captions)

    def floats(self, index: torch.Tensor) -> torch.Tensor:
        """Images ``index`` as floats in [0, 1]."""
        return self.images[index].float() / 255.0


def render_dataset(seed: int, size: int) -> WorldData:
    """``size`` rendered training scenes, deterministic in ``seed`` (cached in .cache)."""
    path = CACHE_DIR / f"train_seed{seed}_n{size}.pt"
    if path.is_file():
        stored = torch.load(path, weights_only=True)
        return WorldData(stored["images"], stored["labels"], list(stored["captions"]))
    log.info("rendering %d training scenes (seed %d) into %s", size, seed, path)
    pairs = world.training_captions(seed, size)
    scenes = [scene for scene, _ in pairs]
    images = torch.empty(size, 3, world.IMAGE_SIZE, world.IMAGE_SIZE, dtype=torch.uint8)
    rng = random.Random(seed + 1)
    for start in range(0, size, 256):
        chunk = scenes[start : start + 256]
        rendered = world.render(chunk, rng.randrange(2**31))
        images[start : start + len(chunk)] = (rendered * 255.0).round().to(torch.uint8)
    labels = {name: torch.tensor([s.labels()[name] for s in scenes]) for name in world.ATTRIBUTES}
    data = WorldData(images, labels, [text for _, text in pairs])
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"images": images, "labels": labels, "captions": data.captions}, path)
    return data
