"""Coverage and quality of WordNet search spaces on the development prompts.

Prints, for negative (antonym/contrast) and positive (synonym) mode: the share of content
words with at least one candidate, the mean number of candidates per covered word, the time
to build a space per prompt after WordNet is loaded, and 20 random (word -> candidates) rows
(fixed seed) to judge by eye. Writes the numbers to benchmarks/results/space_coverage.json.

Run: python benchmarks/space_coverage.py [prompts.json]
"""

from __future__ import annotations

import json
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from dpo_core.spaces.wordnet_data import load_wordnet  # noqa: E402
from dpo_core.spaces.wordnet_source import WordNetSettings, warm_up, wordnet_candidates  # noqa: E402
from dpo_core.spaces.words import analyze  # noqa: E402

DEFAULT_PROMPTS = Path(__file__).resolve().parents[2] / "shared" / "data" / "prompts_dev.json"  # ../shared beside the checkout
SEED = 0
SAMPLE_ROWS = 20


def measure(prompts: list[str], mode: str, settings: WordNetSettings) -> dict:
    content = covered = total = 0
    times: list[float] = []
    rows: list[tuple[str, str, list[str]]] = []
    for prompt in prompts:
        start = time.perf_counter()
        analysis = analyze(prompt)
        found = wordnet_candidates(analysis, mode, settings)
        times.append(time.perf_counter() - start)
        for index, word in enumerate(analysis.words):
            if not word.content:
                continue
            content += 1
            if index in found:
                covered += 1
                total += len(found[index])
                rows.append((prompt, word.text, found[index]))
    return {
        "mode": mode,
        "content_words": content,
        "coverage": covered / max(content, 1),
        "mean_candidates_per_covered_word": total / max(covered, 1),
        "seconds_per_prompt_mean": statistics.mean(times),
        "seconds_per_prompt_max": max(times),
        "rows": rows,
    }


def main() -> None:
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_PROMPTS
    prompts = json.loads(path.read_text(encoding="utf-8"))
    start = time.perf_counter()
    load_wordnet()
    warm_up()
    print(f"WordNet loaded in {time.perf_counter() - start:.2f} s; {len(prompts)} prompts")
    settings = WordNetSettings()
    results = {}
    for mode, label in (("negative", "antonym/contrast"), ("positive", "synonym")):
        result = measure(prompts, mode, settings)
        results[mode] = result
        print(f"\n== {mode} mode ({label}) ==")
        print(f"content words:                 {result['content_words']}")
        print(f"covered (>= 1 candidate):      {100 * result['coverage']:.1f} %")
        print(f"mean candidates / covered:     {result['mean_candidates_per_covered_word']:.2f}")
        print(
            f"build time per prompt:         mean {result['seconds_per_prompt_mean']:.3f} s, "
            f"max {result['seconds_per_prompt_max']:.3f} s"
        )
        sample = random.Random(SEED).sample(result["rows"], min(SAMPLE_ROWS, len(result["rows"])))
        print(f"{SAMPLE_ROWS} random rows (seed {SEED}):")
        for _, word, candidates in sample:
            print(f"  {word:>14} -> {', '.join(candidates)}")
        result["sample"] = [{"word": w, "candidates": c, "prompt": p} for p, w, c in sample]
        del result["rows"]
    out = ROOT / "benchmarks" / "results" / "space_coverage.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2), encoding="utf-8")
    print(f"\nwritten {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
