"""The shipped SDXL enhancement workflow runs on SDXL models, in this process.

A generated SDXL-format checkpoint is not practical here: ComfyUI's loader builds SDXL's text
encoders from fixed configs whatever the file holds (clip_g alone is 32 layers of width 1280,
694M parameters), and its detector recognises an SDXL UNet only at SDXL's own layouts (the
smallest, Segmind Vega / KOALA, over 700M parameters): about 1.6B parameters, 3 GB in float16,
several GB of RAM once loaded, seconds per clip_g pass on the tests' shared CPU cores. The
headless-server test (tests/test_workflows.py) runs this workflow's graph on the SD1.5 test
checkpoint; here the same file runs on small SDXL models built with ComfyUI's SDXL classes,
its Load Checkpoint node replaced by them.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from sdxl_workflow import NAME, SETTINGS

from model_builders.family_layouts import SMALL_SDXL_TEXT, SMALL_UNET
from model_builders.layouts import TINY_VAE
from tests.workflow_in_process import run_in_process

API = Path(__file__).resolve().parents[1] / "workflows" / "api" / f"{NAME}.json"
SMALL = {"width": 32, "height": 32, "steps": 4}


def test_workflow_is_sdxl_shaped():
    api = json.loads(API.read_text())
    kinds = {node["class_type"] for node in api.values()}
    assert {"CheckpointLoaderSimple", "DPOShortcutGradientOptimizer", "DPOEvolutionarySearch",
            "KSampler", "CLIPTextEncode"} <= kinds  # fmt: skip
    loader = next(n for n in api.values() if n["class_type"] == "CheckpointLoaderSimple")
    assert "xl" in loader["inputs"]["ckpt_name"]
    for node in api.values():
        for key, value in SETTINGS.items():
            if key in node["inputs"] and not isinstance(node["inputs"][key], list):
                assert node["inputs"][key] == value, (node["class_type"], key)


def test_workflow_runs_on_sdxl_models(comfy, tiny_evaluator, output_dir):
    from dpo_diff.model_builders.sd1 import build_sd1_vae
    from dpo_diff.model_builders.sdxl import build_sdxl_clip, build_sdxl_model

    api = json.loads(API.read_text())
    loaders = {}
    for key, node in api.items():
        inputs = node["inputs"]
        for name, value in SMALL.items():
            if name in inputs and not isinstance(inputs[name], list):
                inputs[name] = value
        if node["class_type"] == "CheckpointLoaderSimple":
            with torch.inference_mode():  # what a checkpoint loaded during a prompt holds
                model = build_sdxl_model(SMALL_UNET)
                clip = build_sdxl_clip(SMALL_SDXL_TEXT, SMALL_SDXL_TEXT, seed=1)
                loaders[key] = (model, clip, build_sd1_vae(TINY_VAE, seed=2))
        elif node["class_type"] == "DPOEvaluatorLoader":
            loaders[key] = (tiny_evaluator,)
        elif node["class_type"] == "DPOShortcutGradientOptimizer":
            inputs["iterations"] = 2
        elif node["class_type"] == "DPOEvolutionarySearch":
            inputs.update(evaluations=8, population=4, holdout_seeds=1)
    outputs = run_in_process(api, loaders)
    search = next(k for k, n in api.items() if n["class_type"] == "DPOEvolutionarySearch")
    conditioning, prompt, _comparison, report = outputs[search]
    [[context, extra]] = conditioning
    assert context.shape == (1, 77, 2048) and extra["pooled_output"].shape == (1, 1280)
    assert "held-out seeds" in report
    saved = sorted(output_dir.glob("*.png"))
    assert len(saved) == 2  # the optimized image and the original, side by side
    with torch.inference_mode():
        reference = clip.encode_from_tokens_scheduled(clip.tokenize(prompt))
    assert torch.equal(context, reference[0][0])
    assert torch.equal(extra["pooled_output"], reference[0][1]["pooled_output"])
