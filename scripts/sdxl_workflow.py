"""The SDXL enhancement workflow: the SD 1.5 one (``make_workflows.enhancement_workflow``) with
SDXL's checkpoint, image size and common sampling settings. ``make_workflows.py`` writes it
with the others (API and UI format, thumbnail).

SDXL needs no other nodes: Load Checkpoint gives its MODEL, CLIP (clip_l + clip_g) and VAE,
CLIPTextEncode writes the pooled output SDXL's UNet reads, and the image size reaches the UNet
from the latent, as in ComfyUI's own SDXL template.
"""

from __future__ import annotations

import copy

NAME = "DPO-Diff negative prompt search (SDXL)"
CHECKPOINT = "sd_xl_base_1.0.safetensors"
# SDXL base at its native size, with the sampler most SDXL workflows use.
SETTINGS = {
    "width": 1024, "height": 1024, "steps": 25, "cfg": 7.0,
    "sampler_name": "dpmpp_2m", "scheduler": "karras",
}  # fmt: skip
PREFIXES = {
    "dpo_optimized_negative": "dpo_sdxl_optimized_negative",
    "dpo_original": "dpo_sdxl_original",
}


def sdxl_variant(flow: dict) -> dict:
    """A copy of an SD 1.5 workflow (API format) for SDXL: checkpoint, size, sampling, file
    prefixes; the graph, budgets and everything else unchanged."""
    flow = copy.deepcopy(flow)
    for node in flow.values():
        inputs = node["inputs"]
        if node["class_type"] == "CheckpointLoaderSimple":
            inputs["ckpt_name"] = CHECKPOINT
        for key, value in SETTINGS.items():
            if key in inputs and not isinstance(inputs[key], list):  # a widget, not a link
                inputs[key] = value
        prefix = inputs.get("filename_prefix")
        if prefix in PREFIXES:
            inputs["filename_prefix"] = PREFIXES[prefix]
    return flow
