"""Measure the world's quality; write QUALITY.md, quality.json and samples.png.

    python -m tiny_world.quality --prompts 24 --seeds 24

Every generated image is sampled through the pack's ComfyBackend (``measure.Judge``) at the
shipped workflow's settings (euler/normal, 20 steps, cfg 6, 64x64), one image per seed:

1. the judges on rendered images: classifier accuracy, evaluator separation per attribute and
   defect, and how linear the VAE's latent is in colour (R^2 of a 4x3 preview map);
2. exact accuracy with an empty negative prompt on held-out and on training combinations,
   the defect rate and the broken-image rate;
3. negatives that name something absent (a value of an attribute the image does not show, a
   defect it does not have): the share of the classifier's labels left unchanged, same seed;
4. negatives that name the wrong value or the unwanted defect an image shows: the share of
   those errors fixed and of the right attributes broken, same seed;
5. the evaluator against the classifier: Spearman(loss, accuracy) within each prompt.
"""

from __future__ import annotations

import json
import logging
import os
import random
import statistics
import time
from pathlib import Path

import torch

REPO_ROOT = Path(__file__).resolve().parents[1]
log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
SAMPLE_ROWS = 6
SEED_BASE = 10_000  # generated-image seeds: SEED_BASE + seed offset + j (never searched on)


def rendered_checks(loaded, seed: int) -> dict:
    """The judges and the VAE on rendered held-out scenes (clean, and with defects)."""
    from . import world
    from .judges import defect_separation, evaluator_ranking, faithfulness
    from .train_vae import encode_moments, linear_preview_r2

    scenes = world.split_scenes()[1] * 4
    clean = world.render(scenes, seed)
    rng = random.Random(seed)
    defects = [frozenset({rng.choice(list(world.DEFECTS))}) for _ in scenes]
    defective = world.render(scenes, seed, defects)
    captions = [world.caption(s) for s in scenes]
    on_clean = faithfulness(loaded.classifier, clean, captions)
    named = [world.caption(s, defects=d) for s, d in zip(scenes, defects)]
    on_defective = faithfulness(loaded.classifier, defective, named)
    defect_heads = statistics.fmean(
        float(p[d] == "present") for p, ds in zip(on_defective.predictions, defects) for d in ds
    )
    separation = {
        a: evaluator_ranking(loaded.evaluator, clean, scenes, a) for a in world.ATTRIBUTES
    }
    for d in world.DEFECTS:
        separation[d] = evaluator_ranking(loaded.evaluator, clean, scenes, d)
    separation["defective image below clean"] = defect_separation(
        loaded.evaluator, clean, defective, scenes
    )
    ae = loaded.vae.first_stage_model.float()
    with torch.no_grad():
        both = torch.cat([clean, defective])[::2]
        mean, _ = encode_moments(ae, both)
        latents, _ = encode_moments(ae, defective)
        decoded = ((ae.decoder(ae.post_quant_conv(latents)) + 1) / 2).clamp(0, 1)
    through_vae = faithfulness(loaded.classifier, decoded, named)
    kept = {
        d: statistics.fmean(
            float(p[d] == "present") for p, ds in zip(through_vae.predictions, defects) if d in ds
        )
        for d in world.DEFECTS
    }
    return {
        "classifier_exact_through_vae": through_vae.exact,
        "classifier_per_attribute_through_vae": through_vae.per_attribute,
        "defects_found_after_vae": kept,
        "classifier_exact_clean": on_clean.exact,
        "classifier_exact_defective": on_defective.exact,
        "classifier_per_attribute_clean": on_clean.per_attribute,
        "classifier_defect_heads": defect_heads,
        "evaluator_separation": separation,
        "vae_linear_preview_r2": linear_preview_r2(mean, both),
    }


def generation_stats(verdicts) -> dict:
    from . import world

    n = max(1, len(verdicts))
    per = {a: [] for a in world.ATTRIBUTES}
    for v in verdicts:
        for a, value in v.stated.items():
            per[a].append(v.labels[a] == value)
    return {
        "images": len(verdicts),
        "exact": sum(v.exact for v in verdicts) / n,
        "attributes_all_right": sum(not v.wrong_attributes for v in verdicts) / n,
        "defect_free": sum(not v.unwanted for v in verdicts) / n,
        "broken": sum(v.broken for v in verdicts) / n,
        "per_attribute": {a: sum(x) / len(x) for a, x in per.items() if x},
        "per_defect": {d: sum(d in v.unwanted for v in verdicts) / n for d in world.DEFECTS},
    }


