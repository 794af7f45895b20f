"""Search efficacy at equal budget: the original negative prompt, random search, EPO, GPO +
sampling and the hybrid, on small random-weight SD1 models through ComfyUI (benchmark 4).

For each of the first ``--num-prompts`` development prompts, a negative-mode search space is
built from WordNet (``dpo_core.spaces.builder``), and every method runs ``--repeats`` times, each
repeat with its own search seeds, held-out seeds and search random state. Every method spends
the same budget, ``--evaluations`` (one evaluation: a candidate sampled fully on every search
seed), and evaluates the original negative prompt first: random and EPO on candidates, GPO and
the hybrid on ``--gpo-iterations`` gradient iterations (charged by their model calls, as the
reference does) and then candidates.

Reported: the best candidate's mean loss on the search seeds and on the held-out seeds (mean and
standard deviation over prompts x repeats, and the mean difference to the original negative
prompt, negative = better), and best-so-far loss vs. evaluations.

Random weights: the models and the CLIP scorer are untrained, so "loss" is a fixed but
meaningless function of the negative prompt. The benchmark shows whether each method optimizes
a black-box objective through the real pipeline at equal budget, and whether that transfers to
unseen noise seeds; it cannot show better images or reproduce the paper's numbers.

Run: python benchmarks/search_efficacy.py [--prompts ../shared/data/prompts_dev.json]
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common  # noqa: E402

log = logging.getLogger("benchmarks.search_efficacy")
METHODS = ("random", "epo", "gpo", "hybrid")


def build_space(prompt: str, backend: Any, candidates: int, max_slots: int) -> Any:
    """A WordNet negative-mode space for ``prompt``, cut to ``max_slots`` slots; a hand-made
    space of the prompt's longest words when WordNet finds nothing."""
    from dataclasses import replace

    from dpo_core.space import SearchSpace, Slot
    from dpo_core.spaces.builder import build_space as build

    def count_tokens(text: str) -> int:
        return len(backend.tokenize(text))

    space = build(prompt, "negative", "wordnet", candidates, count_tokens=count_tokens,
                  use_cache=False).space  # fmt: skip
    if space.slots:
        return replace(space, slots=space.slots[:max_slots])
    words = sorted({w.strip(".,").lower() for w in prompt.split() if len(w) > 3}, key=len)
    fallback = ("dark", "blurry", "small", "old")
    return SearchSpace(
        prompt=prompt,
        mode="negative",
        slots=tuple(Slot(w, ("", *fallback[:candidates])) for w in words[-max_slots:]),
    )


def best_so_far(record: Any) -> list[float]:
    out: list[float] = []
    for candidate in record.candidates:
        out.append(min(candidate.mean, out[-1]) if out else candidate.mean)
    return out


