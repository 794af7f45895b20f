"""Shared pieces of the benchmarks: model configs, the real ComfyUI path, measurement helpers,
machine description, JSON results and plots.

Every benchmark drives the method through ComfyUI's own MODEL/CLIP/VAE (``ComfyBackend``), the
same objects a user's workflow holds. Weights are random (no weights can be downloaded where
these figures were made): cost figures do not depend on weight values, search figures do (see
BENCHMARKS.md for what random weights can and cannot show).
"""

from __future__ import annotations

import json
import logging
import math
import os
import platform
import re
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
RESULTS_DIR = REPO_ROOT / "benchmarks" / "results"  # git-ignored
FIGURES_DIR = REPO_ROOT / "benchmarks" / "figures"  # small committed copies of the plots
DEFAULT_PROMPTS = REPO_ROOT.parent / "shared" / "data" / "prompts_dev.json"

log = logging.getLogger("benchmarks")

# --- model configs ----------------------------------------------------------------------------
# The cost benchmarks' CPU model is SD1.5's UNet at full width (320, context 768) with one
# level, the smallest layout ComfyUI's detector still calls SD1.5 (shared with the generated
# checkpoint), with the full CLIP-L text encoder and the full SD VAE. ``SD15_FULL_UNET`` (an
# empty override: the four-level 860M-parameter UNet) is what the GPU script runs. The small
# models of the search benchmark and the smoke test are the tests' (model_builders/layouts.py).
sys.path.append(str(REPO_ROOT))  # appended: ComfyUI's own top-level modules (``nodes``) win
sys.path.insert(0, str(REPO_ROOT / "scripts"))
from model_builders.layouts import (  # noqa: E402
    DETECTABLE_SD15_UNET as SD15_CPU_UNET,
)
from model_builders.layouts import (  # noqa: E402
    SD15_FULL_UNET,
    TINY_EVALUATOR,
    TINY_TEXT,
    TINY_UNET,
    TINY_VAE,
)

# The paper's main metric is CLIP ViT-B/32; its architecture with random weights is the cost
# benchmarks' scorer (scoring cost does not depend on the weights).
COST_SCORER_ARCH = "ViT-B-32-quickgelu"


@dataclass(frozen=True)
class ModelSpec:
    """Which SD1 models to build: UNet/text/VAE overrides of the SD1.5 layout and a scorer."""

    name: str
    unet: dict
    text: dict
    vae: dict
    scorer_arch: str  # open_clip architecture name, or "" for ``scorer_config``
    scorer_config: dict | None = None
    # Re-draw weight matrices as N(0, 1/fan_in): at the builders' N(0, 0.02) a narrow random
    # UNet barely reacts to its text, and every negative prompt would score the same.
    fan_in_init: bool = False


MODEL_SPECS: dict[str, ModelSpec] = {
    # full CLIP-L and VAE, full-width one-level UNet, ViT-B/32 scorer
    "sd15-cpu": ModelSpec("sd15-cpu", SD15_CPU_UNET, {}, {}, COST_SCORER_ARCH),
    # the full SD1.5 architecture (for a GPU)
    "sd15": ModelSpec("sd15", SD15_FULL_UNET, {}, {}, COST_SCORER_ARCH),
    # the tests' tiny world
    "tiny": ModelSpec("tiny", TINY_UNET, TINY_TEXT, TINY_VAE, "", TINY_EVALUATOR, True),
}


# --- environment ------------------------------------------------------------------------------
def setup(threads: int = 2, device: str = "cpu") -> None:
    """Logging, torch threads, the real ComfyUI on sys.path and this pack as ``dpo_diff``.

    ``device="cuda"`` lets ComfyUI use the GPU (its CPU flag is set by the bootstrap and read
    once, when ``comfy.model_management`` is first imported).
    """
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    import torch

    torch.set_num_threads(threads)
    sys.path.insert(0, str(REPO_ROOT / "scripts"))
    if str(REPO_ROOT) not in sys.path:  # for dpo_core; appended: ComfyUI owns the name `nodes`
        sys.path.append(str(REPO_ROOT))
    from comfy_env import bootstrap_comfy, load_pack

    bootstrap_comfy()
    if device != "cpu":
        from comfy.cli_args import args

        args.cpu = False
        import comfy.model_management  # noqa: F401  (reads args.cpu now, once)
    load_pack()


def build_models(spec: ModelSpec, seed: int = 0, dtype: Any = None) -> tuple[Any, Any, Any]:
    """(MODEL, CLIP, VAE) built with ComfyUI's classes, seeded random weights.

    ``dtype`` (e.g. ``torch.float16``) converts the UNet and the VAE; the text encoder stays in
    float32, as the differentiable text path computes in float32 anyway.
    """
    from dpo_diff.model_builders.sd1 import build_sd1_clip, build_sd1_model, build_sd1_vae

    parts = _cached_weights(spec, seed)
    model = build_sd1_model(spec.unet, state_dict=parts.get("unet"), seed=seed)
    clip = build_sd1_clip(spec.text, state_dict=parts.get("clip"), seed=seed + 1)
    vae = build_sd1_vae(spec.vae, state_dict=parts.get("vae"), seed=seed + 2)
    if not parts:
        if spec.fan_in_init:
            for i, module in enumerate(
                (model.model.diffusion_model, clip.cond_stage_model, vae.first_stage_model)
            ):
                fill_fan_in(module, seed + 10 + i)
        _save_weights(spec, seed, model, clip, vae)
    if dtype is not None:
        unet = model.model.diffusion_model
        unet.to(dtype)
        unet.dtype = dtype
        vae.first_stage_model.to(dtype)
        vae.vae_dtype = dtype
    return model, clip, vae


