"""Write the shipped workflows: API format (``workflows/api/``, run by the tests and the demo)
and the UI format the editor opens (``workflows/``), converted with the server's /object_info
so that widget order and types are exactly what ComfyUI expects.

    python scripts/make_workflows.py          # starts a headless ComfyUI to read /object_info
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = REPO_ROOT / "workflows"
API_DIR = WORKFLOWS / "api"

PROMPT = "Orange and brown cat sitting on top of white shoes."
CHECKPOINT = "v1-5-pruned-emaonly.safetensors"
EVALUATOR = ("clip-vit-b-32", "open_clip_vit_b_32.safetensors")
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
        if node["class_type"] == "DPOShortcutGradientOptimizer":
            inputs["iterations"] = 10
        if node["class_type"] == "DPOEvolutionarySearch":
            inputs.update(evaluations=32, population=8, holdout_seeds=4)
    return flow


# A caption of a held-out attribute combination (the model never saw it in training) on which
# the model often gets the colour wrong; the world's own sampling settings.
TINY_WORLD_PROMPT = "a small red circle on the right on a white background"
TINY_WORLD_SETTINGS = {"width": 64, "height": 64, "steps": 20, "cfg": 6.0}


FLOWS = {
    "dpo_enhance_negative_prompt": enhancement_workflow,
    "dpo_attack_synonyms": attack_workflow,
    "dpo_tiny_world_enhance": tiny_world_workflow,
}


# --- API -> UI conversion --------------------------------------------------------------------
WIDGET_TYPES = {"INT", "FLOAT", "STRING", "BOOLEAN", "COMBO"}


def is_widget(spec: list) -> bool:
    kind = spec[0]
    return isinstance(kind, list) or kind in WIDGET_TYPES


def input_specs(info: dict) -> list[tuple[str, list]]:
    order = info.get("input_order", {})
    specs = []
    for group in ("required", "optional"):
        for name in order.get(group, info["input"].get(group, {}).keys()):
            specs.append((name, info["input"][group][name]))
    return specs


def to_ui(api: dict, object_info: dict) -> dict:
    """The editor's (litegraph) format of an API-format workflow, laid out left to right."""
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
    rows: dict[int, int] = {}
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
                widgets.append(default if value is None or isinstance(value, list) else value)
                if len(spec) > 1 and spec[1].get("control_after_generate"):
                    widgets.append("fixed")
        column = node_depth(key)
        row = rows.get(column, 0)
        height = 60 + 26 * len(widgets) + 22 * len(inputs)
        rows[column] = row + height + 40
        nodes.append({
            "id": ids[key], "type": node["class_type"], "pos": [60 + 380 * column, 60 + row],
            "size": [340, height], "flags": {}, "order": 0, "mode": 0, "inputs": inputs,
            "outputs": [], "properties": {"Node name for S&R": node["class_type"]},
            "widgets_values": widgets,
        })  # fmt: skip
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
    return {
        "last_node_id": len(nodes), "last_link_id": len(links), "nodes": nodes,
        "links": links, "groups": [], "config": {}, "extra": {}, "version": 0.4,
    }  # fmt: skip


def main() -> None:
    logging.basicConfig(level=logging.INFO)
    sys.path.insert(0, str(REPO_ROOT / "scripts"))
    from headless_comfy import HeadlessComfy

    API_DIR.mkdir(parents=True, exist_ok=True)
    with HeadlessComfy() as server:
        object_info = server.get("/object_info", timeout=60)
    for name, make in FLOWS.items():
        api = make()
        (API_DIR / f"{name}.json").write_text(json.dumps(api, indent=2) + "\n")
        ui = to_ui(api, object_info)
        (WORKFLOWS / f"{name}.json").write_text(json.dumps(ui, indent=2) + "\n")
        logging.info("wrote workflows/%s.json and workflows/api/%s.json", name, name)


if __name__ == "__main__":
    main()
