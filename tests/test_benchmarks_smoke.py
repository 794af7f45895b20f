"""Every benchmark command runs at a tiny size (seconds), so that none of them rots unnoticed."""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.fixture(scope="module")
def bench(comfy):
    sys.path.insert(0, str(BENCHMARKS))
    yield lambda name: importlib.import_module(name)
    sys.path.remove(str(BENCHMARKS))


def _check(out: Path, name: str) -> dict:
    data = json.loads((out / f"{name}.json").read_text())
    assert (out / f"{name}.png").stat().st_size > 0
    assert data["machine"]["torch"]
    return data


def test_gradient_cost_tiny(bench, tmp_path):
    bench("gradient_cost").main(["--tiny", "--threads", "1", "--out", str(tmp_path)])
    data = _check(tmp_path, "gradient_cost_tiny")
    saved = {(r["label"], r["steps"]): r["saved_activation_mib"] for r in data["results"]}
    # the shortcut's graph does not grow with the steps, the full gradient's does
    assert saved[("shortcut K=1", 4)] == pytest.approx(saved[("shortcut K=1", 2)])
    assert saved[("full", 4)] > saved[("full", 2)] > saved[("shortcut K=1", 2)] * 1.05


def test_shortcut_overhead_tiny(bench, tmp_path):
    bench("shortcut_overhead").main(["--tiny", "--threads", "1", "--out", str(tmp_path)])
    data = _check(tmp_path, "shortcut_overhead_tiny")
    assert data["sum_of_parts"] > 0 and data["medians"]["iteration"] > 0


def test_eval_throughput_tiny(bench, tmp_path):
    bench("eval_throughput").main(["--tiny", "--threads", "1", "--out", str(tmp_path)])
    data = _check(tmp_path, "eval_throughput_tiny")
    assert all(r["candidates_per_second"] > 0 for r in data["results"])


def test_search_efficacy_tiny(bench, tmp_path):
    prompts = tmp_path / "prompts.json"
    prompts.write_text(json.dumps(["a red cat sitting on a soft mat"]))
    bench("search_efficacy").main(
        ["--tiny", "--threads", "1", "--out", str(tmp_path), "--prompts", str(prompts)]
    )
    data = _check(tmp_path, "search_efficacy_tiny")
    assert {r["method"] for r in data["summary"]} == {"original", "random", "epo", "gpo", "hybrid"}
    budget = data["arguments"]["evaluations"]  # equal budgets, the gradient phase's share counted
    assert all(r["evaluations"] + r["gradient_evaluations"] == budget for r in data["runs"])
    assert all(r["original_in_pool"] for r in data["runs"])


def test_gpu_script_dry_run(bench, tmp_path):
    bench("gpu_full_size").main(["--dry-run", "--threads", "1", "--out", str(tmp_path)])
    data = _check(tmp_path, "gpu_full_size_dry_run")
    assert data["hybrid"]["evaluations"] == 8 and data["hybrid"]["gradient_iterations"] == 2


def test_family_cost_tiny(bench, tmp_path):
    data = bench("family_cost").main(["--tiny", "--threads", "1", "--out", str(tmp_path)])
    assert set(data["medians"]) == {"sd1", "sd2", "sdxl"}
    assert all(seconds > 0 for seconds in data["medians"].values())
    assert data["ratio_sdxl_to_sd1"] == data["medians"]["sdxl"] / data["medians"]["sd1"]


@pytest.mark.parametrize("space", ["wordnet", "vocabulary"])
def test_faithfulness_tiny(bench, tmp_path, space):
    out = tmp_path / "faithfulness.json"
    args = "--prompts 1 --generations 1 --population 2 --gpo-iterations 1 --search-seeds 1"
    bench("faithfulness").main([*args.split(), "--holdout-seeds", "1", "--steps", "3",
                                "--threads", "1", "--space", space, "--out", str(out)])  # fmt: skip
    data = json.loads(out.read_text())
    assert out.with_suffix(".png").stat().st_size > 0
    (row,) = data["rows"]
    assert set(row["scores"]) == {"none", "hand", "random", "epo", "hybrid"}
    assert row["negatives"]["none"] == "" and row["negatives"]["hand"]
    for scores in row["scores"].values():
        assert 0.0 <= scores["attributes"] <= 1.0 and scores["evaluator_loss"] >= 0.0


def test_faithfulness_merge_joins_shards_and_summarizes(bench, tmp_path):
    """Two shards (one prompt each) merge into one result whose summary covers both."""
    args = "--prompts 2 --generations 1 --population 2 --gpo-iterations 1 --search-seeds 1"
    common = [*args.split(), "--holdout-seeds", "1", "--steps", "3", "--threads", "1",
              "--space", "vocabulary", "--methods", "none", "random"]  # fmt: skip
    shards = [tmp_path / f"s{i}.json" for i in range(2)]
    for i, shard in enumerate(shards):
        bench("faithfulness").main([*common, "--shard", f"{i}/2", "--out", str(shard)])
    merged = tmp_path / "merged.json"
    bench("faithfulness").main(["--merge", *map(str, shards), "--out", str(merged)])
    data = json.loads(merged.read_text())
    parts = [json.loads(s.read_text())["rows"][0]["index"] for s in shards]
    assert [r["index"] for r in data["rows"]] == sorted(parts)
    assert data["summary"], "the merged result has no summary"
