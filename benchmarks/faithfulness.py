"""Faithfulness in the tiny trained world: does an optimized negative prompt make images show
what the prompt says? (the tiny world's benchmark; see tiny_world/README.md)

For held-out attribute combinations (captions the model never saw in training), the Search
Space Builder's space of each caption (WordNet, plus the negative-term library unless
``--no-library``) is searched on search seeds, and the negatives are judged on other,
held-out seeds (never searched on), one image per seed, every image through ComfyBackend:

* ``none``: no negative prompt (what a plain KSampler does);
* ``hand``: every slot's top-ranked option (what a person might type from the space);
* ``random``, ``epo``, ``hybrid``: the best negative each search finds at equal budget
  (``--budget`` evaluations, one evaluation = one candidate on every search seed; the hybrid
  spends ``--hybrid-evaluations`` on its evolution and the rest is its gradient phase's
  charge, as in the reference);
* with ``--single-words``: ``best_word``, the single option of the space with the best
  classifier exact accuracy on the search seeds, and ``oracle``, the single option that is
  best on the held-out seeds themselves (among the ``--oracle-top`` best on the search seeds;
  0: all of them), which shows how much of the possible gain each method reaches.

Judged by the attribute classifier ("exact": every stated attribute right and no unwanted
defect) and the open_clip evaluator's spherical loss (the search's own judge). The JSON holds
per-prompt scores and paired differences over prompts with 95% confidence intervals.

Run: python benchmarks/faithfulness.py --prompts 24 --holdout-seeds 24 --search-seeds 4 --single-words
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common  # noqa: E402

log = logging.getLogger("benchmarks.faithfulness")
SEARCHES = ("random", "epo", "hybrid")
BASE_COLUMNS = ("none", "hand", *SEARCHES)
WORD_COLUMNS = ("best_word", "oracle")
METRICS = ("exact", "attributes", "defect_free", "evaluator_loss")
SEARCH_SEED_BASE, HOLDOUT_SEED_BASE = 1000, 50_000


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--prompts", type=int, default=12, help="held-out captions (evenly spread)")
    p.add_argument("--prompt-offset", type=int, default=0, help="shift the prompt selection")
    p.add_argument("--shard", default="0/1", help="i/n: run every n-th selected prompt from i")
    p.add_argument("--holdout-seeds", type=int, default=8)
    p.add_argument("--search-seeds", type=int, default=4)
    p.add_argument("--seed-offset", type=int, default=0, help="shifts every seed")
    p.add_argument("--budget", type=int, default=40, help="evaluations per search")
    p.add_argument("--hybrid-evaluations", type=int, default=32, help="the hybrid's EPO share")
    p.add_argument("--generations", type=int, default=None,
                   help="old budget form: generations x --population evaluations for every method")  # fmt: skip
    p.add_argument("--population", type=int, default=20)
    p.add_argument("--gpo-iterations", type=int, default=20)
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--cfg", type=float, default=6.0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--methods", nargs="*", default=list(BASE_COLUMNS), choices=BASE_COLUMNS)
    p.add_argument("--single-words", action="store_true", help="add best_word and oracle")
    p.add_argument("--oracle-top", type=int, default=3, help="0: judge every word held-out")
    p.add_argument(
        "--space", choices=("wordnet", "vocabulary"), default="wordnet",
        help="wordnet: the Search Space Builder's space of the caption; vocabulary: every other "
        "value of each stated attribute in the world's own words",
    )  # fmt: skip
    p.add_argument("--library", action=argparse.BooleanOptionalAction, default=True,
                   help="add the negative-term library's slots to the WordNet space")  # fmt: skip
    p.add_argument("--out", type=Path, default=common.RESULTS_DIR / "faithfulness.json")
    p.add_argument("--merge", nargs="*", type=Path, default=None,
                   help="only merge these shard JSONs into --out")  # fmt: skip
    return p.parse_args(argv)


def vocabulary_space(prompt: str) -> Any:
    """One slot per attribute the caption states, options "" and every other value of that
    attribute as the world's grammar says it ("green", "big", "on the left", ...)."""
    from dpo_diff.tiny_world import world

    from dpo_core.space import SearchSpace, Slot

    stated = world.parse_caption(prompt)
    slots = []
    for name in world.CAPTION_ORDER:
        if name in stated:
            top = world.CONTRASTS[name].get(stated[name])
            others = [v for v in world.ATTRIBUTE_VALUES[name] if v != stated[name]]
            others.sort(key=lambda v: v != top)  # the hand-written contrast first
            phrases = [world.attribute_phrases(name, v)[0] for v in others]
            slots.append(Slot(stated[name], ("", *phrases), source="vocabulary"))
    return SearchSpace(prompt=prompt, mode="negative", slots=tuple(slots))