def run(args: argparse.Namespace) -> dict[str, Any]:
    import torch

    from dpo_core.config import EPOConfig, GPOConfig, SearchConfig
    from dpo_core.evaluation import score_choices
    from dpo_core.search import optimize

    spec = common.MODEL_SPECS[args.model]
    backend = common.build_backend(common.build_models(spec), args.steps, args.size)
    scorer = common.build_scorer(spec)
    prompts = json.loads(Path(args.prompts).read_text(encoding="utf-8"))[: args.num_prompts]
    half = args.population // 2
    epo = EPOConfig(args.population, half, half, args.population - half)
    gpo = GPOConfig(iterations=args.gpo_iterations)
    runs: list[dict[str, Any]] = []
    for p, prompt in enumerate(prompts):
        space = build_space(prompt, backend, args.candidates, args.max_slots)
        log.info("prompt %d: %r, %d slots, %d choices", p, prompt, len(space.slots),
                 space.num_choices)  # fmt: skip
        for r in range(args.repeats):
            search_seeds = tuple(1000 * r + j for j in range(args.search_seeds))
            holdout_seeds = tuple(500_000 + 1000 * r + j for j in range(args.holdout_seeds))
            with torch.no_grad():
                target = scorer.embed_texts([prompt])
                seeds = (*search_seeds, *holdout_seeds)
                original = score_choices(backend, scorer, space, [space.original_choice()], seeds,
                                    target, args.batch_size)[0].tolist()  # fmt: skip
            original_search = sum(original[: len(search_seeds)]) / len(search_seeds)
            original_holdout = sum(original[len(search_seeds) :]) / len(holdout_seeds)
            for method in args.methods:
                config = SearchConfig(
                    method=method, evaluations=args.evaluations, search_seeds=search_seeds,
                    holdout_seeds=holdout_seeds, batch_size=args.batch_size, seed=r, gpo=gpo,
                    epo=epo,
                )  # fmt: skip
                start = time.perf_counter()
                record = optimize(backend, scorer, space, config)
                seconds = time.perf_counter() - start
                assert record.best is not None and record.holdout is not None
                runs.append({
                    "prompt": p, "repeat": r, "method": method, "slots": len(space.slots),
                    "search_loss": record.best.mean, "holdout_loss": record.holdout.best_mean,
                    "original_search_loss": original_search,
                    "original_holdout_loss": original_holdout,
                    "best_text": record.best.text, "evaluations": len(record.candidates),
                    "gradient_evaluations": record.gradient_evaluations,
                    "original_in_pool": record.candidates[0].choice == space.original_choice(),
                    "curve": best_so_far(record), "seconds": seconds,
                    "gradient_seconds": record.timings.get("gradient", 0.0),
                })  # fmt: skip
                log.info("  repeat %d %-6s search %.4f (orig %.4f) holdout %.4f (orig %.4f) %.1fs",
                         r, method, record.best.mean, original_search, record.holdout.best_mean,
                         original_holdout, seconds)  # fmt: skip
    return {"runs": runs, "prompts": prompts}


def summarise(runs: list[dict[str, Any]], methods: tuple[str, ...]) -> list[dict[str, Any]]:
    rows = []
    first = [r for r in runs if r["method"] == methods[0]]
    rows.append({
        "method": "original",
        "search_mean": statistics.mean(r["original_search_loss"] for r in first),
        "search_std": common.spread([r["original_search_loss"] for r in first]),
        "holdout_mean": statistics.mean(r["original_holdout_loss"] for r in first),
        "holdout_std": common.spread([r["original_holdout_loss"] for r in first]),
        "search_gain": 0.0, "holdout_gain": 0.0, "holdout_gain_std": 0.0,
        "holdout_better_than_original": float("nan"), "seconds": 0.0, "n": len(first),
    })  # fmt: skip
    for method in methods:
        mine = [r for r in runs if r["method"] == method]
        gains = [r["holdout_loss"] - r["original_holdout_loss"] for r in mine]
        rows.append({
            "method": method,
            "search_mean": statistics.mean(r["search_loss"] for r in mine),
            "search_std": common.spread([r["search_loss"] for r in mine]),
            "holdout_mean": statistics.mean(r["holdout_loss"] for r in mine),
            "holdout_std": common.spread([r["holdout_loss"] for r in mine]),
            "search_gain": statistics.mean(
                r["search_loss"] - r["original_search_loss"] for r in mine),
            "holdout_gain": statistics.mean(gains),
            "holdout_gain_std": common.spread(gains),
            "holdout_better_than_original": sum(g < 0 for g in gains) / len(gains),
            "seconds": statistics.mean(r["seconds"] for r in mine), "n": len(mine),
        })  # fmt: skip
    return rows


