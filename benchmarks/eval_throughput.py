"""Evaluation throughput: candidates per second of EPO fitness (full no-gradient sampling,
decode, CLIP loss) with batching vs. one at a time (benchmark 3 of BENCHMARKS.md).

Runs ``dpo_core.evaluation.score_choices`` on the same ``--candidates`` distinct negative prompts
(one seed each) with each ``--batch-sizes`` value, through ComfyUI's sampler; the sizes take
turns over ``--repeats`` rounds and medians are compared.

Run: python benchmarks/eval_throughput.py [--size 64] [--steps 20] [--batch-sizes 1 8] [--repeats 3]
"""

from __future__ import annotations

import argparse
import itertools
import logging
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common  # noqa: E402

log = logging.getLogger("benchmarks.eval_throughput")


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    common.add_common_arguments(parser)
    parser.add_argument("--model", default="sd15-cpu", choices=sorted(common.MODEL_SPECS))
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--steps", type=int, default=20, help="sampling steps (EPO uses 50)")
    parser.add_argument("--candidates", type=int, default=8)
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    if args.tiny:
        args.model, args.size, args.steps, args.candidates, args.batch_sizes = "tiny", 32, 3, 4, [1, 4]
    common.setup(args.threads)
    import torch

    from dpo_core.evaluation import score_choices

    info = common.machine_info()
    spec = common.MODEL_SPECS[args.model]
    backend = common.build_backend(common.build_models(spec), args.steps, args.size)
    scorer = common.build_scorer(spec)
    space = common.cost_space()
    choices = list(itertools.islice(itertools.product(*(range(n) for n in space.sizes)), 1, None))
    choices = choices[:: max(1, len(choices) // args.candidates)][: args.candidates]
    started = time.perf_counter()
    with torch.no_grad():
        target = scorer.embed_texts([space.prompt])
        score_choices(backend, scorer, space, choices[:1], [0], target, 1)  # warm-up
        seconds: dict[int, list[float]] = {b: [] for b in args.batch_sizes}
        for r in range(args.repeats):  # interleaved, so that load changes hit every size alike
            for batch in args.batch_sizes:
                seconds[batch].append(common.timed(
                    lambda b=batch: score_choices(backend, scorer, space, choices, [0], target, b))[0])  # fmt: skip
                log.info("round %d, batch %d: %.1f s", r + 1, batch, seconds[batch][-1])
        results = []
        for batch in args.batch_sizes:
            median = common.median(seconds[batch])
            results.append({"batch_size": batch, "seconds": seconds[batch], "median_seconds": median,
                            "candidates_per_second": len(choices) / median})  # fmt: skip
    info["benchmark_seconds"] = time.perf_counter() - started
    single = next((r for r in results if r["batch_size"] == 1), results[0])
    rows = [[r["batch_size"], r["median_seconds"], r["candidates_per_second"],
             r["candidates_per_second"] / single["candidates_per_second"]] for r in results]  # fmt: skip
    print(common.format_table(["batch size", "s", "candidates / s", "speed-up vs 1"], rows))
    print(f"\n{len(choices)} candidates x 1 seed, {args.steps} steps, {args.size}x{args.size}")
    data = {"machine": info, "arguments": {k: str(v) for k, v in vars(args).items()},
            "candidates": len(choices), "results": results}  # fmt: skip
    name = "eval_throughput" + ("_tiny" if args.tiny else "")
    common.write_json(args.out, name, data)
    series = [common.Series("candidates / s", tuple(r["batch_size"] for r in results),
                            tuple(r["candidates_per_second"] for r in results))]  # fmt: skip
    common.plot_panels(args.out / f"{name}.png",
                       [("EPO fitness throughput", "batch size", "candidates / s", series)])  # fmt: skip
    return data


if __name__ == "__main__":
    main()
