"""Small pictures the nodes output: an image grid and a loss curve (PIL only, no plotting lib)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from PIL import Image, ImageDraw


def grid(rows: Sequence[torch.Tensor]) -> torch.Tensor:
    """Rows of images ``(N, 3, H, W)`` in [0, 1] -> one ComfyUI IMAGE ``(1, rows*H, N*W, 3)``."""
    lines = [torch.cat(list(r.detach().float().cpu()), dim=-1) for r in rows]  # (3, H, N*W)
    return torch.cat(lines, dim=-2).movedim(0, -1)[None].clamp(0, 1)


def loss_curve(values: Sequence[float], width: int = 512, height: int = 256) -> torch.Tensor:
    """A line plot of ``values`` as a ComfyUI IMAGE ``(1, height, width, 3)``."""
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    margin = 28
    draw.rectangle([margin, 8, width - 8, height - margin], outline=(160, 160, 160))
    if values:
        lo, hi = min(values), max(values)
        span = (hi - lo) or 1.0
        n = max(len(values) - 1, 1)
        points = [
            (
                margin + (width - 8 - margin) * i / n,
                8 + (height - margin - 8) * (1 - (v - lo) / span),
            )
            for i, v in enumerate(values)
        ]
        if len(points) > 1:
            draw.line(points, fill=(30, 90, 200), width=2)
        for x, y in points:
            draw.ellipse([x - 2, y - 2, x + 2, y + 2], fill=(30, 90, 200))
        draw.text((margin + 4, 10), f"max {hi:.4f}", fill=(60, 60, 60))
        draw.text((margin + 4, height - margin - 14), f"min {lo:.4f}", fill=(60, 60, 60))
    draw.text(
        (margin, height - margin + 6), f"relaxed loss per iteration ({len(values)})", fill=(0, 0, 0)
    )
    array = np.asarray(image, dtype=np.float32) / 255.0
    return torch.from_numpy(array)[None]
