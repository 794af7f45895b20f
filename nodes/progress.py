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
    """A dpo_core callback: progress bar with a preview of the best image, the record saved as the
    run goes (so an interrupted run loses no evaluated candidate), and Cancel."""

    def __init__(self, record_path: Path | None, node_id: str | None = None) -> None:
        self.record_path = record_path
        self.bar = comfy.utils.ProgressBar(1, node_id=node_id)

    def __call__(self, progress: Progress) -> bool:
        record = progress.get("record")
        if record is not None and self.record_path is not None:
            record.save(self.record_path)
        image = progress.get("image")
        preview = None
        if image is not None:
            preview = ("JPEG", tensor_to_pil(image), PREVIEW_SIZE)
        total = max(int(progress.get("total") or 1), 1)
        self.bar.update_absolute(min(int(progress.get("iteration", 0)), total), total, preview)
        # Cancel takes effect here, after the record of everything evaluated so far is on disk.
        comfy.model_management.throw_exception_if_processing_interrupted()
        return True
