"""Benchmarks 1-3 at full size on a GPU, and one full hybrid run (benchmark 5 of BENCHMARKS.md).

SD1.5 architecture (four-level UNet, CLIP-L, SD VAE), 512x512, UNet and VAE in float16, random
weights (none can be downloaded where this was written), CLIP ViT-B/32 scorer, through
ComfyUI's MODEL/CLIP/VAE on the GPU. ``--family sd2`` / ``--family sdxl`` measure SD 2.x
(OpenCLIP-H, 768x768) or SDXL (clip_l + clip_g, 1024x1024) at full size instead. Prints and
writes to JSON:

1. gradient cost: seconds and peak GPU memory per iteration, shortcut K = 1, 2, 4 and full,
   at 5, 10, 20, 50 steps (full until it runs out of memory);
2. overhead of a shortcut iteration against its parts alone;
3. EPO fitness throughput with batching vs. one at a time (50 steps);
4. one hybrid run as the reference ran it: 20 gradient iterations, then 40 evaluations of 50
   steps (40 evaluations: 2 generations of 20), one search seed: total seconds and peak GPU memory.

``--dry-run`` runs every section on the CPU with tiny models and sizes (seconds), so that the
script is executed where no GPU is available; memory is then the activations saved for
backward instead of GPU memory.

Run: python benchmarks/gpu_full_size.py            (a CUDA machine, after the setup)
     python benchmarks/gpu_full_size.py --family sdxl
     python benchmarks/gpu_full_size.py --dry-run  (anywhere; with --family: that family's
                                                     small test models)
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common  # noqa: E402

log = logging.getLogger("benchmarks.gpu_full_size")


# --family: the full-size spec of common.MODEL_SPECS and its native image side; with --dry-run
# the tests' small models of that family.
FAMILY_MODELS = {"sd1": ("sd15", 512), "sd2": ("sd2", 768), "sdxl": ("sdxl", 1024)}
SMALL_FAMILY_MODELS = {"sd1": "tiny", "sd2": "sd2-small", "sdxl": "sdxl-small"}


class Meter:
    """Seconds and peak memory of a call: GPU peak allocated bytes above the level before the
    call on CUDA, bytes saved for backward on the CPU."""

    def __init__(self, device: str, weights: list[Any]) -> None:
        self.device, self.weights = device, weights

    def __call__(self, fn: Any) -> tuple[float, float, Any]:
        import torch

        if self.device == "cuda":
            torch.cuda.synchronize()
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats()
            before = torch.cuda.memory_allocated()
            start = time.perf_counter()
            out = fn(None)
            torch.cuda.synchronize()
            seconds = time.perf_counter() - start
            return seconds, (torch.cuda.max_memory_allocated() - before) / 2**20, out
        meter = common.SavedTensorMeter(self.weights)
        start = time.perf_counter()
        out = fn(meter)
        return time.perf_counter() - start, meter.total_bytes / 2**20, out


def section_cost(args: argparse.Namespace, models: Any, scorer: Any) -> list[dict[str, Any]]:
    import torch
    from gradient_cost import GradientIteration, all_weights

    results = []
    for steps in args.steps:
        backend = common.build_backend(models, steps, args.size)
        it = GradientIteration(backend, scorer, common.cost_space())
        meter = Meter(args.device, all_weights(backend, scorer))
        t = it.start_step(steps)
        with torch.no_grad():
            it.loss("shortcut", t, 1)  # warm-up
        modes = [("shortcut", k) for k in args.grad_steps] + [("full", steps)]
        for mode, k in modes:
            label = f"shortcut K={k}" if mode == "shortcut" else "full"
            try:
                times, peaks = [], []
                for _ in range(args.repeats):
                    seconds, peak, _ = meter(lambda m, it=it, t=t, mode=mode, k=k: it.step(mode, t, k, m))
                    times.append(seconds)
                    peaks.append(peak)
                row = {"label": label, "steps": steps, "seconds": common.median(times),
                       "peak_mib": max(peaks)}  # fmt: skip
            except torch.OutOfMemoryError:
                torch.cuda.empty_cache()
                row = {"label": label, "steps": steps, "seconds": float("nan"),
                       "peak_mib": float("nan"), "failed": "out of memory"}  # fmt: skip
            log.info("%s at %d steps: %s", label, steps, row)
            results.append(row)
    return results


def section_overhead(args: argparse.Namespace, models: Any, scorer: Any) -> dict[str, Any]:
    from gradient_cost import GradientIteration
    from shortcut_overhead import parts

    steps = args.overhead_steps
    backend = common.build_backend(models, steps, args.size)
    it = GradientIteration(backend, scorer, common.cost_space())
    t = it.start_step(steps)
    sync = _sync(args.device)
    pieces = parts(it, t, 1)
    times: dict[str, list[float]] = {"iteration": [], **{n: [] for n in pieces}}
    for fn in pieces.values():
        fn()
    for _ in range(args.repeats):
        times["iteration"].append(common.timed(lambda: sync(it.step("shortcut", t, 1)))[0])
        for name, fn in pieces.items():
            times[name].append(common.timed(lambda fn=fn: sync(fn()))[0])
    medians = {n: common.median(v) for n, v in times.items()}
    total = sum(v for n, v in medians.items() if n != "iteration")
    return {"steps": steps, "start_step": t, "medians": medians, "sum_of_parts": total,
            "overhead": medians["iteration"] / total - 1.0}  # fmt: skip


def section_throughput(args: argparse.Namespace, models: Any, scorer: Any) -> list[dict]:
    import torch

    from dpo_core.evaluation import score_choices

    backend = common.build_backend(models, args.eval_steps, args.size)
    space = common.cost_space()
    sync = _sync(args.device)
    choices = [tuple((i + j) % n for j, n in enumerate(space.sizes)) for i in range(args.batch)]
    out = []
    with torch.no_grad():
        target = scorer.embed_texts([space.prompt])
        score_choices(backend, scorer, space, choices[:1], [0], target, 1)  # warm-up
        for batch in sorted({1, args.batch}):
            seconds = common.timed(
                lambda b=batch: sync(score_choices(backend, scorer, space, choices, [0], target, b))
            )[0]
            out.append({"batch_size": batch, "seconds": seconds,
                        "candidates_per_second": len(choices) / seconds})  # fmt: skip
    return out


def section_hybrid(args: argparse.Namespace, models: Any, scorer: Any) -> dict[str, Any]:
    import torch

    from dpo_core.config import EPOConfig, GPOConfig, SearchConfig
    from dpo_core.search import optimize

    backend = common.build_backend(models, args.eval_steps, args.size)
    population = args.hybrid_evaluations // 2
    half = population // 2
    config = SearchConfig(
        method="hybrid", evaluations=args.hybrid_evaluations, search_seeds=(0,), holdout_seeds=(),
        batch_size=args.batch, gpo=GPOConfig(iterations=args.hybrid_iterations),
        epo=EPOConfig(population, half, half, population - half),
    )  # fmt: skip
    if args.device == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    start = time.perf_counter()
    record = optimize(backend, scorer, common.cost_space(), config)
    _sync(args.device)(None)
    seconds = time.perf_counter() - start
    peak = torch.cuda.max_memory_allocated() / 2**20 if args.device == "cuda" else float("nan")
    return {"seconds": seconds, "peak_gpu_mib": peak, "timings": record.timings,
            # the budget spent: candidates plus the gradient phase's charge
            "evaluations": len(record.candidates) + record.gradient_evaluations,
            "candidates": len(record.candidates), "gradient_iterations": len(record.loss_curve),
            "best": record.best.text if record.best else None}  # fmt: skip


def _sync(device: str) -> Any:
    import torch

    def sync(value: Any) -> Any:
        if device == "cuda":
            torch.cuda.synchronize()
        return value

    return sync


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    common.add_common_arguments(parser)
    parser.add_argument("--dry-run", action="store_true", help="CPU, tiny models (seconds)")
    parser.add_argument("--model", default="sd15", choices=sorted(common.MODEL_SPECS))
    parser.add_argument(
        "--family", choices=sorted(FAMILY_MODELS),
        help="model family at full size (overrides --model); its native image size by default",
    )  # fmt: skip
    parser.add_argument("--size", type=int, default=None, help="image side (default: 512, or the "
                        "family's native size)")  # fmt: skip
    parser.add_argument("--dtype", default="float16", choices=["float16", "bfloat16", "float32"])
    parser.add_argument("--steps", type=int, nargs="+", default=[5, 10, 20, 50])
    parser.add_argument("--grad-steps", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--overhead-steps", type=int, default=50)
    parser.add_argument("--eval-steps", type=int, default=50)
    parser.add_argument("--batch", type=int, default=8, help="evaluation batch size")
    parser.add_argument("--hybrid-iterations", type=int, default=20)
    parser.add_argument("--hybrid-evaluations", type=int, default=40)
    args = parser.parse_args(argv)
    args.device = "cuda"
    if args.family:
        args.model, native = FAMILY_MODELS[args.family]
        args.size = args.size or native
    args.size = args.size or 512
    if args.dry_run or args.tiny:
        small = SMALL_FAMILY_MODELS[args.family or "sd1"]
        args.device, args.model, args.size, args.dtype = "cpu", small, 32, "float32"
        args.steps, args.grad_steps, args.repeats = [2, 4], [1, 2], 1
        args.overhead_steps, args.eval_steps, args.batch = 4, 3, 4
        args.hybrid_iterations, args.hybrid_evaluations = 2, 8
    common.setup(args.threads, args.device)
    import torch

    if args.device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("no CUDA device: run with --dry-run to exercise the script on the CPU")
    info = common.machine_info()
    spec = common.MODEL_SPECS[args.model]
    dtype = getattr(torch, args.dtype)
    models = common.build_models(spec, dtype=None if dtype == torch.float32 else dtype)
    scorer = common.build_scorer(spec, device=args.device)
    started = time.perf_counter()
    from dpo_diff.nodes.inference_tensors import gradient_mode

    with gradient_mode():
        cost = section_cost(args, models, scorer)
        overhead = section_overhead(args, models, scorer)
    throughput = section_throughput(args, models, scorer)
    hybrid = section_hybrid(args, models, scorer)
    info["benchmark_seconds"] = time.perf_counter() - started
    memory = "peak GPU MiB" if args.device == "cuda" else "saved act. MiB"
    print(common.format_table(["gradient", "steps", "s / iteration", memory],
                              [[r["label"], r["steps"], r["seconds"], r["peak_mib"]]
                               for r in cost]))  # fmt: skip
    print(f"\noverhead of a shortcut iteration vs its parts: {100 * overhead['overhead']:.1f} %")
    print(common.format_table(["batch size", "s", "candidates / s"],
                              [[r["batch_size"], r["seconds"], r["candidates_per_second"]]
                               for r in throughput]))  # fmt: skip
    print(f"\nhybrid run ({hybrid['gradient_iterations']} gradient iterations + "
          f"{hybrid['evaluations']} evaluations of {args.eval_steps} steps, {args.size}x"
          f"{args.size}): {hybrid['seconds']:.1f} s, peak GPU memory "
          f"{hybrid['peak_gpu_mib']:.0f} MiB")  # fmt: skip
    data = {"machine": info, "arguments": {k: str(v) for k, v in vars(args).items()},
            "cost": cost, "overhead": overhead, "throughput": throughput, "hybrid": hybrid}  # fmt: skip
    name = "gpu_full_size" + ("_dry_run" if args.device == "cpu" else "")
    common.write_json(args.out, name, data)
    series = []
    for label in dict.fromkeys(r["label"] for r in cost):
        points = [(r["steps"], r["peak_mib"]) for r in cost if r["label"] == label]
        series.append(common.Series(label, *map(tuple, zip(*points))))
    common.plot_panels(args.out / f"{name}.png",
                       [("memory per gradient iteration", "sampling steps", memory, series)])  # fmt: skip
    return data


if __name__ == "__main__":
    main()