def report(data: dict[str, Any], methods: tuple[str, ...], out: Path, name: str) -> None:
    """Print the table and draw the best-so-far curves of a finished run."""
    rows = data["summary"]
    args = data["arguments"]
    charges = {r["method"]: r.get("gradient_evaluations", 0) for r in data["runs"]}
    charged = ", ".join(f"{m} {c}" for m, c in charges.items() if c)
    print(f"\nbudget {args['evaluations']} evaluations (population {args['population']}; "
          f"charged to the gradient phase: {charged or 'none'}) x {args['search_seeds']} "
          f"search seeds; original first in every pool: "
          f"{all(r.get('original_in_pool', False) for r in data['runs'])}; "
          f"{len(data['prompts'])} prompts x {args['repeats']} repeats; "
          f"{args['holdout_seeds']} held-out seeds")  # fmt: skip
    headers = ["method", "search loss", "+-", "held-out loss", "+-", "search vs orig",
               "held-out vs orig", "+-", "held-out better", "s / run"]  # fmt: skip
    table = [[r["method"], r["search_mean"], r["search_std"], r["holdout_mean"], r["holdout_std"],
              r["search_gain"], r["holdout_gain"], r["holdout_gain_std"],
              r["holdout_better_than_original"], r["seconds"]] for r in rows]  # fmt: skip
    print(common.format_table(headers, table))
    series = []
    for method in methods:
        curves = [
            [v - run["original_search_loss"] for v in run["curve"]]
            for run in data["runs"]
            if run["method"] == method
        ]
        length = min(len(c) for c in curves)
        mean = [statistics.mean(c[i] for c in curves) for i in range(length)]
        start = charges.get(method, 0)  # candidates come after the gradient phase's share
        series.append(common.Series(method, tuple(range(start + 1, start + length + 1)),
                                    tuple(mean)))  # fmt: skip
    budget = args["evaluations"]
    series.append(common.Series("original", (1, budget), (0.0, 0.0)))
    panel = ("best so far minus original (search seeds, mean of runs)", "evaluations",
             "loss difference", series)  # fmt: skip
    common.plot_panels(out / f"{name}.png", [panel])


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    common.add_common_arguments(parser)
    parser.add_argument("--prompts", type=Path, default=common.DEFAULT_PROMPTS)
    parser.add_argument("--num-prompts", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=2, help="search/held-out seed sets")
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
    parser.add_argument("--model", default="tiny", choices=sorted(common.MODEL_SPECS))
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--evaluations", type=int, default=40, help="budget of every method")
    parser.add_argument("--population", type=int, default=20)
    parser.add_argument("--gpo-iterations", type=int, default=20)
    parser.add_argument("--candidates", type=int, default=4, help="WordNet words per slot")
    parser.add_argument("--max-slots", type=int, default=6)
    parser.add_argument("--search-seeds", type=int, default=2)
    parser.add_argument("--holdout-seeds", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument(
        "--from-json", type=Path, help="print the table and redraw the plot of an earlier run"
    )
    args = parser.parse_args(argv)
    if args.from_json:
        data = json.loads(args.from_json.read_text(encoding="utf-8"))
        methods = tuple(dict.fromkeys(r["method"] for r in data["runs"]))
        report(data, methods, args.out, args.from_json.stem)
        return data
    if args.tiny:
        args.num_prompts, args.repeats, args.steps, args.evaluations = 1, 1, 3, 8
        args.population, args.gpo_iterations, args.holdout_seeds = 4, 2, 1
    args.methods = tuple(args.methods)
    common.setup(args.threads)
    info = common.machine_info()
    started = time.perf_counter()
    result = run(args)
    info["benchmark_seconds"] = time.perf_counter() - started
    name = "search_efficacy" + ("_tiny" if args.tiny else "")
    data = {"machine": info, "arguments": {k: _plain(v) for k, v in vars(args).items()},
            "summary": summarise(result["runs"], args.methods), **result}  # fmt: skip
    common.write_json(args.out, name, data)
    report(data, args.methods, args.out, name)
    return data


def _plain(value: Any) -> Any:
    return str(value) if isinstance(value, Path) else value


if __name__ == "__main__":
    main()
