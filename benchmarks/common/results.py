"""Reporting: the machine, the commit, JSON results, tables and plots."""

from __future__ import annotations

import json
import logging
import os
import platform
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .paths import REPO_ROOT

log = logging.getLogger("benchmarks")


def machine_info() -> dict[str, Any]:
    import torch

    cpu = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    info = {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "commit": git_commit(),
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
    }
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
    return info


def git_commit() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            check=True,
        )
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no", "--", "dpo_core", "nodes"],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            check=True,
        )
        return out.stdout.strip() + ("+local-changes" if dirty.stdout.strip() else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def write_json(out_dir: Path, name: str, data: dict[str, Any]) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{name}.json"
    path.write_text(json.dumps(data, indent=2, default=str), encoding="utf-8")
    log.info("wrote %s", path)
    return path


@dataclass(frozen=True)
class Series:
    """One line of a plot."""

    label: str
    x: tuple[float, ...]
    y: tuple[float, ...]
    spread: tuple[float, ...] = ()  # optional +- band, one per point


def plot_panels(
    path: Path,
    panels: Sequence[tuple[str, str, str, Sequence[Series]]],
    log_y: bool = False,
) -> Path:
    """Side-by-side line plots, one per (title, x label, y label, series); matplotlib when it is
    installed (the ``bench`` extra), a plain PIL drawing otherwise."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        _plot_pil(path, panels)
        log.info("wrote %s (PIL; install matplotlib for nicer plots)", path)
        return path
    fig, axes = plt.subplots(1, len(panels), figsize=(5.2 * len(panels), 4.0), squeeze=False)
    for ax, (title, xlabel, ylabel, series) in zip(axes[0], panels):
        for s in series:
            ax.plot(s.x, s.y, marker="o", markersize=3, label=s.label)
            if s.spread:
                low = [y - d for y, d in zip(s.y, s.spread)]
                high = [y + d for y, d in zip(s.y, s.spread)]
                ax.fill_between(s.x, low, high, alpha=0.15)
        ax.set_title(title, fontsize=10)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        if log_y:
            ax.set_yscale("log")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    log.info("wrote %s", path)
    return path


_COLOURS = [(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189),
            (140, 86, 75), (227, 119, 194), (127, 127, 127)]  # fmt: skip


def _plot_pil(path: Path, panels: Sequence[tuple[str, str, str, Sequence[Series]]]) -> None:
    from PIL import Image, ImageDraw

    width, height, margin = 420, 320, 50
    image = Image.new("RGB", (width * len(panels), height), "white")
    draw = ImageDraw.Draw(image)
    for p, (title, xlabel, ylabel, series) in enumerate(panels):
        left = p * width
        points = [(x, y) for s in series for x, y in zip(s.x, s.y) if y == y]
        if not points:
            continue
        x0, x1 = min(x for x, _ in points), max(x for x, _ in points)
        y0, y1 = min(y for _, y in points), max(y for _, y in points)
        x1, y1 = (x1 if x1 > x0 else x0 + 1), (y1 if y1 > y0 else y0 + 1)

        def to_px(x: float, y: float, x0=x0, x1=x1, y0=y0, y1=y1, left=left) -> tuple:
            px = left + margin + (x - x0) / (x1 - x0) * (width - 2 * margin)
            py = height - margin - (y - y0) / (y1 - y0) * (height - 2 * margin)
            return px, py

        draw.rectangle(
            [left + margin, margin, left + width - margin, height - margin], outline="black"
        )
        draw.text((left + margin, 10), title, fill="black")
        draw.text((left + margin, height - 20), f"{xlabel}: {x0:g} .. {x1:g}", fill="black")
        draw.text((left + 5, 28), f"{ylabel}: {y0:.3g} .. {y1:.3g}", fill="black")
        for i, s in enumerate(series):
            colour = _COLOURS[i % len(_COLOURS)]
            line = [to_px(x, y) for x, y in zip(s.x, s.y) if y == y]
            if len(line) > 1:
                draw.line(line, fill=colour, width=2)
            draw.text((left + margin + 5, margin + 5 + 12 * i), s.label, fill=colour)
    image.save(path)


def format_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A GitHub-markdown table (also readable in a terminal)."""
    cells = [[_cell(v) for v in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(headers)]
    lines = ["| " + " | ".join(h.ljust(w) for h, w in zip(headers, widths)) + " |"]
    lines.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    lines += ["| " + " | ".join(c.ljust(w) for c, w in zip(r, widths)) + " |" for r in cells]
    return "\n".join(lines)


def _cell(value: Any) -> str:
    if isinstance(value, float):
        if value != value:
            return "-"
        return f"{value:.4g}"
    return str(value)