def fill_fan_in(module: Any, seed: int) -> None:
    """Weight matrices and kernels ~ N(0, 1/fan_in); norms and biases keep their values."""
    import torch

    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for param in module.parameters():
            if param.ndim >= 2:
                value = torch.randn(param.shape, generator=gen) / math.sqrt(param[0].numel())
                param.copy_(value.to(param.dtype))


WEIGHTS_CACHE = REPO_ROOT / ".cache" / "benchmarks"  # seeded random weights, made once


def _weights_path(spec: ModelSpec, seed: int) -> Path:
    return WEIGHTS_CACHE / f"{spec.name}-seed{seed}.safetensors"


def _cached_weights(spec: ModelSpec, seed: int) -> dict[str, dict[str, Any]]:
    """The seeded weights saved by an earlier run (filling 200M+ random values takes tens of
    seconds on a small CPU, reading them back well under one)."""
    path = _weights_path(spec, seed)
    if not path.is_file():
        return {}
    from safetensors.torch import load_file

    parts: dict[str, dict[str, Any]] = {"unet": {}, "clip": {}, "vae": {}}
    for key, value in load_file(str(path)).items():
        part, name = key.split("/", 1)
        parts[part][name] = value
    return parts


def _save_weights(spec: ModelSpec, seed: int, model: Any, clip: Any, vae: Any) -> None:
    from safetensors.torch import save_file

    state = {f"unet/{k}": v for k, v in model.model.diffusion_model.state_dict().items()}
    text = clip.get_sd().items()  # build_sd1_clip loads keys below "clip_l.transformer."
    state.update({f"clip/{k.removeprefix('clip_l.transformer.')}": v for k, v in text})
    state.update({f"vae/{k}": v for k, v in vae.get_sd().items()})
    path = _weights_path(spec, seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".partial")
    save_file({k: v.contiguous() for k, v in state.items()}, str(tmp))
    tmp.replace(path)


def build_backend(models: tuple[Any, Any, Any], steps: int, size: int, cfg: float = 7.5) -> Any:
    from dpo_diff.nodes.comfy_backend import ComfyBackend
    from dpo_diff.nodes.sampling_settings import SamplingSettings

    model, clip, vae = models
    settings = SamplingSettings(steps=steps, cfg=cfg, width=size, height=size)
    return ComfyBackend(model, clip, vae, settings)


def build_scorer(spec: ModelSpec, device: str = "cpu", seed: int = 0) -> Any:
    import torch

    from dpo_core.scorers import OpenClipScorer

    torch.manual_seed(seed)
    return OpenClipScorer.from_checkpoint(
        spec.scorer_arch or "custom", None, model_config=spec.scorer_config, device=device
    )


def parameter_count(module: Any) -> int:
    return sum(p.numel() for p in module.parameters())


# --- a small fixed search space for the cost benchmarks -----------------------------------------
def cost_space() -> Any:
    """A negative-mode space of six slots (about the size WordNet gives a short prompt)."""
    from dpo_core.space import SearchSpace, Slot

    words = {
        "red": ("", "green", "blue", "pale"),
        "cat": ("", "dog", "bird", "golden retriever"),
        "sitting": ("", "standing", "running"),
        "soft": ("", "hard", "rough", "sharp"),
        "mat": ("", "floor", "table"),
        "sunny": ("", "dark", "rainy", "cloudy", "night"),
    }
    return SearchSpace(
        prompt="a red cat sitting on a soft mat on a sunny day",
        mode="negative",
        slots=tuple(Slot(word, options) for word, options in words.items()),
    )


# --- measurement -------------------------------------------------------------------------------
def rss_kib() -> int:
    """Current resident set size of this process (KiB)."""
    return _status_field("VmRSS")


def peak_rss_kib() -> int:
    """Peak resident set size since the last ``reset_peak_rss`` (KiB)."""
    return _status_field("VmHWM")


def reset_peak_rss() -> bool:
    """Reset the kernel's peak-RSS mark to the current RSS; False where that is not allowed."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def _status_field(name: str) -> int:
    text = Path("/proc/self/status").read_text()
    match = re.search(rf"^{name}:\s+(\d+)\s+kB", text, re.MULTILINE)
    if match is None:
        raise RuntimeError(f"expected {name} in /proc/self/status (Linux only)")
    return int(match.group(1))


class SavedTensorMeter:
    """Bytes of distinct tensors autograd saves for backward inside the context, not counting
    the given parameters (weights are there anyway). All saved tensors live until backward, so
    the total at the end of the forward pass is their peak."""

    def __init__(self, exclude: Sequence[Any] = ()) -> None:
        self.exclude = {t.untyped_storage().data_ptr() for t in exclude}
        self.storages: dict[int, int] = {}

    def _pack(self, tensor: Any) -> Any:
        storage = tensor.untyped_storage()
        key = storage.data_ptr()
        if key not in self.exclude and key not in self.storages:
            self.storages[key] = storage.nbytes()
        return tensor

    def __enter__(self) -> SavedTensorMeter:
        import torch

        self._hooks = torch.autograd.graph.saved_tensors_hooks(self._pack, lambda t: t)
        self._hooks.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._hooks.__exit__(*exc)

    @property
    def total_bytes(self) -> int:
        return sum(self.storages.values())


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values)) if values else float("nan")


def spread(values: Sequence[float]) -> float:
    """Sample standard deviation (0 for fewer than two values)."""
    return float(statistics.stdev(values)) if len(values) > 1 else 0.0


# --- machine, results, plots ---------------------------------------------------------------------
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


def add_common_arguments(parser: Any) -> None:
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    parser.add_argument(
        "--out", type=Path, default=RESULTS_DIR, help="folder for the JSON and PNG results"
    )
    parser.add_argument(
        "--tiny", action="store_true", help="tiny models and sizes (seconds; the smoke test)"
    )
