"""Where the benchmarks read prompts and write results."""

from __future__ import annotations

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
RESULTS_DIR = REPO_ROOT / "benchmarks" / "results"  # git-ignored
FIGURES_DIR = REPO_ROOT / "benchmarks" / "figures"  # small committed copies of the plots
DEFAULT_PROMPTS = REPO_ROOT.parent / "shared" / "data" / "prompts_dev.json"
