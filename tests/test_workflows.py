"""The shipped workflows on the real headless ComfyUI: they load in the editor, run to success
with the generated SD1.5 checkpoint, and an interrupted run keeps its record."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = sorted((REPO_ROOT / "workflows").glob("*.json"))
SMALL = {"width": 64, "height": 64, "steps": 4}


def shrink(api: dict, checkpoint: str, evaluator: str, **budget) -> dict:
    """CPU-sized copy of a shipped workflow: tiny images, few steps, the test models."""
    api = json.loads(json.dumps(api))
    for node in api.values():
        inputs, kind = node["inputs"], node["class_type"]
        for key, value in SMALL.items():
            if key in inputs and not isinstance(inputs[key], list):
                inputs[key] = value
        if kind == "CheckpointLoaderSimple":
            inputs["ckpt_name"] = checkpoint
        elif kind == "DPOEvaluatorLoader":
            inputs.update(kind="embedded config", weights=evaluator)
        elif kind == "DPOShortcutGradientOptimizer":
            inputs.update(iterations=budget.get("iterations", 2))
        elif kind == "DPOEvolutionarySearch":
            inputs.update(
                evaluations=budget.get("evaluations", 4),
                population=budget.get("population", 4),
                holdout_seeds=1,
            )
    return api


def api_twin(ui_path: Path) -> dict:
    return json.loads((ui_path.parent / "api" / ui_path.name).read_text())


def test_every_workflow_has_an_api_twin():
    assert {p.name for p in WORKFLOWS} == {
        p.name for p in (REPO_ROOT / "workflows/api").glob("*.json")
    }
    assert len(WORKFLOWS) >= 2


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.stem)
def test_ui_workflow_matches_the_servers_nodes(comfy_server, path):
    """Every node type, input name, widget count and link type exists as /object_info says,
    so the file opens in the editor without missing nodes or shifted widget values."""
    info = comfy_server.get("/object_info", timeout=60)
    ui = json.loads(path.read_text())
    outputs = {}
    for node in ui["nodes"]:
        assert node["type"] in info, f"{path.name}: unknown node type {node['type']}"
        spec = info[node["type"]]
        declared = {**spec["input"].get("required", {}), **spec["input"].get("optional", {})}
        widgets = 0
        for entry in declared.values():
            options = entry[1] if len(entry) > 1 and isinstance(entry[1], dict) else {}
            if options.get("forceInput"):
                continue  # a socket only, never a widget
            if isinstance(entry[0], list) or entry[0] in (
                "INT",
                "FLOAT",
                "STRING",
                "BOOLEAN",
                "COMBO",
            ):
                widgets += 1 + bool(len(entry) > 1 and entry[1].get("control_after_generate"))
        assert len(node["widgets_values"]) == widgets, f"{path.name}: {node['type']} widgets"
        for inp in node["inputs"]:
            assert inp["name"] in declared, (
                f"{path.name}: {node['type']} has no input {inp['name']}"
            )
        for slot, out in enumerate(node["outputs"]):
            if slot >= len(spec["output"]):
                # the files are made on the newest ComfyUI; an output an older one lacks is
                # harmless only while nothing is connected to it
                assert not out.get("links"), (
                    f"{path.name}: {node['type']} output {slot} is connected, but this "
                    "ComfyUI's node has no such output"
                )
                continue
            assert out["type"] == spec["output"][slot]
            outputs[(node["id"], slot)] = out["type"]
    for link_id, src, slot, dst, dst_slot, kind in ui["links"]:
        assert outputs[(src, slot)] == kind
        target = next(n for n in ui["nodes"] if n["id"] == dst)
        assert target["inputs"][dst_slot]["link"] == link_id


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.stem)
def test_api_workflow_runs_to_success(comfy_server, sd15_checkpoint, tiny_evaluator_file, path):
    api = shrink(api_twin(path), sd15_checkpoint.name, tiny_evaluator_file.name)
    entry = comfy_server.run(api, timeout=900)
    assert entry["status"]["status_str"] == "success", json.dumps(entry["status"])[:3000]
    saved = [
        image for node in entry["outputs"].values() for image in node.get("images", [])
        if image.get("type") == "output"
    ]  # fmt: skip
    assert len(saved) == 2  # the optimized image and the original, side by side
    for image in saved:
        assert (comfy_server.output_dir / image["subfolder"] / image["filename"]).is_file()
    reports = [n["text"] for n in entry["outputs"].values() if "text" in n]
    assert any("held-out seeds" in "".join(t) for t in reports), reports


def test_interrupt_keeps_every_evaluated_candidate(
    comfy_server, sd15_checkpoint, tiny_evaluator_file
):
    api = shrink(
        api_twin(REPO_ROOT / "workflows" / "DPO-Diff negative prompt search.json"),
        sd15_checkpoint.name, tiny_evaluator_file.name, iterations=1, evaluations=200, population=4,
    )  # fmt: skip
    api["6"]["inputs"]["batch_size"] = 1
    api["6"]["inputs"]["seed"] = 99  # a fresh run, not a cached one
    records = comfy_server.output_dir / "dpo_diff"
    before = set(records.glob("search_*.json")) if records.is_dir() else set()
    prompt_id = comfy_server.submit(api)
    deadline = time.time() + 600
    record_file, seen = None, 0
    while time.time() < deadline and seen < 2:
        new = set(records.glob("search_*.json")) - before if records.is_dir() else set()
        if new:
            record_file = new.pop()
            try:
                seen = len(json.loads(record_file.read_text())["candidates"])
            except (json.JSONDecodeError, OSError):
                pass
        time.sleep(0.2)
    assert record_file is not None and seen >= 2, comfy_server.log_tail()
    comfy_server.interrupt()
    entry = comfy_server.wait(prompt_id, timeout=300)
    assert entry["status"]["status_str"] == "error"  # interrupted, not finished
    messages = json.dumps(entry["status"]["messages"])
    assert "interrupted" in messages
    record = json.loads(record_file.read_text())
    assert seen <= len(record["candidates"]) < 200  # stopped long before the budget
    choices = [tuple(c["choice"]) for c in record["candidates"]]
    assert len(set(choices)) == len(choices)
    assert all(len(c["losses"]) == 1 for c in record["candidates"])
