"""What a finished search shows: the before/after grid on held-out seeds and the report text."""

from __future__ import annotations

import os
from pathlib import Path

import folder_paths
import torch

from dpo_core.evaluation import fixed_text, generate_images
from dpo_core.losses import distance
from dpo_core.record import RunRecord

from .comfy_backend import ComfyBackend
from .images import grid


def comparison_grid(
    backend: ComfyBackend,
    record: RunRecord,
    batch_size: int,
    holdout_images: torch.Tensor | None = None,
) -> torch.Tensor:
    """Original (top) and best (bottom) on the held-out seeds (the first search seed if none).
    ``holdout_images`` ``(2, seeds, 3, H, W)``, original then best, are the ones the run scored
    on the held-out seeds: given, nothing is generated again."""
    if holdout_images is not None:
        return grid(list(holdout_images))
    space, config = record.space, record.config
    seeds = list(config.holdout_seeds or config.search_seeds[:1])
    original = space.render(space.original_choice())
    best = record.best.text if record.best is not None else original
    fixed = fixed_text(space, config.negative_prompt)
    rows = []
    for text in (original, best):
        positives, negatives = ([fixed] * len(seeds), [text] * len(seeds))
        if space.mode == "positive":
            positives, negatives = negatives, positives
        rows.append(generate_images(backend, positives, negatives, seeds, batch_size))
    return grid(rows)


def report(record: RunRecord, path: Path | None = None) -> str:
    space = record.space
    original = space.render(space.original_choice())
    goal = "lower" if space.mode == "negative" else "higher"

    def shown(loss: float) -> str:  # recorded losses are signed; the report shows distances
        return f"{distance(loss, space.mode):.4f}"

    charged = record.gradient_evaluations
    lines = [
        f"mode: {space.mode} (distance image-prompt, {goal} is the goal)",
        f"method: {record.method}, {len(record.candidates)} candidates scored"
        + (f" + {charged} evaluations charged to the gradient phase" if charged else "")
        + f", budget {record.config.evaluations}"
        + (
            "\nstopped early: the run was cancelled (or ended by an error) before its budget; "
            "every candidate scored until then is kept"
            if record.stopped_early
            else ""
        ),
        f"original: {original!r}",
    ]
    if record.best is not None:
        lines.append(f"best:     {record.best.text!r}")
        seen_original = [c for c in record.candidates if c.choice == space.original_choice()]
        if seen_original:
            lines.append(
                f"search seeds: original {shown(seen_original[0].mean)} -> best "
                f"{shown(record.best.mean)}"
            )
        else:
            lines.append(f"search seeds: best {shown(record.best.mean)}")
    if record.holdout is not None:
        h = record.holdout
        lines.append(
            f"held-out seeds {list(h.seeds)}: original {shown(h.original_mean)} -> best "
            f"{shown(h.best_mean)}"
        )
    if path is not None:
        lines.append(f"record: {os.path.relpath(path, folder_paths.get_output_directory())}")
    return "\n".join(lines)
