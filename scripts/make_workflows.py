"""Write the shipped workflows: API format (``workflows/api/``, run by the tests and the demo)
and the UI format the editor opens (``workflows/``), converted with the server's /object_info
so that widget order and types are exactly what ComfyUI expects, laid out in groups from the
node sizes the real frontend computes (measured in headless Chromium), with a screenshot of
each as its template thumbnail (``workflows/<name>.jpg``).

    python scripts/make_workflows.py    # starts a headless ComfyUI and opens it in Chromium
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

from sdxl_workflow import NAME as SDXL_ENHANCE  # scripts/ is on sys.path (run from it or added)
from sdxl_workflow import sdxl_variant

REPO_ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = REPO_ROOT / "workflows"
API_DIR = WORKFLOWS / "api"

PROMPT = "Orange and brown cat sitting on top of white shoes."
CHECKPOINT = "v1-5-pruned-emaonly.safetensors"
EVALUATOR = ("clip-vit-b-32", "open_clip_vit_b_32.safetensors")
EVALUATOR_FOLDER = "dpo_evaluators"  # models/dpo_evaluators/ (nodes/evaluator_loader.py)
SAMPLING = {"seed": 0, "steps": 20, "cfg": 7.5, "sampler_name": "euler", "scheduler": "normal"}
SIZE = {"width": 512, "height": 512}


def _models_and_space(mode: str) -> dict:
    models = {"model": ["1", 0], "clip": ["1", 1], "vae": ["1", 2], "evaluator": ["3", 0]}
    return {
        "1": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": CHECKPOINT}},
        "2": {"class_type": "PrimitiveStringMultiline", "inputs": {"value": PROMPT}},
        "3": {
            "class_type": "DPOEvaluatorLoader",
            "inputs": {"kind": EVALUATOR[0], "weights": EVALUATOR[1]},
        },
        "4": {
            "class_type": "DPOSearchSpaceBuilder",
            "inputs": {
                "prompt": ["2", 0], "mode": mode, "source": "wordnet", "candidates_per_word": 5,
                "include_library": False, "clip": ["1", 1],
            },
        },
        "5": {
            "class_type": "DPOShortcutGradientOptimizer",
            "inputs": {
                **models, "space": ["4", 0], **SAMPLING, **SIZE, "search_seeds": 1,
                "iterations": 20, "grad_steps": 1, "step_start": 0.3, "step_end": 0.48,
                "learning_rate": 0.1, "temperature": 1.0,
            },
        },
        "6": {
            "class_type": "DPOEvolutionarySearch",
            "inputs": {
                **models, "space": ["4", 0], **SAMPLING, **SIZE, "search_seeds": 1,
                "distribution": ["5", 0], "evaluations": 40, "population": 20,
                "holdout_seeds": 2, "batch_size": 4,
            },
        },
        "7": {"class_type": "PreviewAny", "inputs": {"source": ["4", 1]}},
        "8": {"class_type": "PreviewImage", "inputs": {"images": ["5", 1]}},
        "9": {"class_type": "PreviewImage", "inputs": {"images": ["6", 2]}},
        "10": {"class_type": "PreviewAny", "inputs": {"source": ["6", 3]}},
        "11": {"class_type": "EmptyLatentImage", "inputs": {**SIZE, "batch_size": 1}},
    }  # fmt: skip


def _sample(first: int, positive: list, negative: list, prefix: str) -> dict:
    a, b, c = str(first), str(first + 1), str(first + 2)
    return {
        a: {
            "class_type": "KSampler",
            "inputs": {
                "model": ["1", 0], "positive": positive, "negative": negative,
                "latent_image": ["11", 0], **SAMPLING, "denoise": 1.0,
            },
        },
        b: {"class_type": "VAEDecode", "inputs": {"samples": [a, 0], "vae": ["1", 2]}},
        c: {"class_type": "SaveImage", "inputs": {"images": [b, 0], "filename_prefix": prefix}},
    }  # fmt: skip


def _side_by_side(mode: str, optimized_prefix: str) -> dict:
    """Search a space of ``mode``, then sample the optimized text and the original side by side:
    in negative mode the result is the negative prompt, in positive mode it replaces the prompt."""
    flow = _models_and_space(mode)
    flow["12"] = {"class_type": "CLIPTextEncode", "inputs": {"text": ["2", 0], "clip": ["1", 1]}}
    flow["13"] = {"class_type": "CLIPTextEncode", "inputs": {"text": "", "clip": ["1", 1]}}
    flow["14"] = {"class_type": "PreviewAny", "inputs": {"source": ["6", 1]}}
    positive, negative = (["12", 0], ["6", 0]) if mode == "negative" else (["6", 0], ["13", 0])
    flow |= _sample(20, positive, negative, optimized_prefix)
    flow |= _sample(30, ["12", 0], ["13", 0], "dpo_original")
    return flow


def enhancement_workflow() -> dict:
    """Prompt enhancement: the optimized negative prompt next to the original (empty) one."""
    return _side_by_side("negative", "dpo_optimized_negative")


def attack_workflow() -> dict:
    """Attack: a synonym rewrite of the prompt that the model follows worse, next to the original."""
    return _side_by_side("positive", "dpo_attack_rewrite")


def tiny_world_workflow() -> dict:
    """Enhancement on the tiny trained world that ships with the pack: runs anywhere, in
    minutes on a CPU, and its before/after images can be judged by eye."""
    flow = enhancement_workflow()
    flow["1"] = {"class_type": "DPOTinyWorldLoader", "inputs": {}}
    del flow["3"]
    flow["2"]["inputs"]["value"] = TINY_WORLD_PROMPT
    for node in flow.values():
        inputs = node["inputs"]
        if inputs.get("evaluator") == ["3", 0]:
            inputs["evaluator"] = ["1", 3]
        inputs.update({k: v for k, v in TINY_WORLD_SETTINGS.items() if k in inputs})
        if node["class_type"] == "DPOSearchSpaceBuilder":
            inputs["include_library"] = True  # the world draws defects the library names
        if node["class_type"] == "DPOShortcutGradientOptimizer":
            inputs["iterations"] = 10
        if node["class_type"] == "DPOEvolutionarySearch":
            inputs.update(evaluations=32, population=8, holdout_seeds=4)
    return flow


# A caption of a held-out attribute combination (the model never saw it in training) on which
# the searched negative's gain is typical of the benchmark, not its best case (BENCHMARKS.md
# section 6: +8 points for the hybrid here, against a mean of +0.5 and a median of 0 over the
# 24 held-out prompts, where the prompt that was shown before gained +62); the world's own
# sampling settings.
TINY_WORLD_PROMPT = "a small red circle on the right on a white background"
TINY_WORLD_SETTINGS = {"width": 64, "height": 64, "steps": 20, "cfg": 6.0}


# The editor's template browser titles a pack's workflow with its file name (and describes it
# with the same name), so the names are written for people; the browser's section for the pack
# is named by locales/en/main.json, keyed by the pack's folder in custom_nodes/ (which depends
# on how it was installed).
ENHANCE = "DPO-Diff negative prompt search"
ATTACK = "DPO-Diff synonym attack"
TINY_WORLD = "DPO-Diff tiny world (CPU, no downloads)"
PACK_FOLDER_NAMES = ("dpo-diff", "dpo_diff", "comfyui-dpo-diff", "ComfyUI-DPO-Diff")
LOCALE = REPO_ROOT / "locales" / "en" / "main.json"


def template_strings() -> dict:
    """locales/en/main.json: ComfyUI merges it into the editor's English strings."""
    return {"templateWorkflows": {"category": {f: "DPO-Diff" for f in PACK_FOLDER_NAMES}}}


