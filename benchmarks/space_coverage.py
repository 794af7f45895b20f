"""Coverage and quality of WordNet search spaces on the development prompts.

Prints, for negative (contrast) and positive (synonym) mode: the share of content words with
at least one candidate, the mean number of candidates per covered word, the time to build a
space per prompt after WordNet is loaded, the share of negative candidates that WordNet itself
relates to the word's best sense as a synonym, hypernym, hyponym or near-synonym (or that are
derived from the word), and ``SAMPLE_ROWS`` random (word -> candidates) rows (fixed seed) to
judge by reading them. Writes the numbers to benchmarks/results/space_coverage.json.

``--clip tiny`` (or ``--clip model.safetensors``, a checkpoint's CLIP) also ranks with that
CLIP's text encoder (as the Search Space Builder node does when a CLIP is connected) and
reports its time, how many rows change, and
the meaning-filter calibration: the cosine of a rewrite to the prompt for WordNet's true
synonyms (other lemmas of the word's sense) against sister words (meaning changes such as
"rats" -> "mice").

Before/after comparisons: ``--lexicon-from DIR`` imports ``dpo_core`` from DIR (e.g. an old
commit unpacked with ``git archive``) and ``--dump-rows FILE`` saves every row; ``--score-rows
FILE`` scores saved negative rows with the current WordNet relations.

``--exclude FILE`` leaves out the prompts of another file: with the paper's full example set
as ``prompts`` and the development prompts excluded, it measures held-out prompts that no
rule was written for. ``--seed N`` draws other judged rows (judge a fresh draw, not the one
looked at while changing the lexicon); ``--sample-from FILE --seed N`` prints that draw from a
saved dump.

Run: python benchmarks/space_coverage.py [prompts.json] [--clip tiny] [--seed N]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_PROMPTS = (
    ROOT.parent / "shared" / "data" / "prompts_dev.json"
)  # ../shared beside the checkout
SEED = 0
SAMPLE_ROWS = 40


def measure(prompts: list[str], mode: str, settings, similarity=None) -> dict:
    from dpo_core.spaces.wordnet_source import wordnet_candidates
    from dpo_core.spaces.words import analyze

    content = covered = total = 0
    times: list[float] = []
    rows: list[dict] = []
    for prompt in prompts:
        start = time.perf_counter()
        analysis = analyze(prompt)
        if similarity is None:
            found = wordnet_candidates(analysis, mode, settings)
        else:
            found = wordnet_candidates(analysis, mode, settings, similarity)
        times.append(time.perf_counter() - start)
        for index, word in enumerate(analysis.words):
            if not word.content:
                continue
            content += 1
            if index in found:
                covered += 1
                total += len(found[index])
                rows.append(
                    {
                        "prompt": prompt,
                        "index": index,
                        "word": word.text,
                        "candidates": found[index],
                    }
                )
    return {
        "mode": mode,
        "content_words": content,
        "coverage": covered / max(content, 1),
        "mean_candidates_per_covered_word": total / max(covered, 1),
        "seconds_per_prompt_mean": statistics.mean(times),
        "seconds_per_prompt_max": max(times),
        "rows": rows,
    }


def relation_share(rows: list[dict]) -> dict:
    """Share of negative candidates WordNet relates to the word's best sense, by relation."""
    from dpo_core.spaces.wordnet_data import load_wordnet
    from dpo_core.spaces.wordnet_source import _derived_names, chosen_sense, wordnet_relation
    from dpo_core.spaces.words import analyze

    wordnet = load_wordnet()
    counts: dict[str, int] = {}
    examples: dict[str, list[str]] = {}
    total = 0
    for row in rows:
        analysis = analyze(row["prompt"])
        word = analysis.words[row["index"]]
        if word.pos is None:
            continue
        sense = chosen_sense(analysis, row["index"])  # the sense the builder read it in
        for candidate in row["candidates"]:
            total += 1
            key = candidate.lower().replace(" ", "_")
            base = wordnet.morphy(key, word.pos) or key
            found = wordnet_relation(sense, base) if sense is not None else None
            if found is None and base in _derived_names(word.lemma):
                found = "derived"
            if found is not None:
                counts[found] = counts.get(found, 0) + 1
                examples.setdefault(found, []).append(f"{word.text} -> {candidate}")
    return {
        "candidates": total,
        "related": sum(counts.values()),
        "share": sum(counts.values()) / max(total, 1),
        "by_relation": counts,
        "examples": {k: v[:8] for k, v in examples.items()},
    }


def tiny_world_similarity():
    """The tiny world's CLIP as the node builds it (ComfyUI loaded in-process, CPU)."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from common import setup

    setup(threads=1)
    from dpo_diff.nodes.clip_similarity import clip_similarity
    from dpo_diff.tiny_world.models import build_clip, load_weights, weight_path

    return clip_similarity(build_clip(load_weights(weight_path("text_encoder"))))


def clip_l_similarity():
    """SD1's CLIP-L at full size (123M parameters) with seeded random weights, built through
    ComfyUI's own classes: what ranking with a real SD1.5 CLIP costs (the ranking itself means
    nothing with random weights)."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from common import setup

    setup(threads=1)
    from dpo_diff.model_builders.sd1 import build_sd1_clip
    from dpo_diff.nodes.clip_similarity import clip_similarity

    return clip_similarity(build_sd1_clip())


