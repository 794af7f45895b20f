"""Cost of one gradient iteration vs. the number of sampling steps: shortcut (K = 1, 2, 4) and
full gradient, on the SD1.5 architecture through ComfyUI (benchmark 1 of BENCHMARKS.md).

One iteration is what GPO does per step: a Gumbel-softmax sample, the relaxed text through the
text encoder, the latent at step t sampled without gradient (shortcut) or from pure noise with
gradient (full), K guided model calls with gradient, the x0 estimate decoded by the VAE, the
CLIP loss, backward, and the optimizer step. t = round(0.3 * steps), the start of the
reference's walk (15 of 50).

Memory, two measures per configuration, each in a fresh process:
* activations: bytes of the tensors autograd saves for backward (weights excluded), which all
  live until backward, so their total is their peak;
* peak RSS growth: the process's peak resident memory during the first gradient iteration
  minus its resident memory just before (the kernel's peak mark is reset after a no-gradient
  warm-up pass).
Time: median wall time of ``--repeats`` iterations (the first one included); the prefix time is
the no-gradient sampling down to step t alone.

Run: python benchmarks/gradient_cost.py [--size 64] [--steps 5 10 20 50] [--repeats 2]
"""

from __future__ import annotations

import argparse
import json
import logging
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common  # noqa: E402

log = logging.getLogger("benchmarks.gradient_cost")
RESULT_PREFIX = "RESULT "


@dataclass(frozen=True)
class CostCase:
    """One configuration measured in one process."""

    model: str  # a key of common.MODEL_SPECS
    size: int  # image side in pixels
    steps: int  # sampling steps
    mode: str  # "shortcut" or "full"
    grad_steps: int  # K (shortcut); ignored by full
    repeats: int = 2
    threads: int = 2

    @property
    def label(self) -> str:
        return f"shortcut K={self.grad_steps}" if self.mode == "shortcut" else "full"


class GradientIteration:
    """The state of a GPO run on a fixed space, and one iteration of it."""

    def __init__(self, backend: Any, scorer: Any, space: Any) -> None:
        import torch

        from dpo_core.config import GPOConfig
        from dpo_core.optimizers import OPTIMIZERS
        from dpo_core.relaxation import tokenize_candidates

        self.backend, self.scorer, self.space = backend, scorer, space
        self.config = GPOConfig()
        # Option 1 favoured, so every sample puts text in every slot (a fixed graph size).
        self.logits = []
        for n in space.sizes:
            a = torch.zeros(n)
            a[1] = 3.0
            self.logits.append(a.requires_grad_(True))
        kind, c = OPTIMIZERS[self.config.optimizer], self.config
        self.optimizer = kind.make(self.logits, c.learning_rate, c.momentum)
        self.candidates = tokenize_candidates(backend, space)
        with torch.no_grad():
            self.fixed = backend.encode_text([space.prompt])
            self.target = scorer.embed_texts([space.prompt]).detach()
        self.noise = backend.noise([0])

    def start_step(self, steps: int) -> int:
        return min(round(self.config.step_start_fraction * steps), steps - 1)

    def loss(self, mode: str, step: int, grad_steps: int) -> Any:
        import torch

        from dpo_core.gpo import relaxed_loss
        from dpo_core.relaxation import gumbel_softmax

        weights = gumbel_softmax(self.logits, 1.0, False, torch.Generator().manual_seed(0))
        return relaxed_loss(
            self.backend, self.scorer, self.space, weights, self.noise, self.fixed, self.target,
            gradient=mode, step=step, grad_steps=grad_steps, candidates=self.candidates,
        )  # fmt: skip

    def step(self, mode: str, step: int, grad_steps: int, meter: Any = None) -> float:
        """One full iteration (forward, backward, clip, optimizer step, clamp); returns the loss."""
        import torch

        self.optimizer.zero_grad(set_to_none=True)
        if meter is not None:
            with meter:
                loss = self.loss(mode, step, grad_steps)
        else:
            loss = self.loss(mode, step, grad_steps)
        loss.backward()
        torch.nn.utils.clip_grad_value_(self.logits, self.config.grad_clip)
        self.optimizer.step()
        with torch.no_grad():
            for a in self.logits:
                a.clamp_(self.config.logit_min, self.config.logit_max)
        return float(loss.detach())

    def prefix_seconds(self, step: int) -> float:
        """The no-gradient sampling from noise down to ``step`` alone."""
        from dpo_core.shortcut import latent_at_step

        args = (self.backend, self.noise, self.fixed, self.fixed, step)
        return common.timed(lambda: latent_at_step(*args))[0]