FLOWS = {ENHANCE: enhancement_workflow, ATTACK: attack_workflow, TINY_WORLD: tiny_world_workflow}
FLOWS[SDXL_ENHANCE] = lambda: sdxl_variant(enhancement_workflow())  # scripts/sdxl_workflow.py


# --- API -> UI conversion --------------------------------------------------------------------
WIDGET_TYPES = {"INT", "FLOAT", "STRING", "BOOLEAN", "COMBO"}


def is_widget(spec: list) -> bool:
    options = spec[1] if len(spec) > 1 and isinstance(spec[1], dict) else {}
    if options.get("forceInput"):
        return False  # a socket only: the editor gives it no widget and no widget value
    kind = spec[0]
    return isinstance(kind, list) or kind in WIDGET_TYPES


def input_specs(info: dict) -> list[tuple[str, list]]:
    order = info.get("input_order", {})
    specs = []
    for group in ("required", "optional"):
        for name in order.get(group, info["input"].get(group, {}).keys()):
            specs.append((name, info["input"][group][name]))
    return specs


def to_ui(api: dict, object_info: dict, min_sizes: dict[int, list[float]] | None = None) -> dict:
    """The editor's (litegraph) format of an API-format workflow, placed by ``lay_out`` from
    the node sizes measured in the editor (``main`` does that), or from generous estimates."""
    ids = {key: i + 1 for i, key in enumerate(api)}
    depth: dict[str, int] = {}

    def node_depth(key: str) -> int:
        if key not in depth:
            parents = [v[0] for v in api[key]["inputs"].values() if isinstance(v, list)]
            depth[key] = 1 + max((node_depth(p) for p in parents), default=-1)
        return depth[key]

    links: list[list] = []
    outputs: dict[tuple[str, int], list[int]] = {}
    nodes = []
    estimated: dict[int, list[float]] = {}  # above what the editor draws, if not measured
    for key, node in api.items():
        info = object_info[node["class_type"]]
        inputs, widgets = [], []
        for name, spec in input_specs(info):
            value = node["inputs"].get(name)
            kind = "COMBO" if isinstance(spec[0], list) else spec[0]
            if isinstance(value, list):  # linked
                link_id = len(links) + 1
                source, slot = value
                links.append([link_id, ids[source], slot, ids[key], len(inputs), None])
                outputs.setdefault((source, slot), []).append(link_id)
                entry = {"name": name, "type": kind, "link": link_id}
                if is_widget(spec):
                    entry["widget"] = {"name": name}
                inputs.append(entry)
            elif not is_widget(spec):
                if name in info["input"].get("required", {}):
                    raise ValueError(f"{node['class_type']}: required input {name!r} not linked")
                continue
            if is_widget(spec):
                default = spec[1].get("default") if len(spec) > 1 else None
                if default is None and kind == "STRING":
                    default = ""  # what the editor holds for a linked text widget
                widgets.append(default if value is None or isinstance(value, list) else value)
                if len(spec) > 1 and spec[1].get("control_after_generate"):
                    widgets.append("fixed")
        properties: dict = {"Node name for S&R": node["class_type"]}
        if node["class_type"] == "DPOEvaluatorLoader":
            # What the editor's missing-model panel reads to name the folder the file goes in.
            properties["models"] = [{"name": node["inputs"]["weights"], "directory": EVALUATOR_FOLDER}]
        nodes.append({
            "id": ids[key], "type": node["class_type"], "pos": [0, 0], "size": [DEFAULT_WIDTH, 100],
            "flags": {}, "order": 0, "mode": 0, "inputs": inputs, "outputs": [],
            "properties": properties, "widgets_values": widgets,
        })  # fmt: skip
        if key in TITLES:
            nodes[-1]["title"] = TITLES[key]
        multiline = sum(
            1 for name, spec in input_specs(info)
            if len(spec) > 1 and isinstance(spec[1], dict) and spec[1].get("multiline")
        )  # fmt: skip
        estimated[ids[key]] = [DEFAULT_WIDTH, 40 + 28 * len(widgets) + 22 * len(inputs) + 70 * multiline]
    for key, node in zip(api, nodes, strict=True):
        info = object_info[api[key]["class_type"]]
        node["outputs"] = [
            {"name": name, "type": kind, "links": outputs.get((key, slot), []), "slot_index": slot}
            for slot, (name, kind) in enumerate(
                zip(info["output_name"], info["output"], strict=True)
            )
        ]
    types = {(n["id"], i): o["type"] for n in nodes for i, o in enumerate(n["outputs"])}
    for link in links:
        link[5] = types[(link[1], link[2])]
    order = sorted(api, key=node_depth)
    for node in nodes:
        node["order"] = order.index(next(k for k, v in ids.items() if v == node["id"]))
    ui = {
        "last_node_id": len(nodes), "last_link_id": len(links), "nodes": nodes,
        "links": links, "groups": [], "config": {}, "extra": {}, "version": 0.4,
    }  # fmt: skip
    lay_out(ui, api, min_sizes or estimated, TITLE_HEIGHT)
    return ui


