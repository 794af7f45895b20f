"""Checks over the tracked files themselves: nothing in the project may depend on where one
machine keeps its checkout."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
# Absolute paths of the kind a machine leaks: a home, a workspace, a temporary build folder.
MACHINE_PATH = re.compile(r"(?<![\w.])/(?:work|home|root|Users|mnt|tmp/pytest-of)/[\w.-]+")
ALLOWED = {"LICENSE"}


def tracked_text_files() -> list[Path]:
    names = subprocess.run(
        ["git", "ls-files"], cwd=REPO_ROOT, check=True, capture_output=True, text=True
    ).stdout.split()
    files = []
    for name in names:
        path = REPO_ROOT / name
        if name in ALLOWED or not path.is_file():
            continue
        if path.suffix in {".png", ".jpg", ".safetensors", ".pt", ".bin"}:
            continue
        files.append(path)
    return files


def test_no_machine_path_in_tracked_files():
    found = []
    for path in tracked_text_files():
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        for number, line in enumerate(text.splitlines(), 1):
            if MACHINE_PATH.search(line):
                found.append(f"{path.relative_to(REPO_ROOT)}:{number}: {line.strip()}")
    assert not found, "absolute machine paths (use repository-relative ones):\n" + "\n".join(found)


def test_the_check_sees_a_machine_path():
    leaked = "/" + "work/shared/data/prompts_dev.json"  # built here, so this file holds none
    assert MACHINE_PATH.search(f'DEFAULT = Path("{leaked}")')
    assert not MACHINE_PATH.search("see ../shared/data/prompts_dev.json or /usr/share/wordnet")