def all_weights(backend: Any, scorer: Any) -> list[Any]:
    modules = [backend.model.model, backend.encoder, backend.vae.first_stage_model, scorer]
    return [t for m in modules for t in (*m.parameters(), *m.buffers())]


def measure(case: CostCase, models: Any = None, scorer: Any = None) -> dict[str, Any]:
    """Measure one configuration in this process (the worker's job; also the smoke test's)."""
    import torch
    from dpo_diff.nodes.inference_tensors import gradient_mode

    spec = common.MODEL_SPECS[case.model]
    models = models or common.build_models(spec)
    scorer = scorer or common.build_scorer(spec)
    backend = common.build_backend(models, case.steps, case.size)
    it = GradientIteration(backend, scorer, common.cost_space())
    t = it.start_step(case.steps)
    k = min(case.grad_steps, case.steps - t) if case.mode == "shortcut" else case.steps
    with gradient_mode():
        with torch.no_grad():  # warm-up: every module once, no graph
            it.loss("shortcut", t, 1)
        meter = common.SavedTensorMeter(all_weights(backend, scorer))
        rss_before = common.rss_kib()
        peak_reset = common.reset_peak_rss()
        first, loss = common.timed(lambda: it.step(case.mode, t, case.grad_steps, meter))
        rss_peak = common.peak_rss_kib()
        times = [first]
        for _ in range(case.repeats - 1):
            times.append(common.timed(lambda: it.step(case.mode, t, case.grad_steps))[0])
        prefix = it.prefix_seconds(t) if case.mode == "shortcut" else 0.0
    return {
        **asdict(case),
        "label": case.label,
        "start_step": t if case.mode == "shortcut" else 0,
        "model_calls_with_grad": k,
        "saved_activation_mib": meter.total_bytes / 2**20,
        "peak_rss_growth_mib": (rss_peak - rss_before) / 1024 if peak_reset else float("nan"),
        "seconds": common.median(times),
        "seconds_all": times,
        "prefix_seconds": prefix,
        "loss": loss,
        "unet_parameters": common.parameter_count(backend.model.model.diffusion_model),
        "text_parameters": common.parameter_count(backend.encoder),
        "vae_parameters": common.parameter_count(backend.vae.first_stage_model),
        "scorer_parameters": common.parameter_count(scorer),
    }


def run_worker(case: CostCase) -> dict[str, Any]:
    """Measure ``case`` in a fresh Python process (clean peak-memory figures)."""
    command = [sys.executable, __file__, "--worker", json.dumps(asdict(case))]
    proc = subprocess.run(command, capture_output=True, text=True)
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith(RESULT_PREFIX):
            return json.loads(line[len(RESULT_PREFIX) :])
    tail = (proc.stderr or proc.stdout)[-2000:]
    log.warning(
        "%s at %d steps failed (exit %d): %s", case.label, case.steps, proc.returncode, tail
    )
    return {**asdict(case), "label": case.label, "failed": True, "error": tail[-500:]}


def cases(args: argparse.Namespace) -> list[CostCase]:
    out = []
    for steps in args.steps:
        for k in args.grad_steps:
            out.append(
                CostCase(args.model, args.size, steps, "shortcut", k, args.repeats, args.threads)
            )
        if steps <= args.max_full_steps:
            out.append(
                CostCase(args.model, args.size, steps, "full", steps, args.repeats, args.threads)
            )
    return out


def ratios(results: list[dict[str, Any]], low: int, high: int) -> dict[str, float]:
    """shortcut(high)/shortcut(low) and full/shortcut(K=1) at equal steps. A ratio over a zero
    measurement (an RSS growth below the kernel's page accounting, say) is left out."""
    ok = {(r["label"], r["steps"]): r for r in results if not r.get("failed")}
    out: dict[str, float] = {}

    def put(name: str, numerator: float, denominator: float) -> None:
        if denominator:
            out[name] = numerator / denominator

    for key in ("saved_activation_mib", "peak_rss_growth_mib", "seconds", "gradient_seconds"):
        for label in sorted({lab for lab, _ in ok if lab.startswith("shortcut")}):
            if (label, low) in ok and (label, high) in ok:
                put(
                    f"{label} {key}: {high}/{low} steps",
                    ok[(label, high)][key],
                    ok[(label, low)][key],
                )
        for steps in sorted({s for _, s in ok}):
            if ("full", steps) in ok and ("shortcut K=1", steps) in ok:
                name = f"full/shortcut K=1 {key} at {steps} steps"
                put(name, ok[("full", steps)][key], ok[("shortcut K=1", steps)][key])
    return out