# --- layout ----------------------------------------------------------------------------------
# Groups: what goes in, the search space and the two optimizers in the first row; the images
# sampled with the optimized and the original text, and what the search found, in the second.
# Each group is a list of columns of API node keys (keys a workflow lacks are skipped).
GROUPS = [
    ("Models and prompt", [["1", "3", "2", "11"]]),
    ("Search space", [["4", "7"]]),
    ("Search: gradient, then evolution", [["5", "8"], ["6"]]),
    ("Result on held-out seeds", [["9"], ["10", "14"]]),
    ("Optimized vs. original (full sampler)", [["12", "13"], ["20", "30"], ["21", "31"], ["22", "32"]]),
]  # fmt: skip
GROUP_ROWS = [[0, 1, 2], [4, 3]]  # the inputs and the search above, what came out below
GROUP_COLOURS = ["#3f789e", "#a1309b", "#b58b2a", "#3f8f5f", "#5a5a8f"]
TITLES = {
    "7": "Search space (preview)", "8": "Loss curve (gradient)", "9": "Before / after grid",
    "10": "Report", "14": "Optimized prompt", "20": "KSampler (optimized)",
    "30": "KSampler (original)", "22": "Optimized", "32": "Original",
}  # fmt: skip
DEFAULT_WIDTH = 360
PREVIEW_ROOM = 300  # below an optimizer's widgets: the live preview of the best image so far
# Least sizes beyond what the editor needs for the widgets, so that results can be read:
WANTED = {
    "7": (420, 300), "8": (420, 280), "10": (620, 250), "14": (620, 130),
    "22": (340, 390), "32": (340, 390),
}  # fmt: skip
GAP, PAD, GROUP_HEADER = 40, 24, 46
TITLE_HEIGHT = 30  # LiteGraph.NODE_TITLE_HEIGHT of the frontend ComfyUI 0.30.0 ships