def absent_negatives(judge, base, seed: int) -> dict:
    """Each image again, same seed, with one negative naming something it does not show."""
    from . import world
    from .judges import HEADS
    from .measure import value_phrase

    rng = random.Random(seed)
    triples, kinds = [], []
    for v in base:
        if rng.random() < 0.5:
            attribute = rng.choice(world.ATTRIBUTES)
            value = rng.choice(
                [x for x in world.ATTRIBUTE_VALUES[attribute] if x != v.labels[attribute]]
            )
            kind = (
                "colour"
                if attribute == "colour"
                else "shape"
                if attribute == "shape"
                else "binary attribute"
            )
        else:
            absent = [d for d in world.DEFECTS if v.labels[d] == "absent"]
            if not absent:
                continue
            attribute, value, kind = rng.choice(absent), "present", "defect"
        triples.append((v.prompt, value_phrase(attribute, value), v.seed))
        kinds.append(kind)
    after = judge(triples)
    before = {(v.prompt, v.seed): v for v in base}
    by_kind: dict[str, list[float]] = {}
    all_same: list[bool] = []
    for t, kind, a in zip(triples, kinds, after):
        b = before[(t[0], t[2])]
        same = [a.labels[h] == b.labels[h] for h in HEADS]
        by_kind.setdefault(kind, []).append(sum(same) / len(same))
        all_same.append(all(same))
    every = [x for xs in by_kind.values() for x in xs]
    return {
        "images": len(triples),
        "labels_unchanged": statistics.fmean(every) if every else float("nan"),
        "labels_unchanged_by_kind": {k: statistics.fmean(x) for k, x in by_kind.items()},
        "images_all_labels_unchanged": sum(all_same) / max(1, len(all_same)),
        "exact_before": sum(before[(t[0], t[2])].exact for t in triples) / max(1, len(triples)),
        "exact_after": sum(a.exact for a in after) / max(1, len(after)),
    }


def wrong_value_negatives(judge, base) -> dict:
    """For every error of an image, the same seed with the shown wrong value (or the unwanted
    defect) as the negative: is that error fixed, are the image's right attributes kept?"""
    from . import world
    from .measure import value_phrase

    triples, errors = [], []
    for v in base:
        for attribute, shown in v.wrong_attributes.items():
            triples.append((v.prompt, value_phrase(attribute, shown), v.seed))
            errors.append((v, attribute))
        for defect in sorted(v.unwanted):
            triples.append((v.prompt, value_phrase(defect, "present"), v.seed))
            errors.append((v, defect))
    after = judge(triples)
    fixed: dict[str, list[bool]] = {}
    broken: list[float] = []
    for (b, item), a in zip(errors, after):
        kind = (
            "defect"
            if item in world.DEFECTS
            else item
            if item in ("colour", "shape")
            else "binary attribute"
        )
        if item in world.DEFECTS:
            fixed.setdefault(kind, []).append(item not in a.unwanted)
        else:
            fixed.setdefault(kind, []).append(a.labels[item] == b.stated[item])
        right_before = [k for k in b.stated if k not in b.wrong_attributes]
        right_before += [d for d in world.DEFECTS if d not in b.unwanted]
        if right_before:
            now_wrong = [
                (a.labels[k] != b.stated[k]) if k in b.stated else (k in a.unwanted)
                for k in right_before
            ]
            broken.append(sum(now_wrong) / len(now_wrong))
    every = [x for xs in fixed.values() for x in xs]
    return {
        "errors": len(errors),
        "fixed": sum(every) / max(1, len(every)),
        "fixed_by_kind": {k: sum(x) / len(x) for k, x in fixed.items()},
        "errors_by_kind": {k: len(x) for k, x in fixed.items()},
        "right_broken": statistics.fmean(broken) if broken else float("nan"),
        "exact_after": sum(a.exact for a in after) / max(1, len(after)),
    }


def within_prompt_spearman(verdicts) -> dict:
    from .measure import spearman

    by_prompt: dict[str, list] = {}
    for v in verdicts:
        by_prompt.setdefault(v.prompt, []).append(v)
    values = [spearman([v.loss for v in vs], [v.accuracy for v in vs]) for vs in by_prompt.values()]
    values = [x for x in values if x == x]
    return {
        "mean": statistics.fmean(values) if values else float("nan"),
        "prompts": len(values),
    }


