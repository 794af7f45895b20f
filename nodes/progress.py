"""dpo_core's progress callback turned into ComfyUI's progress bar, preview, Cancel and a run
record on disk that is rewritten after every evaluated batch."""

from __future__ import annotations

import logging
from pathlib import Path

import comfy.model_management
import comfy.utils
import torch
from PIL import Image

from dpo_core.run import Progress

log = logging.getLogger(__name__)

PREVIEW_SIZE = 512


def tensor_to_pil(image: torch.Tensor) -> Image.Image:
    """(1, 3, H, W) or (3, H, W) in [0, 1] -> RGB PIL image."""
    if image.ndim == 4:
        image = image[0]
    array = (image.detach().float().clamp(0, 1).movedim(0, -1) * 255).round().byte().cpu().numpy()
    return Image.fromarray(array, "RGB")


class NodeProgress:
    """A dpo_core callback: a progress bar for every phase (gradient iterations, evaluations,
    held-out scoring) with a preview on the node (the image the gradient iteration scored, its
    x0 estimate; later the best image so far), the record saved as the run goes (so an
    interrupted run loses no evaluated candidate), Cancel, and the held-out images the run
    generated (``holdout_images``), so the before/after grid needs no second generation."""

    def __init__(self, record_path: Path | None, node_id: str | None = None) -> None:
        self.record_path = record_path
        self.bar = comfy.utils.ProgressBar(1, node_id=node_id)
        self.holdout_images: torch.Tensor | None = None
        self.phases: list[str] = []  # in the order they reported, for the log and the tests

    def __call__(self, progress: Progress) -> bool:
        record = progress.get("record")
        if record is not None and self.record_path is not None:
            record.save(self.record_path)
        phase = progress.get("phase", "")
        if not self.phases or self.phases[-1] != phase:
            self.phases.append(phase)
        if progress.get("holdout_images") is not None:
            self.holdout_images = progress["holdout_images"]
        image = progress.get("preview") if phase == "gradient" else None
        if image is None:
            image = progress.get("image")
        preview = None if image is None else ("JPEG", tensor_to_pil(image), PREVIEW_SIZE)
        total = max(int(progress.get("total") or 1), 1)
        self.bar.update_absolute(min(int(progress.get("iteration", 0)), total), total, preview)
        # Cancel takes effect here, after the record of everything evaluated so far is on disk.
        comfy.model_management.throw_exception_if_processing_interrupted()
        return True
