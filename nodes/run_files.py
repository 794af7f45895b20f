"""Where run records live: numbered JSON files under ComfyUI's output folder, ``output/dpo_diff/``."""

from __future__ import annotations

import re
from pathlib import Path

import folder_paths

RECORD_FOLDER = "dpo_diff"


def record_folder() -> Path:
    return Path(folder_paths.get_output_directory()) / RECORD_FOLDER


def record_path(prefix: str) -> Path:
    """A new numbered JSON file under ComfyUI's output folder."""
    out = record_folder()
    out.mkdir(parents=True, exist_ok=True)
    pattern = re.compile(rf"{prefix}_(\d+)\.json")
    numbers = [int(m.group(1)) for p in out.iterdir() if (m := pattern.fullmatch(p.name))]
    return out / f"{prefix}_{max(numbers, default=0) + 1:05d}.json"


def list_records() -> list[str]:
    folder = record_folder()
    if not folder.is_dir():
        return []
    return sorted((p.name for p in folder.glob("*.json")), reverse=True)
