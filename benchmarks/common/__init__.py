"""Shared pieces of the benchmarks, one job a module: ``paths``, ``cli`` (set-up, arguments),
``models`` (specs, builders, backend, scorer), ``meters`` (time, memory), ``results`` (machine,
JSON, tables, plots). The scripts use them as ``common.<name>``.

Every benchmark drives the method through ComfyUI's own MODEL/CLIP/VAE (``ComfyBackend``), the
same objects a user's workflow holds. Weights are random (no weights can be downloaded where
these figures were made): cost figures do not depend on weight values, search figures do (see
BENCHMARKS.md for what random weights can and cannot show).
"""

from .cli import add_common_arguments, setup
from .meters import (
    SavedTensorMeter,
    median,
    peak_rss_kib,
    reset_peak_rss,
    rss_kib,
    spread,
    timed,
)
from .models import (
    COST_SCORER_ARCH,
    MODEL_SPECS,
    ModelSpec,
    build_backend,
    build_models,
    build_scorer,
    cost_space,
    parameter_count,
)
from .paths import DEFAULT_PROMPTS, FIGURES_DIR, REPO_ROOT, RESULTS_DIR
from .results import Series, format_table, git_commit, machine_info, plot_panels, write_json

__all__ = [
    "COST_SCORER_ARCH", "DEFAULT_PROMPTS", "FIGURES_DIR", "MODEL_SPECS", "REPO_ROOT",
    "RESULTS_DIR", "ModelSpec", "SavedTensorMeter", "Series", "add_common_arguments",
    "build_backend", "build_models", "build_scorer", "cost_space", "format_table", "git_commit",
    "machine_info", "median", "parameter_count", "peak_rss_kib", "plot_panels", "reset_peak_rss",
    "rss_kib", "setup", "spread", "timed", "write_json",
]  # fmt: skip