def checkpoint_similarity(path: Path):
    """The CLIP of a ComfyUI checkpoint file (e.g. an SD1.5 model: CLIP-L), as the node uses it."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from common import setup

    setup(threads=1)
    import comfy.sd
    from dpo_diff.nodes.clip_similarity import clip_similarity

    loaded = comfy.sd.load_checkpoint_guess_config(
        str(path), output_vae=False, output_clipvision=False
    )
    return clip_similarity(loaded[1])


def calibrate(prompts: list[str], similarity) -> dict:
    """Cosines of one-word rewrites to the prompt: true synonyms against sister words."""
    from dpo_core.spaces.inflection import inflect, match_case
    from dpo_core.spaces.wordnet_source import (
        WordNetSettings,
        _co_hyponyms,
        _familiar_name,
        _usable,
        rank_senses,
    )
    from dpo_core.spaces.words import analyze

    settings = WordNetSettings()
    groups: dict[str, list[tuple[float, str]]] = {"synonym": [], "sister": []}
    for prompt in prompts:
        analysis = analyze(prompt)
        for word in analysis.content_words:
            if word.pos not in ("n", "v", "a"):
                continue
            context = [w.lemma for w in analysis.content_words if w is not word]
            senses = rank_senses(word.lemma, word.pos, context)
            if not senses:
                continue
            best = senses[0][0]
            names = {
                "synonym": [
                    lemma.name()
                    for lemma in best.lemmas()
                    if lemma.name().lower() != word.lemma and _usable(lemma.name(), settings)
                ],
                "sister": [
                    item.name()
                    for item, penalty in _co_hyponyms(best, levels=1)
                    if penalty > -1 and _familiar_name(item.name())
                ][:3]
                if word.pos in ("n", "v")
                else [],
            }
            for group, found in names.items():
                for name in found:
                    form = match_case(
                        inflect(name.replace("_", " "), word.pos, word.form), word.text
                    )
                    rewritten = prompt[: word.start] + form + prompt[word.end :]
                    cosine = similarity.similarities(prompt, [rewritten])[0]
                    groups[group].append((cosine, f"{word.text} -> {form}"))
    synonyms = [c for c, _ in groups["synonym"]]
    sisters = [c for c, _ in groups["sister"]]
    pairs = [s > k for s in synonyms for k in sisters]
    thresholds = {}
    for threshold in (0.5, 0.7, 0.8, 0.85, 0.9, 0.95, 0.98, 0.99):
        thresholds[str(threshold)] = {
            "synonyms_kept": sum(c >= threshold for c in synonyms) / max(len(synonyms), 1),
            "sisters_rejected": sum(c < threshold for c in sisters) / max(len(sisters), 1),
        }
    quantiles = (0.1, 0.25, 0.5, 0.75, 0.9)

    def spread(values: list[float]) -> list[float]:
        ordered = sorted(values)
        return [round(ordered[int(q * (len(ordered) - 1))], 4) for q in quantiles] if values else []

    return {
        "synonym_rewrites": len(synonyms),
        "sister_rewrites": len(sisters),
        "auc_synonym_above_sister": sum(pairs) / max(len(pairs), 1),
        "quantiles": {"q": quantiles, "synonym": spread(synonyms), "sister": spread(sisters)},
        "thresholds": thresholds,
        "examples": {g: [f"{t} ({c:.3f})" for c, t in v if "rats" in t] for g, v in groups.items()},
    }


def print_result(result: dict, label: str) -> None:
    print(f"\n== {result['mode']} mode ({label}) ==")
    print(f"content words:                 {result['content_words']}")
    print(f"covered (>= 1 candidate):      {100 * result['coverage']:.1f} %")
    print(f"mean candidates / covered:     {result['mean_candidates_per_covered_word']:.2f}")
    print(
        f"build time per prompt:         mean {result['seconds_per_prompt_mean']:.3f} s, "
        f"max {result['seconds_per_prompt_max']:.3f} s"
    )


def read_prompts(path: Path) -> list[str]:
    """A JSON list of prompts, or an object whose keys are the prompts (the paper's example
    files map each prompt to a value); repeats (up to surrounding spaces) are read once."""
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, (list, dict)) or not all(isinstance(p, str) for p in data):
        raise SystemExit(f"{path}: expected a JSON list of prompts or an object keyed by them")
    first: dict[str, str] = {}
    for prompt in data:
        if prompt.strip():
            first.setdefault(prompt.strip(), prompt)
    return list(first.values())


def sample(rows: list[dict], seed: int = SEED) -> list[dict]:
    return random.Random(seed).sample(rows, min(SAMPLE_ROWS, len(rows)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("prompts", nargs="?", type=Path, default=DEFAULT_PROMPTS)
    parser.add_argument(
        "--clip",
        default="none",
        help="none, tiny (the tiny world's CLIP), clip-l (full-size CLIP-L, random weights: "
        "for timing) or a checkpoint file",
    )
    parser.add_argument("--lexicon-from", type=Path, help="import dpo_core from this folder")
    parser.add_argument("--dump-rows", type=Path, help="save every row of both modes here")
    parser.add_argument("--score-rows", type=Path, help="score the negative rows of this dump")
    parser.add_argument(
        "--seed", type=int, default=SEED, help="draw of the judged rows (a fresh one per judging)"
    )
    parser.add_argument(
        "--sample-from", type=Path, help="print the judged rows of this dump (no measuring)"
    )
    parser.add_argument(
        "--exclude", type=Path, help="leave out the prompts of this file (held-out measuring)"
    )
    args = parser.parse_args()
    sys.path.insert(0, str(args.lexicon_from.resolve() if args.lexicon_from else ROOT))
    import torch

    torch.set_num_threads(1)
    if args.sample_from:
        dump = json.loads(args.sample_from.read_text(encoding="utf-8"))
        for mode in ("negative", "positive"):
            print(f"== {mode} mode: {SAMPLE_ROWS} random rows (seed {args.seed}) ==")
            for number, row in enumerate(sample(dump[mode], args.seed), 1):
                print(f"  {number:2d}. {row['word']:>14} -> {', '.join(row['candidates'])}")
        return
    if args.score_rows:
        dump = json.loads(args.score_rows.read_text(encoding="utf-8"))
        print(json.dumps(relation_share(dump["negative"]), indent=2))
        return
    from dpo_core.spaces.wordnet_data import load_wordnet
    from dpo_core.spaces.wordnet_source import WordNetSettings, warm_up

    prompts = read_prompts(args.prompts)
    if args.exclude:
        seen = {p.strip() for p in read_prompts(args.exclude)}
        prompts = [p for p in prompts if p.strip() not in seen]
    start = time.perf_counter()
    load_wordnet()
    warm_up()
    print(f"WordNet loaded in {time.perf_counter() - start:.2f} s; {len(prompts)} prompts")
    settings = WordNetSettings()
    similarity = None
    if args.clip == "tiny":
        similarity = tiny_world_similarity()
    elif args.clip == "clip-l":
        similarity = clip_l_similarity()
    elif args.clip != "none":
        similarity = checkpoint_similarity(Path(args.clip))
    results: dict = {}
    for mode, label in (("negative", "contrasts"), ("positive", "synonyms")):
        result = measure(prompts, mode, settings)
        print_result(result, label)
        if mode == "negative" and not args.lexicon_from:
            share = relation_share(result["rows"])
            result["wordnet_related"] = share
            print(
                f"WordNet-related candidates:    {share['related']} of {share['candidates']} "
                f"({100 * share['share']:.1f} %) {share['by_relation']}"
            )
        if similarity is not None:
            ranked = measure(prompts, mode, settings, similarity)
            before = {(r["prompt"], r["index"]): r["candidates"] for r in result["rows"]}
            changed = sum(before.get((r["prompt"], r["index"])) != r["candidates"]
                          for r in ranked["rows"])  # fmt: skip
            print(
                f"with the CLIP:                 covered {100 * ranked['coverage']:.1f} %, "
                f"{changed} of {len(ranked['rows'])} rows reordered or changed, build time "
                f"mean {ranked['seconds_per_prompt_mean']:.3f} s, "
                f"max {ranked['seconds_per_prompt_max']:.3f} s"
            )
            result["with_tiny_clip"] = {
                k: ranked[k]
                for k in ("coverage", "seconds_per_prompt_mean", "seconds_per_prompt_max")
            }
            result["with_tiny_clip"]["rows_changed"] = changed
            result["with_tiny_clip"]["sample"] = sample(ranked["rows"], args.seed)
        rows = sample(result["rows"], args.seed)
        print(f"{SAMPLE_ROWS} random rows (seed {args.seed}):")
        for number, row in enumerate(rows, 1):
            print(f"  {number:2d}. {row['word']:>14} -> {', '.join(row['candidates'])}")
        result["sample"] = rows
        results[mode] = result
    if similarity is not None:
        calibration = calibrate(prompts, similarity)
        results["meaning_filter_calibration"] = calibration
        print(f"\n== meaning filter calibration (CLIP: {args.clip}) ==")
        print(json.dumps(calibration, indent=2))
    if args.dump_rows:
        dump = {mode: results[mode]["rows"] for mode in ("negative", "positive")}
        args.dump_rows.write_text(json.dumps(dump), encoding="utf-8")
    for mode in ("negative", "positive"):
        del results[mode]["rows"]
    if args.lexicon_from:
        return
    name = "space_coverage" if args.prompts == DEFAULT_PROMPTS else f"space_coverage_{args.prompts.stem}"
    out = ROOT / "benchmarks" / "results" / f"{name}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2), encoding="utf-8")
    print(f"\nwritten {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
