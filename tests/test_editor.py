"""The shipped workflows in the real ComfyUI web editor (the frontend ComfyUI ships, in headless
Chromium): they open with every node and widget intact, build the prompt of their API twin, no
two nodes overlap, the missing-model panel names the evaluator's folder, the templates have
titles, descriptions and thumbnails, and the tiny-world workflow runs from the Run button with
progress and a preview on both optimizer nodes and the grid and report at the end.

Screenshots go to ``test-artifacts/editor/`` (ignored by git)."""

from __future__ import annotations

import json
import os
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from editor_browser import editor, overlaps

REPO_ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = sorted((REPO_ROOT / "workflows").glob("*.json"))
TINY_WORLD = REPO_ROOT / "workflows" / "DPO-Diff tiny world (CPU, no downloads).json"
ARTIFACTS = Path(os.environ.get("DPO_TEST_ARTIFACTS", REPO_ROOT / "test-artifacts")) / "editor"
OPTIMIZERS = ("DPOShortcutGradientOptimizer", "DPOEvolutionarySearch")

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def browser_editor(comfy_server):
    with editor(comfy_server) as ed:
        ed.object_info = comfy_server.get("/object_info", timeout=60)
        yield ed


def _api_twin(path: Path) -> dict:
    return json.loads((path.parent / "api" / path.name).read_text())


def _boxes(nodes: list[dict]) -> dict[str, list[float]]:
    return {f"{n['id']} {n['title']}": n["box"] for n in nodes}


def _assert_readable_layout(ed, where: str) -> None:
    nodes = ed.nodes()
    clashes = overlaps(_boxes(nodes))
    assert not clashes, f"{where}: overlapping nodes {clashes}"
    groups = ed.groups()
    assert len(groups) >= 3, f"{where}: expected the nodes in groups, got {groups}"
    assert not overlaps({g["title"]: g["box"] for g in groups}), f"{where}: groups overlap"
    for node in nodes:
        x, y, w, h = node["box"]
        inside = [
            g["title"] for g in groups
            if g["box"][0] <= x and g["box"][1] <= y
            and x + w <= g["box"][0] + g["box"][2] and y + h <= g["box"][1] + g["box"][3]
        ]  # fmt: skip
        assert len(inside) == 1, f"{where}: {node['title']} is in groups {inside}"


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.stem)
def test_workflow_opens_intact_and_readable(browser_editor, path):
    ed = browser_editor
    ui = json.loads(path.read_text())
    ed.load(ui)
    nodes = {n["id"]: n for n in ed.nodes()}
    assert sorted(nodes) == sorted(str(n["id"]) for n in ui["nodes"])
    unknown = [n["type"] for n in nodes.values() if not n["registered"]]
    assert not unknown, f"node types missing in the editor: {unknown}"
    for saved in ui["nodes"]:
        shown = nodes[str(saved["id"])]
        if saved["type"].startswith("DPO"):
            values = [w["value"] for w in shown["widgets"]]
            assert values == saved["widgets_values"], f"{saved['type']} widgets"
        # The editor never had to grow a node: the file's sizes hold what it draws.
        assert shown["size"][1] >= shown["min_size"][1] - 1, shown
    _assert_same_graph(ed.prompt(), _api_twin(path), ed.object_info)
    _assert_readable_layout(ed, path.name)

    errors = ed.error_panel()
    assert "Missing Nodes" not in errors and "missing node" not in errors.lower(), errors
    if path == TINY_WORLD:
        assert errors == "", errors  # ships its models: nothing to download
    if any(n["type"] == "DPOEvaluatorLoader" for n in ui["nodes"]):
        # The missing-model panel says where the evaluator file goes.
        assert "dpo_evaluators" in errors and "Unknown" not in errors, errors
    ed.fit_view()
    ed.screenshot(ARTIFACTS / f"{path.stem}.png")


def _assert_same_graph(prompt: dict, twin: dict, object_info: dict) -> None:
    """The prompt the editor builds is the API twin (the editor numbers nodes by UI id and also
    sends the optional widgets the twin leaves out, at their defaults)."""
    ids = {key: str(i + 1) for i, key in enumerate(twin)}

    def renumber(value):
        return [ids[value[0]], value[1]] if isinstance(value, list) else value

    assert sorted(prompt) == sorted(ids.values())
    for key, node in twin.items():
        built = prompt[ids[key]]
        assert built["class_type"] == node["class_type"]
        expected = {n: renumber(x) for n, x in node["inputs"].items()}
        assert {n: built["inputs"][n] for n in expected} == expected, node["class_type"]
        optional = object_info[node["class_type"]]["input"].get("optional", {})
        for name in set(built["inputs"]) - set(expected):
            assert name in optional, f"{node['class_type']}: unexpected input {name}"
            assert built["inputs"][name] == optional[name][1].get("default"), (name, built)


def test_templates_have_readable_titles_and_thumbnails(comfy_server):
    """The template browser titles (and describes) a pack's workflow by its file name, shows
    ``<name>.jpg`` as its picture and names the pack's section from the locale strings."""
    templates = comfy_server.get("/workflow_templates")
    names = templates.get("dpo_diff", [])
    assert sorted(names) == sorted(p.stem for p in WORKFLOWS), templates
    for name in names:
        assert "_" not in name and name.startswith("DPO-Diff ") and len(name.split()) >= 3, name
        url = f"{comfy_server.url}/api/workflow_templates/dpo_diff/{urllib.parse.quote(name)}.jpg"
        with urllib.request.urlopen(url, timeout=10) as resp:
            assert resp.status == 200 and resp.read(3) == b"\xff\xd8\xff"  # a JPEG
    strings = comfy_server.get("/i18n")["en"]["templateWorkflows"]
    assert strings["category"]["dpo_diff"] == "DPO-Diff"


def test_tiny_world_runs_from_the_run_button(browser_editor):
    ed = browser_editor
    ui = json.loads(TINY_WORLD.read_text())
    ed.load(ui)
    ids = {n["type"]: str(n["id"]) for n in ui["nodes"] if n["type"].startswith("DPO")}
    # A CPU-sized budget, typed into the widgets as a user would.
    ed.set_widgets({
        ids["DPOShortcutGradientOptimizer"]: {"iterations": 2, "steps": 6},
        ids["DPOEvolutionarySearch"]: {
            "evaluations": 8, "population": 4, "holdout_seeds": 2, "steps": 6, "seed": 7,
        },
    })  # fmt: skip
    seen = ed.run(timeout=900)
    assert not seen["errors"], seen["errors"]
    for kind in OPTIMIZERS:
        progress = seen["progress"].get(ids[kind])
        assert progress and progress["updates"] >= 2, (kind, seen["progress"])
        # Each phase has its own bar (iterations, evaluations, held-out images); the last one
        # reported ends full.
        assert progress["max"] > 0 and progress["last"][0] == progress["last"][1], (kind, progress)
        assert seen["previews"].get(ids[kind], 0) >= 1, (kind, seen["previews"])
    nodes = {n["id"]: n for n in ed.nodes()}
    grid = next(n for n in ui["nodes"] if n.get("title") == "Before / after grid")
    assert seen["executed"][str(grid["id"])]["images"], seen["executed"]
    assert nodes[str(grid["id"])]["images"] >= 1  # drawn on the node
    report = next(n for n in ui["nodes"] if n.get("title") == "Report")
    text = "".join(seen["executed"][str(report["id"])]["text"])
    assert "held-out seeds" in text, text
    _assert_readable_layout(ed, "after the run")
    ed.fit_view()
    ed.screenshot(ARTIFACTS / "tiny_world_after_run.png")