def hand_written(space: Any) -> tuple[int, ...]:
    """The choice a person would type from the space: every slot's top-ranked option."""
    return tuple(1 if n > 1 else 0 for n in space.sizes)


def single_words(space: Any) -> list[str]:
    """Every single option of the space as a negative prompt (one slot set, the rest "")."""
    words = []
    for i, n in enumerate(space.sizes):
        for k in range(1, n):
            choice = [0] * len(space.sizes)
            choice[i] = k
            words.append(space.render(choice))
    return list(dict.fromkeys(w for w in words if w))


def search_config(args: argparse.Namespace, method: str, search_seeds: tuple, seed: int) -> Any:
    """A SearchConfig spending the benchmark's budget (in evaluations when dpo_core counts
    them, else as generations x population)."""
    from dpo_core.config import EPOConfig, GPOConfig, SearchConfig

    names = {f.name for f in dataclasses.fields(SearchConfig)}
    gpo = GPOConfig(iterations=args.gpo_iterations)
    common_fields = {"method": method, "search_seeds": search_seeds, "holdout_seeds": (),
                     "batch_size": 32, "seed": seed, "gpo": gpo}  # fmt: skip
    if args.generations is not None:  # the old form, the same for every method
        pop = args.population
        epo = EPOConfig(pop, pop // 2, pop // 2, pop - pop // 2)
        if "evaluations" in names:
            return SearchConfig(evaluations=args.generations * pop, epo=epo, **common_fields)
        return SearchConfig(generations=args.generations, epo=epo, **common_fields)
    evaluations = args.hybrid_evaluations if method == "hybrid" else args.budget
    if "evaluations" in names:
        return SearchConfig(evaluations=evaluations, **common_fields)
    pop = max(2, evaluations // 2)  # two generations, as the reference's EPO
    epo = EPOConfig(pop, pop // 2, pop // 2, pop - pop // 2)
    return SearchConfig(generations=max(1, evaluations // pop), epo=epo, **common_fields)


def scores(verdicts: list) -> dict[str, float]:
    n = max(1, len(verdicts))
    return {
        "exact": sum(v.exact for v in verdicts) / n,
        "attributes": sum(v.accuracy for v in verdicts) / n,
        "defect_free": sum(not v.unwanted for v in verdicts) / n,
        "evaluator_loss": sum(v.loss for v in verdicts) / n,
    }


def selected_prompts(args: argparse.Namespace) -> list[tuple[int, str]]:
    """(index in the held-out list, caption) of this run's prompts."""
    from dpo_diff.tiny_world.measure import select_prompts
    from dpo_diff.tiny_world.world import held_out_prompts

    captions = held_out_prompts()
    chosen = select_prompts(captions, args.prompts, args.prompt_offset)
    i, n = (int(x) for x in args.shard.split("/"))
    return [(captions.index(c), c) for c in chosen[i::n]]


def run_prompt(args, loaded, backend, judge, index: int, prompt: str) -> dict[str, Any]:
    from dpo_core.search import optimize
    from dpo_core.spaces.builder import build_space

    if args.space == "vocabulary":
        space = vocabulary_space(prompt)
    else:
        space = build_space(
            prompt, "negative", "wordnet", 5, include_library=args.library, use_cache=False,
            count_tokens=lambda text: len(backend.tokenize(text)),
        ).space  # fmt: skip
    k = args.seed_offset
    search_seeds = tuple(k + SEARCH_SEED_BASE * (index + 1) + s for s in range(args.search_seeds))
    holdout = [k + HOLDOUT_SEED_BASE + 100 * index + s for s in range(args.holdout_seeds)]
    negatives: dict[str, str] = {}
    seconds: dict[str, float] = {}
    evaluated: dict[str, int] = {}
    for method in args.methods:
        start = time.perf_counter()
        if method == "none":
            negatives[method] = ""
        elif method == "hand":
            negatives[method] = space.render(hand_written(space))
        else:
            config = search_config(args, method, search_seeds, index)
            record = optimize(backend, loaded.evaluator, space, config)
            negatives[method] = record.best.text if record.best else ""
            evaluated[method] = len(record.candidates)
        seconds[method] = time.perf_counter() - start
    words: dict[str, Any] = {}
    if args.single_words:
        start = time.perf_counter()
        candidates = single_words(space)
        on_search = {w: scores(judge([(prompt, w, s) for s in search_seeds])) for w in candidates}
        ranked = sorted(
            candidates, key=lambda w: (-on_search[w]["exact"], on_search[w]["evaluator_loss"])
        )
        negatives["best_word"] = ranked[0] if ranked else ""
        pool = ranked if args.oracle_top == 0 else ranked[: args.oracle_top]
        on_holdout = {w: scores(judge([(prompt, w, s) for s in holdout])) for w in pool}
        negatives["oracle"] = max(pool, key=lambda w: on_holdout[w]["exact"]) if pool else ""
        words = {"candidates": len(candidates), "oracle_pool": pool,
                 "search_exact": {w: on_search[w]["exact"] for w in candidates}}  # fmt: skip
        seconds["single_words"] = time.perf_counter() - start
    columns = {m: scores(judge([(prompt, negatives[m], s) for s in holdout])) for m in negatives}
    return {
        "prompt": prompt, "index": index, "search_seeds": list(search_seeds),
        "holdout_seeds": holdout, "slots": [s.word for s in space.slots],
        "negatives": negatives, "scores": columns, "seconds": seconds,
        "evaluated": evaluated, "single_words": words,
    }  # fmt: skip


def summarize(rows: list[dict]) -> dict[str, Any]:
    """Mean and CI per column, and paired differences over prompts with 95% CIs."""
    from dpo_diff.tiny_world.measure import mean_ci

    if not rows:
        return {}
    columns = [c for c in rows[0]["scores"] if all(c in r["scores"] for r in rows)]
    out: dict[str, Any] = {}
    for metric in METRICS:
        per = {c: [r["scores"][c][metric] for r in rows] for c in columns}
        entry: dict[str, Any] = {c: mean_ci(v) for c, v in per.items()}
        pairs = [(c, "none") for c in columns if c != "none"]
        pairs += [("hybrid", b) for b in ("random", "epo") if b in columns and "hybrid" in columns]
        for a, b in pairs:
            if b not in per:
                continue
            diffs = [x - y for x, y in zip(per[a], per[b], strict=True)]
            lower_better = metric == "evaluator_loss"
            better = sum((d < 0) if lower_better else (d > 0) for d in diffs)
            entry[f"{a}_minus_{b}"] = {**mean_ci(diffs), "better": better,
                                       "worse": sum((d > 0) if lower_better else (d < 0) for d in diffs)}  # fmt: skip
        out[metric] = entry
    exact = out["exact"]
    if "oracle_minus_none" in exact and exact["oracle_minus_none"]["mean"] > 0:
        possible = exact["oracle_minus_none"]["mean"]
        out["share_of_oracle_gain"] = {
            c: exact[f"{c}_minus_none"]["mean"] / possible
            for c in columns
            if f"{c}_minus_none" in exact
        }
    return out


def table(result: dict[str, Any]) -> str:
    summary = result["summary"]
    if not summary:
        return "(no prompts)"
    exact = summary["exact"]
    columns = [c for c in exact if "_minus_" not in c]
    lines = [
        "| negative prompt | exact (95% CI) | attributes | no unwanted defect | evaluator loss |",
        "| --- | --- | --- | --- | --- |",
    ]
    for c in columns:
        e = exact[c]
        cells = [f"{e['mean']:.3f} [{e['ci_low']:.3f}, {e['ci_high']:.3f}]"]
        cells += [
            f"{summary[m][c]['mean']:.3f}" for m in ("attributes", "defect_free", "evaluator_loss")
        ]
        lines.append(f"| {c} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "| paired difference (exact) | mean | 95% CI | better / worse / n |",
        "| --- | --- | --- | --- |",
    ]
    for key, d in exact.items():
        if "_minus_" in key:
            lines.append(
                f"| {key.replace('_minus_', ' − ')} | {d['mean']:+.3f} | [{d['ci_low']:+.3f}, "
                f"{d['ci_high']:+.3f}] | {d['better']} / {d['worse']} / {d['n']} |"
            )
    return "\n".join(lines)


def plot(result: dict[str, Any], path: Path) -> None:
    from PIL import Image, ImageDraw

    summary = result["summary"].get("exact", {})
    columns = [c for c in summary if "_minus_" not in c]
    image = Image.new("RGB", (80 + 95 * max(1, len(columns)), 300), "white")
    draw = ImageDraw.Draw(image)
    for i, m in enumerate(columns):
        x = 40 + i * 95
        mean, low, high = summary[m]["mean"], summary[m]["ci_low"], summary[m]["ci_high"]
        y = 260 - 220 * mean
        draw.rectangle([x, y, x + 60, 260], fill=(70, 110, 190))
        if high == high:  # not nan
            draw.line([x + 30, 260 - 220 * min(1.0, high), x + 30, 260 - 220 * max(0.0, low)],
                      fill=(0, 0, 0), width=2)  # fmt: skip
        draw.text((x, 266), m, fill=(0, 0, 0))
        draw.text((x, y - 14), f"{mean:.3f}", fill=(0, 0, 0))
    draw.text(
        (40, 6), "exact accuracy on held-out prompts and seeds (mean, 95% CI)", fill=(0, 0, 0)
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path)


def run(args: argparse.Namespace) -> dict[str, Any]:
    common.setup(threads=args.threads)
    from dpo_diff.nodes.inference_tensors import gradient_mode
    from dpo_diff.tiny_world.measure import Judge, make_backend
    from dpo_diff.tiny_world.models import load_world

    rows: list[dict] = []
    result: dict[str, Any] = {"args": {k: str(v) for k, v in vars(args).items()}, "rows": rows}
    with gradient_mode():
        loaded = load_world()
        backend = make_backend(loaded, args.steps, args.cfg)
        judge = Judge(loaded, backend)
        prompts = selected_prompts(args)
        for n, (index, prompt) in enumerate(prompts):
            row = run_prompt(args, loaded, backend, judge, index, prompt)
            rows.append(row)
            log.info(
                "%d/%d %r: exact %s; negatives %s", n + 1, len(prompts), prompt,
                {m: round(s["exact"], 3) for m, s in row["scores"].items()}, row["negatives"],
            )  # fmt: skip
            result["summary"] = summarize(rows)
            write(result, args.out)  # after every prompt: a cut-off run keeps what it measured
    result["summary"] = summarize(rows)
    return result


def write(result: dict[str, Any], out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))


def main(argv: list[str] | None = None) -> dict[str, Any]:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    args = parse_args(argv)
    start = time.perf_counter()
    if args.merge is not None:
        common.setup(threads=args.threads)  # the summary uses the pack's statistics
        parts = [json.loads(p.read_text()) for p in args.merge]
        rows = sorted((r for part in parts for r in part["rows"]), key=lambda r: r["index"])
        result = {"args": {"merged": [str(p) for p in args.merge], **parts[0]["args"]}, "rows": rows,
                  "summary": summarize(rows), "seconds": sum(p.get("seconds", 0.0) for p in parts)}  # fmt: skip
    else:
        result = run(args)
        result["seconds"] = time.perf_counter() - start
    result["machine"] = common.machine_info()
    write(result, args.out)
    plot(result, args.out.with_suffix(".png"))
    print(table(result))
    print(f"\n{len(result['rows'])} held-out prompts; {result['seconds']:.0f} s; "
          f"JSON and PNG in {args.out.parent}")  # fmt: skip
    return result


if __name__ == "__main__":
    main()
