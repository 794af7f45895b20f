"""Faithfulness in the tiny trained world: does an optimized negative prompt make images show
what the prompt says? (the tiny world's benchmark; see tiny_world/README.md)

For held-out attribute combinations (captions the model never saw in training), a WordNet
negative-mode space is built from each caption, and these negative prompts are compared on
held-out seeds (never searched on):

* ``none``: no negative prompt (what a plain KSampler does);
* ``hand``: a hand-written negative prompt from the space, the top-ranked contrast of every
  word ("big, green, square, right, black" for "a small red circle on the left ...");
* ``random``, ``epo``, ``hybrid``: the best negative prompt found by each search, at equal
  budget (``generations * population`` full evaluations; the hybrid's gradient iterations
  come on top, as in the paper).

Measured with the two judges that never condition the model: the attribute classifier
(share of the caption's stated attributes the image shows, and share of images with all of
them right) and the open_clip evaluator's spherical loss (the search objective's judge).

Run: python benchmarks/faithfulness.py [--prompts 12 --generations 4 --population 8]
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

log = logging.getLogger("benchmarks.faithfulness")
SEARCHES = ("random", "epo", "hybrid")
COLUMNS = ("none", "hand", *SEARCHES)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--prompts", type=int, default=12, help="held-out captions (evenly spread)")
    p.add_argument("--generations", type=int, default=4)
    p.add_argument("--population", type=int, default=8)
    p.add_argument("--gpo-iterations", type=int, default=10)
    p.add_argument("--search-seeds", type=int, default=2)
    p.add_argument("--holdout-seeds", type=int, default=8)
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--cfg", type=float, default=6.0)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument(
        "--space", choices=("wordnet", "vocabulary"), default="wordnet",
        help="wordnet: the Search Space Builder's WordNet space of the caption; vocabulary: "
        "every other value of each stated attribute in the world's own words (what an LLM told "
        "the vocabulary, or a pasted space JSON, would give)",
    )  # fmt: skip
    p.add_argument("--out", type=Path, default=common.RESULTS_DIR / "faithfulness.json")
    return p.parse_args(argv)


def vocabulary_space(prompt: str) -> Any:
    """One slot per attribute the caption states, options "" and every other value of that
    attribute as the world's grammar says it ("green", "square", "on the left", ...)."""
    from dpo_diff.tiny_world import world

    from dpo_core.space import SearchSpace, Slot

    values = {
        "colour": tuple(world.COLOURS), "shape": world.SHAPES, "size": world.SIZES,
        "layout": world.LAYOUTS, "background": tuple(world.BACKGROUNDS),
    }  # fmt: skip
    stated = world.parse_caption(prompt)
    slots = []
    for name in world.CAPTION_ORDER:
        if name in stated:
            top = world.CONTRASTS[name].get(stated[name])
            others = [v for v in values[name] if v != stated[name]]
            others.sort(key=lambda v: v != top)  # the hand-written contrast first
            phrases = [world.attribute_phrases(name, v)[0] for v in others]
            slots.append(Slot(stated[name], ("", *phrases), source="vocabulary"))
    return SearchSpace(prompt=prompt, mode="negative", slots=tuple(slots))


def hand_written(space: Any) -> tuple[int, ...]:
    """The choice a person would type from the space: every slot's top-ranked contrast."""
    return tuple(1 if n > 1 else 0 for n in space.sizes)


def judge(world: Any, backend: Any, prompt: str, negative: str, seeds: list[int]) -> dict:
    import torch
    from dpo_diff.tiny_world.judges import faithfulness

    from dpo_core.evaluation import render_images
    from dpo_core.losses import objective

    images = render_images(backend, [prompt] * len(seeds), [negative] * len(seeds), seeds, 8)
    scores = faithfulness(world.classifier, images, [prompt] * len(seeds))
    with torch.no_grad():
        target = world.evaluator.embed_texts([prompt])
        loss = objective(world.evaluator.embed_images(images), target, "negative").mean()
    return {"attributes": scores.mean, "exact": scores.exact, "evaluator_loss": float(loss)}