def comparison_size(api: dict) -> tuple[int, int]:
    """The before/after grid is 2 rows x the held-out seeds: a preview of its aspect ratio."""
    seeds = next(
        (n["inputs"]["holdout_seeds"] for n in api.values() if n["class_type"] == "DPOEvolutionarySearch"),
        1,
    )  # fmt: skip
    width = 620
    return width, 60 + min(620, int(width * 2 / max(seeds, 1)))


def lay_out(ui: dict, api: dict, min_sizes: dict[int, list[float]], title_height: float) -> None:
    """Place the nodes of ``ui`` in the groups above, each at least its editor size
    (``min_sizes`` by node id, measured in the real frontend); fills ``ui["groups"]``."""
    ids = {key: i + 1 for i, key in enumerate(api)}
    by_id = {n["id"]: n for n in ui["nodes"]}
    wanted = dict(WANTED, **{"9": comparison_size(api)})
    for key in ("5", "6"):
        if key in ids:
            w, h = min_sizes[ids[key]]
            wanted[key] = (max(w, DEFAULT_WIDTH), h + PREVIEW_ROOM)

    def size(key: str) -> tuple[float, float]:
        w, h = min_sizes[ids[key]]
        want = wanted.get(key, (DEFAULT_WIDTH, 0))
        return max(w, want[0]), max(h, want[1])

    placed = {key for _, columns in GROUPS for column in columns for key in column}
    missing = [k for k in api if k not in placed]
    if missing:
        raise ValueError(f"nodes {missing} have no place in GROUPS")
    groups, y = [], 0.0
    for row in GROUP_ROWS:
        x, row_height = 0.0, 0.0
        for index in row:
            title, columns = GROUPS[index]
            columns = [[k for k in c if k in ids] for c in columns]
            columns = [c for c in columns if c]
            if not columns:
                continue
            left, top = x + PAD, y + GROUP_HEADER + title_height
            bottom = top
            for column in columns:
                width = max(size(k)[0] for k in column)
                cy = top
                for key in column:
                    node = by_id[ids[key]]
                    node["pos"] = [round(left), round(cy)]
                    node["size"] = [round(width), round(size(key)[1])]
                    cy += node["size"][1] + title_height + GAP
                bottom = max(bottom, cy - GAP - title_height)
                left += width + GAP
            box = [x, y, left - GAP + PAD - x, bottom + PAD - y]
            groups.append({
                "id": len(groups) + 1, "title": title, "bounding": [round(v) for v in box],
                "color": GROUP_COLOURS[index % len(GROUP_COLOURS)], "font_size": 24, "flags": {},
            })  # fmt: skip
            x += box[2] + GAP
            row_height = max(row_height, box[3])
        y += row_height + GAP
    ui["groups"] = groups