def report(results: list[dict[str, Any]], info: dict[str, Any], args: argparse.Namespace) -> dict:
    for r in results:  # the iteration without its no-gradient prefix
        if not r.get("failed"):
            r["gradient_seconds"] = r["seconds"] - r["prefix_seconds"]
    rows = [
        [r["label"], r["steps"], r.get("start_step", "-"), r.get("model_calls_with_grad", "-"),
         r.get("saved_activation_mib", float("nan")), r.get("peak_rss_growth_mib", float("nan")),
         r.get("seconds", float("nan")), r.get("prefix_seconds", float("nan")),
         r.get("gradient_seconds", float("nan")), "failed" if r.get("failed") else ""]
        for r in results
    ]  # fmt: skip
    headers = ["gradient", "steps", "t", "calls w/ grad", "saved act. MiB", "peak RSS +MiB",
               "s / iteration", "no-grad prefix s", "s without prefix", ""]  # fmt: skip
    print(common.format_table(headers, rows))
    low, high = (10, 50) if {10, 50} <= set(args.steps) else (min(args.steps), max(args.steps))
    found = ratios(results, low, high)
    print()
    print(common.format_table(["ratio", "value"], [[k, v] for k, v in found.items()]))
    data = {
        "machine": info,
        "arguments": _jsonable(vars(args)),
        "results": results,
        "ratios": found,
    }
    name = "gradient_cost" + ("_tiny" if args.tiny else "")
    common.write_json(args.out, name, data)
    panels = []
    for key, title in (("saved_activation_mib", "activations saved for backward (MiB)"),
                       ("peak_rss_growth_mib", "peak RSS growth (MiB)"),
                       ("seconds", "seconds per iteration")):  # fmt: skip
        series = []
        for label in dict.fromkeys(r["label"] for r in results):
            points = [(r["steps"], r[key]) for r in results if r["label"] == label and key in r]
            if points:
                xs, ys = zip(*points)
                series.append(common.Series(label, tuple(xs), tuple(ys)))
        panels.append((title, "sampling steps", title.split(" (")[0], series))
    common.plot_panels(args.out / f"{name}.png", panels)
    return data


def _jsonable(values: dict[str, Any]) -> dict[str, Any]:
    return {k: str(v) if isinstance(v, Path) else v for k, v in values.items()}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    common.add_common_arguments(parser)
    parser.add_argument("--model", default="sd15-cpu", choices=sorted(common.MODEL_SPECS))
    parser.add_argument("--size", type=int, default=64, help="image side in pixels")
    parser.add_argument("--steps", type=int, nargs="+", default=[5, 10, 20, 50])
    parser.add_argument("--grad-steps", type=int, nargs="+", default=[1, 2, 4], help="K values")
    parser.add_argument("--max-full-steps", type=int, default=50, help="skip full beyond this")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument(
        "--in-process", action="store_true", help="no fresh process per case (peak RSS unreliable)"
    )
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument(
        "--from-json", type=Path, help="print the tables and redraw the plot of an earlier run"
    )
    args = parser.parse_args(argv)
    if args.from_json:
        data = json.loads(args.from_json.read_text(encoding="utf-8"))
        args.steps = sorted({r["steps"] for r in data["results"]})
        args.tiny = args.from_json.stem.endswith("_tiny")
        return report(data["results"], data["machine"], args)
    if args.worker:
        case = CostCase(**json.loads(args.worker))
        common.setup(case.threads)
        print(RESULT_PREFIX + json.dumps(measure(case)), flush=True)
        return {}
    if args.tiny:
        args.model, args.size, args.steps, args.grad_steps = "tiny", 32, [2, 4], [1, 2]
        args.repeats, args.in_process = 1, True
    common.setup(args.threads)
    info = common.machine_info()
    results = []
    started = time.perf_counter()
    shared = None
    for case in cases(args):
        log.info("measuring %s at %d steps", case.label, case.steps)
        if args.in_process:
            spec = common.MODEL_SPECS[case.model]
            shared = shared or (common.build_models(spec), common.build_scorer(spec))
            results.append(measure(case, *shared))
        else:
            results.append(run_worker(case))
    info["benchmark_seconds"] = time.perf_counter() - started
    return report(results, info, args)


if __name__ == "__main__":
    main()