def run(args: argparse.Namespace) -> dict[str, Any]:
    common.setup(threads=args.threads)
    from dpo_diff.nodes.comfy_backend import ComfyBackend, SamplingSettings, gradient_mode
    from dpo_diff.tiny_world.models import load_world
    from dpo_diff.tiny_world.world import held_out_prompts

    from dpo_core.config import EPOConfig, GPOConfig, SearchConfig
    from dpo_core.search import optimize
    from dpo_core.spaces.builder import build_space

    with gradient_mode():
        world = load_world()
        settings = SamplingSettings(args.steps, args.cfg, "euler", "normal", 64, 64)
        backend = ComfyBackend(world.model, world.clip, world.vae, settings)
        captions = held_out_prompts()
        stride = max(1, len(captions) // args.prompts)
        prompts = captions[::stride][: args.prompts]
        half = args.population // 2
        epo = EPOConfig(args.population, half, half, args.population - half)
        rows = []
        for i, prompt in enumerate(prompts):
            if args.space == "vocabulary":
                space = vocabulary_space(prompt)
            else:
                space = build_space(
                    prompt, "negative", "wordnet", 5, use_cache=False,
                    count_tokens=lambda text: len(backend.tokenize(text)),
                ).space  # fmt: skip
            search_seeds = tuple(1000 * (i + 1) + s for s in range(args.search_seeds))
            holdout = [50_000 + 100 * i + s for s in range(args.holdout_seeds)]
            negatives = {"none": "", "hand": space.render(hand_written(space))}
            seconds = {}
            for method in SEARCHES:
                start = time.perf_counter()
                config = SearchConfig(
                    method=method, generations=args.generations, search_seeds=search_seeds,
                    holdout_seeds=(), batch_size=8, seed=i, epo=epo,
                    gpo=GPOConfig(iterations=args.gpo_iterations),
                )  # fmt: skip
                record = optimize(backend, world.evaluator, space, config)
                negatives[method] = record.best.text if record.best else ""
                seconds[method] = time.perf_counter() - start
            scores = {m: judge(world, backend, prompt, negatives[m], holdout) for m in COLUMNS}
            rows.append(
                {"prompt": prompt, "negatives": negatives, "scores": scores, "seconds": seconds}
            )
            log.info(
                "%d/%d %r: attributes %s", i + 1, len(prompts), prompt,
                {m: round(scores[m]["attributes"], 3) for m in COLUMNS},
            )  # fmt: skip
    return {
        "args": {k: str(v) for k, v in vars(args).items()},
        "rows": rows,
        "summary": summarize(rows),
    }


def summarize(rows: list[dict]) -> dict[str, Any]:
    """Mean and spread over prompts, and paired differences against none and random."""

    def stats(values: list[float]) -> dict[str, float]:
        return {
            "mean": statistics.fmean(values),
            "std": statistics.stdev(values) if len(values) > 1 else 0.0,
        }

    out: dict[str, Any] = {}
    for metric in ("attributes", "exact", "evaluator_loss"):
        per = {m: [r["scores"][m][metric] for r in rows] for m in COLUMNS}
        out[metric] = {m: stats(v) for m, v in per.items()}
        for base in ("none", "random"):
            diffs = [h - b for h, b in zip(per["hybrid"], per[base], strict=True)]
            better = sum((d < 0) if metric == "evaluator_loss" else (d > 0) for d in diffs)
            out[metric][f"hybrid_minus_{base}"] = {
                **stats(diffs),
                "hybrid_better": better,
                "n": len(diffs),
            }
    return out


def table(result: dict[str, Any]) -> str:
    summary = result["summary"]
    lines = [
        "| negative prompt | attribute accuracy | all attributes right | evaluator loss |",
        "| --- | --- | --- | --- |",
    ]
    for m in COLUMNS:
        cells = [
            f"{summary[k][m]['mean']:.3f} ± {summary[k][m]['std']:.3f}"
            for k in ("attributes", "exact", "evaluator_loss")
        ]
        lines.append(f"| {m} | " + " | ".join(cells) + " |")
    for base in ("none", "random"):
        cells = []
        for k in ("attributes", "exact", "evaluator_loss"):
            d = summary[k][f"hybrid_minus_{base}"]
            cells.append(
                f"{d['mean']:+.3f} ± {d['std']:.3f} (better in {d['hybrid_better']}/{d['n']})"
            )
        lines.append(f"| hybrid − {base} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def plot(result: dict[str, Any], path: Path) -> None:
    from PIL import Image, ImageDraw

    summary = result["summary"]["attributes"]
    image = Image.new("RGB", (520, 300), "white")
    draw = ImageDraw.Draw(image)
    top = max(summary[m]["mean"] + summary[m]["std"] for m in COLUMNS) or 1.0
    for i, m in enumerate(COLUMNS):
        x = 40 + i * 95
        mean, std = summary[m]["mean"], summary[m]["std"]
        y = 260 - 220 * mean / top
        draw.rectangle([x, y, x + 60, 260], fill=(70, 110, 190))
        err = 220 * std / top
        draw.line([x + 30, y - err, x + 30, min(260, y + err)], fill=(0, 0, 0), width=2)
        draw.text((x, 266), m, fill=(0, 0, 0))
        draw.text((x, y - 14 - err), f"{mean:.3f}", fill=(0, 0, 0))
    draw.text(
        (40, 6), "attribute accuracy on held-out prompts and seeds (mean ± std)", fill=(0, 0, 0)
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    args = parse_args(argv)
    start = time.perf_counter()
    result = run(args)
    result["machine"] = common.machine_info()
    result["seconds"] = time.perf_counter() - start
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    plot(result, args.out.with_suffix(".png"))
    print(table(result))
    print(f"\n{len(result['rows'])} held-out prompts, {args.holdout_seeds} held-out seeds each; "
          f"{result['seconds']:.0f} s; JSON and PNG in {args.out.parent}")  # fmt: skip
    return result


if __name__ == "__main__":
    main()
