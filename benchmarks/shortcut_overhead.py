"""Overhead of one shortcut-gradient iteration against the sum of its parts measured alone
(benchmark 2 of BENCHMARKS.md); the goal is under 15 %.

Parts, each timed on its own with the same inputs and a random upstream gradient where it has
one: the relaxed text through the text encoder (forward + backward), the no-gradient sampling
down to step t, the K guided model calls (forward + backward to the conditioning), the VAE
decode (forward + backward to the latent), the CLIP scoring (forward + backward to the image)
and the optimizer step. The iteration is GPO's (``gradient_cost.GradientIteration``).
Measurements are interleaved over ``--repeats`` rounds; the overhead is the median over
rounds of (iteration / sum of that round's parts) - 1, and also the fastest iteration against
the sum of the fastest parts (both robust to a load that changes between rounds).

Run: python benchmarks/shortcut_overhead.py [--size 64] [--steps 20] [--grad-steps 1]
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
from gradient_cost import GradientIteration  # noqa: E402

log = logging.getLogger("benchmarks.shortcut_overhead")
GOAL = 0.15


def parts(it: GradientIteration, step: int, grad_steps: int) -> dict[str, Any]:
    """name -> a function running that part alone (its inputs prepared here, outside the timing)."""
    import torch

    from dpo_core.evaluation import condition_pair
    from dpo_core.losses import objective
    from dpo_core.relaxation import encode_relaxed, gumbel_softmax
    from dpo_core.shortcut import euler_step, latent_at_step

    b, space = it.backend, it.space
    with torch.no_grad():
        weights = gumbel_softmax(it.logits, 1.0, False, torch.Generator().manual_seed(0))
        negative = encode_relaxed(b, space, weights, it.candidates)
        positive, negative = condition_pair(space, negative, it.fixed)
        x = latent_at_step(b, it.noise, positive, negative, step)
        sigma = float(b.sigmas[step])
        x0 = b.denoise(x, sigma, positive, negative)
        images = b.decode(x0)
    k = min(grad_steps, len(b.sigmas) - 1 - step)

    def text() -> None:
        w = gumbel_softmax(it.logits, 1.0, False, torch.Generator().manual_seed(0))
        out = encode_relaxed(b, space, w, it.candidates)
        out.backward(torch.randn_like(out))

    def prefix() -> None:
        latent_at_step(b, it.noise, positive, negative, step)

    def model_calls() -> None:
        neg = negative.detach().requires_grad_(True)
        latent, estimate = x, x
        for i in range(step, step + k):
            estimate = b.denoise(latent, float(b.sigmas[i]), positive, neg)
            if i + 1 < step + k:
                latent = euler_step(latent, estimate, float(b.sigmas[i]), float(b.sigmas[i + 1]))
        estimate.backward(torch.randn_like(estimate))

    def decode() -> None:
        z = x0.detach().requires_grad_(True)
        out = b.decode(z)
        out.backward(torch.randn_like(out))

    def score() -> None:
        pixels = images.detach().requires_grad_(True)
        objective(it.scorer.embed_images(pixels), it.target, space.mode).mean().backward()

    def optimizer() -> None:
        for a in it.logits:
            a.grad = torch.full_like(a, 0.01)
        torch.nn.utils.clip_grad_value_(it.logits, it.config.grad_clip)
        it.optimizer.step()
        with torch.no_grad():
            for a in it.logits:
                a.clamp_(it.config.logit_min, it.config.logit_max)

    return {"text encoder": text, "no-grad prefix": prefix, f"{k} model call(s)": model_calls,
            "VAE decode": decode, "CLIP score": score, "optimizer step": optimizer}  # fmt: skip


def round_overheads(times: dict[str, list[float]]) -> list[float]:
    """Iteration / sum of parts - 1 within each round (the parts of a round run right after its
    iteration, so a load change between rounds cancels out)."""
    parts_only = [name for name in times if name != "iteration"]
    return [
        iteration / sum(times[name][r] for name in parts_only) - 1.0
        for r, iteration in enumerate(times["iteration"])
    ]


def overhead_estimates(times: dict[str, list[float]]) -> tuple[float, float]:
    """(median of the per-round overheads, fastest iteration / sum of the fastest parts - 1)."""
    fastest = sum(min(v) for name, v in times.items() if name != "iteration")
    return common.median(round_overheads(times)), min(times["iteration"]) / fastest - 1.0


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    common.add_common_arguments(parser)
    parser.add_argument("--model", default="sd15-cpu", choices=sorted(common.MODEL_SPECS))
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--grad-steps", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    if args.tiny:
        args.model, args.size, args.steps, args.repeats = "tiny", 32, 4, 2
    common.setup(args.threads)
    import torch
    from dpo_diff.nodes.inference_tensors import gradient_mode

    info = common.machine_info()
    spec = common.MODEL_SPECS[args.model]
    backend = common.build_backend(common.build_models(spec), args.steps, args.size)
    it = GradientIteration(backend, common.build_scorer(spec), common.cost_space())
    step = it.start_step(args.steps)
    started = time.perf_counter()
    with gradient_mode():
        pieces = parts(it, step, args.grad_steps)
        times: dict[str, list[float]] = {"iteration": [], **{name: [] for name in pieces}}
        with torch.no_grad():
            it.loss("shortcut", step, args.grad_steps)  # warm-up
        for fn in pieces.values():
            fn()
        for r in range(args.repeats):
            log.info("round %d of %d", r + 1, args.repeats)
            times["iteration"].append(
                common.timed(lambda: it.step("shortcut", step, args.grad_steps))[0]
            )
            for name, fn in pieces.items():
                times[name].append(common.timed(fn)[0])
    info["benchmark_seconds"] = time.perf_counter() - started
    medians = {name: common.median(values) for name, values in times.items()}
    total = sum(v for k, v in medians.items() if k != "iteration")
    overhead, overhead_best = overhead_estimates(times)
    rows = [[name, medians[name], 100 * medians[name] / total] for name in pieces]
    rows += [["sum of parts", total, 100.0], ["one iteration", medians["iteration"],
             100 * medians["iteration"] / total]]  # fmt: skip
    print(common.format_table(["part", "median s", "% of sum"], rows))
    print("\nper round, iteration / sum of parts - 1: "
          + ", ".join(f"{100 * v:.0f} %" for v in round_overheads(times)))  # fmt: skip
    print(f"fastest iteration / sum of fastest parts - 1: {100 * overhead_best:.1f} %")
    verdict = "within" if overhead < GOAL else "above"
    print(f"overhead (median over rounds): {100 * overhead:.1f} % ({verdict} the "
          f"{100 * GOAL:.0f} % goal); "
          f"t = {step} of {args.steps} steps, K = {args.grad_steps}, {args.size}x{args.size}")  # fmt: skip
    data = {"machine": info, "arguments": {k: str(v) for k, v in vars(args).items()},
            "start_step": step, "seconds": times, "medians": medians, "sum_of_parts": total,
            "overhead": overhead, "overhead_fastest": overhead_best,
            "overhead_per_round": round_overheads(times), "goal": GOAL}  # fmt: skip
    name = "shortcut_overhead" + ("_tiny" if args.tiny else "")
    common.write_json(args.out, name, data)
    labels = list(pieces)
    series = [common.Series("part alone (median s)", tuple(range(len(labels))),
                            tuple(medians[n] for n in labels))]  # fmt: skip
    cumulative = [sum(medians[n] for n in labels[: i + 1]) for i in range(len(labels))]
    series.append(common.Series("cumulative sum of parts", tuple(range(len(labels))),
                                tuple(cumulative)))  # fmt: skip
    series.append(common.Series("one iteration", (0, len(labels) - 1),
                                (medians["iteration"],) * 2))  # fmt: skip
    title = "parts: " + ", ".join(f"{i}={n}" for i, n in enumerate(labels))
    common.plot_panels(args.out / f"{name}.png", [(title[:90], "part", "seconds", series)])
    return data


if __name__ == "__main__":
    main()