def thumbnail(png: bytes, path: Path, side: int = 512) -> None:
    """The templates dialog's picture of a workflow: its screenshot, square, as JPEG."""
    import io

    from PIL import Image

    image = Image.open(io.BytesIO(png)).convert("RGB")
    w, h = image.size
    crop = min(w, h)
    image = image.crop(((w - crop) // 2, (h - crop) // 2, (w + crop) // 2, (h + crop) // 2))
    image.resize((side, side), Image.Resampling.LANCZOS).save(path, quality=88)


def main() -> None:
    logging.basicConfig(level=logging.INFO)
    sys.path.insert(0, str(REPO_ROOT / "scripts"))
    from editor_browser import editor
    from headless_comfy import HeadlessComfy

    API_DIR.mkdir(parents=True, exist_ok=True)
    LOCALE.parent.mkdir(parents=True, exist_ok=True)
    LOCALE.write_text(json.dumps(template_strings(), indent=2) + "\n")
    with HeadlessComfy() as server, editor(server, {"width": 1400, "height": 1400}) as ed:
        object_info = server.get("/object_info", timeout=60)
        assert ed.page.evaluate("() => LiteGraph.NODE_TITLE_HEIGHT") == TITLE_HEIGHT
        for name, make in FLOWS.items():
            api = make()
            ed.load(to_ui(api, object_info))  # the frontend computes each node's least size
            min_sizes = {int(n["id"]): n["min_size"] for n in ed.nodes()}
            ui = to_ui(api, object_info, min_sizes)
            ed.load(ui)
            ed.fit_view()
            thumbnail(ed.page.screenshot(), WORKFLOWS / f"{name}.jpg")
            (API_DIR / f"{name}.json").write_text(json.dumps(api, indent=2) + "\n")
            (WORKFLOWS / f"{name}.json").write_text(json.dumps(ui, indent=2) + "\n")
            logging.info("wrote workflows/%s.json, .jpg and workflows/api/%s.json", name, name)


if __name__ == "__main__":
    main()