def measure(loaded, judge, prompts, train_prompts, seeds, seed: int) -> dict:
    from .measure import exact_rate

    start = time.monotonic()
    result: dict = {"rendered": rendered_checks(loaded, seed)}
    held = judge([(p, "", s) for p in prompts for s in seeds])
    result["held_out"] = generation_stats(held)
    log.info("held-out: %s (%.0f s)", result["held_out"], time.monotonic() - start)
    trained = judge([(p, "", s) for p in train_prompts for s in seeds])
    result["training"] = generation_stats(trained)
    log.info("training combinations: %s", result["training"])
    result["absent_negatives"] = absent_negatives(judge, held, seed)
    log.info("absent negatives: %s", result["absent_negatives"])
    result["wrong_value_negatives"] = wrong_value_negatives(judge, held)
    log.info("wrong-value negatives: %s", result["wrong_value_negatives"])
    everything = [v for v in judge.cache.values() if v.prompt in set(prompts)]
    result["evaluator_spearman"] = within_prompt_spearman(everything)
    result["held_out"]["exact_check"] = exact_rate(held)
    result["images_rendered"] = judge.rendered
    result["seconds"] = time.monotonic() - start
    return result


def write_samples(loaded, judge, prompts, seeds, path: Path, seed: int) -> list[str]:
    import torchvision

    from . import world

    rows = prompts[:: max(1, len(prompts) // SAMPLE_ROWS)][:SAMPLE_ROWS]
    scene_of = {world.caption(s): s for s in world.all_scenes()}
    tiles = []
    for i, prompt in enumerate(rows):
        tiles.append(world.render([scene_of[prompt]], seed + i))
        tiles.append(judge.images([(prompt, "", s) for s in seeds[:6]]))
    grid = torch.cat(tiles)
    torchvision.utils.save_image(grid, path, nrow=7, padding=2, pad_value=0.5)
    return rows


def report(result: dict, args, rows: list[str]) -> str:
    r, h, t = result["rendered"], result["held_out"], result["training"]
    ab, wr = result["absent_negatives"], result["wrong_value_negatives"]

    def pct(x: float) -> str:
        return f"{x:.3f}"

    sep = ", ".join(f"{k} {v:.3f}" for k, v in r["evaluator_separation"].items())
    per_h = ", ".join(f"{k} {v:.3f}" for k, v in h["per_attribute"].items())
    per_t = ", ".join(f"{k} {v:.3f}" for k, v in t["per_attribute"].items())
    defects_h = ", ".join(f"{k} {v:.3f}" for k, v in h["per_defect"].items())
    absent_kinds = ", ".join(f"{k} {v:.3f}" for k, v in ab["labels_unchanged_by_kind"].items())
    counts = wr["errors_by_kind"]
    fixed_kinds = ", ".join(f"{k} {v:.3f} of {counts[k]}" for k, v in wr["fixed_by_kind"].items())
    spear = result["evaluator_spearman"]
    held_count = len(set(args.held_prompts))
    vae_attrs = ", ".join(
        f"{k} {v:.3f}" for k, v in r["classifier_per_attribute_through_vae"].items()
    )
    vae_kept = ", ".join(f"{k} {v:.3f}" for k, v in r["defects_found_after_vae"].items())
    return (
        f"""# Tiny world: quality

Command: `python -m tiny_world.quality --prompts {args.prompts} --seeds {args.seeds} --train-prompts {args.train_prompts} --seed-offset {args.seed_offset}`
(weights in tiny_world/weights/). Every generated image is sampled through the pack's
ComfyBackend (the search's own path, equal to KSampler for the same seed), euler/normal,
{args.steps} steps, cfg {args.cfg}, 64x64, one image per seed; seeds {SEED_BASE + args.seed_offset}..{SEED_BASE + args.seed_offset + args.seeds - 1}
(never used by any search). {result["images_rendered"]} images in {result["seconds"]:.0f} s on one CPU thread.

"Exact" (all right) = every attribute the prompt states is right by the attribute classifier
**and** the image shows no defect (blur, grain, watermark) that the prompt does not ask for.

## Generation with an empty negative prompt

| prompts | images | exact | stated attributes all right | no unwanted defect | broken |
|---|---|---|---|---|---|
| {held_count} held-out combinations | {h["images"]} | {pct(h["exact"])} | {pct(h["attributes_all_right"])} | {pct(h["defect_free"])} | {pct(h["broken"])} |
| {args.train_prompts} training combinations | {t["images"]} | {pct(t["exact"])} | {pct(t["attributes_all_right"])} | {pct(t["defect_free"])} | {pct(t["broken"])} |

Per attribute, held-out: {per_h}. Training: {per_t}.
Unwanted defect rate, held-out: {defects_h}.
"Broken": the classifier's top probability for colour or shape is below 0.5.

## Negative prompts

- **Naming something absent** (one negative per image: a value of an attribute the image does
  not show, or a defect it does not have; same seed): {pct(ab["labels_unchanged"])} of the
  classifier's labels unchanged ({absent_kinds});
  {pct(ab["images_all_labels_unchanged"])} of the images keep every label; {ab["images"]} images.
- **Naming the wrong value or the unwanted defect an image shows** (one negative per error, the
  shown value's word, e.g. "big" on a small-prompt image that came out big, "blurry"; same
  seed): {pct(wr["fixed"])} of {wr["errors"]} errors fixed ({fixed_kinds});
  {pct(wr["right_broken"])} of the right attributes broken.

## The judges

- Attribute classifier on rendered held-out scenes: exact {pct(r["classifier_exact_clean"])} (clean),
  {pct(r["classifier_exact_defective"])} (with one defect, named); defect heads find
  {pct(r["classifier_defect_heads"])} of the defects.
- Evaluator (open_clip, hard-negative training) on rendered held-out scenes: share of images
  whose true caption scores above the caption with one attribute changed (or naming an absent
  defect): {sep}.
- Evaluator against the classifier on generated images (empty, absent-thing and wrong-value
  negatives), Spearman(loss, accuracy) within each prompt, mean over {spear["prompts"]} prompts:
  {spear["mean"]:.3f}.
- Through the VAE (rendered scenes with one named defect, encoded and decoded): classifier
  exact {pct(r["classifier_exact_through_vae"])}; {vae_attrs}; share of the defects still
  found: {vae_kept}.
- VAE latent, linear in colour: R^2 of the best affine map latent (4 channels) -> 8x8-pooled
  RGB on rendered images: {r["vae_linear_preview_r2"]:.3f}.

samples.png: rows are held-out prompts; first column a rendered reference, then 6 seeds:
"""
        + "\n".join(f"{i + 1}. {p}" for i, p in enumerate(rows))
        + "\n"
    )


def main(argv: list[str]) -> None:
    from . import world
    from .measure import Judge, make_backend, select_prompts
    from .models import load_world
    from .training import parser, setup

    p = parser("report the tiny world's quality", minutes=0)
    p.add_argument("--weights-dir", type=Path, default=None, help="weights other than shipped")
    p.add_argument("--prompts", type=int, default=24, help="held-out prompts")
    p.add_argument("--train-prompts", type=int, default=12, help="training-combination prompts")
    p.add_argument("--seeds", type=int, default=24, help="seeds per prompt")
    p.add_argument("--seed-offset", type=int, default=0)
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--cfg", type=float, default=6.0)
    p.add_argument("--out-dir", type=Path, default=HERE, help="where QUALITY.md etc. go")
    args = p.parse_args(argv)
    setup(args.seed, args.threads)
    loaded = load_world(args.weights_dir)
    with torch.inference_mode(False):
        backend = make_backend(loaded, args.steps, args.cfg)
    judge = Judge(loaded, backend)
    prompts = select_prompts(world.held_out_prompts(), args.prompts)
    train_prompts = select_prompts(world.training_prompts(), args.train_prompts)
    seeds = [SEED_BASE + args.seed_offset + j for j in range(args.seeds)]
    args.held_prompts = prompts
    result = measure(loaded, judge, prompts, train_prompts, seeds, args.seed)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    rows = write_samples(loaded, judge, prompts, seeds, args.out_dir / "samples.png", args.seed)
    # paths relative to the checkout, so the committed report names no machine's folders
    result["args"] = {
        k: (os.path.relpath(v, REPO_ROOT) if isinstance(v, Path) else str(v))
        for k, v in vars(args).items() if k != "held_prompts"
    }  # fmt: skip
    (args.out_dir / "quality.json").write_text(json.dumps(result, indent=2) + "\n")
    text = report(result, args, rows)
    (args.out_dir / "QUALITY.md").write_text(text)
    log.info("wrote %s:\n%s", args.out_dir / "QUALITY.md", text)


if __name__ == "__main__":
    from tiny_world.cli import run_in_pack

    run_in_pack("quality")
