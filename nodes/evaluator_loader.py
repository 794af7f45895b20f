"""DPO Evaluator Loader: the judge of image-prompt agreement, from a local weights file."""

from __future__ import annotations

import json
import os
from pathlib import Path

import folder_paths
from comfy_api.latest import io

from dpo_core.hf_clip import load_hf_clip_scorer
from dpo_core.scorers import (
    EMBEDDED_KIND,
    HF_CLIP_KIND,
    SCORERS,
    OpenClipScorer,
    WeightsFileError,
    kinds_that_fit,
    load_scorer,
    load_state_dict,
)

from .io_types import CATEGORY, EvaluatorIO

FOLDER = "dpo_evaluators"  # models/dpo_evaluators/
EXTENSIONS = {".safetensors", ".pt", ".pth", ".bin"}
EMBEDDED = EMBEDDED_KIND  # open_clip config stored in the safetensors metadata
HF_CLIP = HF_CLIP_KIND  # a Hugging Face CLIPModel weights file; architecture from shapes
KINDS = [*SCORERS, HF_CLIP, EMBEDDED]
CONFIG_KEY = "open_clip_config"


def register_folder() -> None:
    """models/dpo_evaluators/ as a model folder of ComfyUI's own (listed by /models, searched
    first), after any path extra_model_paths.yaml gave it, with the weight file extensions."""
    folder_paths.add_model_folder_path(
        FOLDER, os.path.join(folder_paths.models_dir, FOLDER), is_default=True
    )
    paths, extensions = folder_paths.folder_names_and_paths[FOLDER]
    folder_paths.folder_names_and_paths[FOLDER] = (paths, set(extensions) | EXTENSIONS)


register_folder()


def embedded_config(path: str | Path) -> dict | None:
    """The open_clip model config stored in a safetensors file's metadata, if any."""
    if not str(path).endswith(".safetensors"):
        return None
    from safetensors import safe_open

    name = Path(path).name
    if Path(path).is_file() and Path(path).stat().st_size == 0:
        raise WeightsFileError(f"evaluator file {name} is empty (0 bytes); download it again")
    try:
        with safe_open(str(path), "pt") as f:
            raw = (f.metadata() or {}).get(CONFIG_KEY)
    except Exception as err:  # safetensors raises its own error type for every defect
        raise WeightsFileError(
            f"evaluator file {name} is not a readable safetensors file ({err}); it may be "
            "truncated or another kind of file: download it again"
        ) from None
    if not raw:
        return None
    try:
        config = json.loads(raw)
    except (ValueError, RecursionError):
        raise WeightsFileError(
            f"evaluator file {name}: its embedded open_clip config ({CONFIG_KEY}) is not valid "
            "JSON; save the file again with its config, or pick the kind of its weights"
        ) from None
    if not isinstance(config, dict):
        raise WeightsFileError(
            f"evaluator file {name}: its embedded open_clip config ({CONFIG_KEY}) is not an "
            "object of CLIP settings; save the file again with its config"
        )
    return config


def load_evaluator(kind: str, path: str | Path) -> OpenClipScorer:
    if kind == HF_CLIP:
        return load_hf_clip_scorer(path)
    if kind == EMBEDDED:
        config = embedded_config(path)
        if config is None:
            fit = kinds_that_fit(load_state_dict(path))
            raise WeightsFileError(
                f"evaluator file {Path(path).name} has no embedded open_clip config; pick its "
                "kind in the evaluator loader ("
                + (f"kinds that fit: {', '.join(fit)}" if fit else f"one of {', '.join(KINDS[:-1])}")
                + ")"
            )
        return OpenClipScorer.from_checkpoint(
            "custom", path, model_config=config, name=Path(path).stem
        )
    return load_scorer(kind, path)


class EvaluatorLoader(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        files = folder_paths.get_filename_list(FOLDER)
        return io.Schema(
            node_id="DPOEvaluatorLoader",
            display_name="DPO Evaluator Loader",
            category=CATEGORY,
            description=(
                "Loads the model that judges how well an image matches the prompt: a CLIP "
                "(open_clip weights; the paper's metric is ViT-B/32) or HPSv2. Files go in "
                f"models/{FOLDER}/."
            ),
            inputs=[
                io.Combo.Input(
                    "kind", options=KINDS, default="clip-vit-b-32",
                    tooltip="Architecture of the weights file: "
                    + "; ".join(f"{k} = {v.description}" for k, v in SCORERS.items())
                    + f"; {HF_CLIP} = a Hugging Face CLIPModel file (e.g. openai/clip-vit-base-patch32 "
                    "model.safetensors); "
                    + f"{EMBEDDED} = an open_clip model whose config is stored in the file.",
                ),
                io.Combo.Input(
                    "weights", options=files,
                    tooltip=f"A weights file in models/{FOLDER}/ (e.g. open_clip's "
                    "ViT-B-32-quickgelu openai weights, or HPS_v2_compressed.pt).",
                ),
            ],
            outputs=[EvaluatorIO.Output("evaluator", tooltip="Connect to the DPO optimizer nodes.")],
        )  # fmt: skip

    @classmethod
    def validate_inputs(cls, weights):
        # ComfyUI skips its own list check for every input named here, so only ``weights`` is
        # named (``kind`` keeps ComfyUI's check) and this does that check itself, with a message
        # that says where the files go.
        files = folder_paths.get_filename_list(FOLDER)
        folders = ", ".join(folder_paths.get_folder_paths(FOLDER))
        if not files:
            return (
                f"no evaluator weights found: put a CLIP or HPSv2 weights file "
                f"(.safetensors/.pt) in {folders} and refresh"
            )
        if weights not in files:
            shown = ", ".join(files[:5]) + (", ..." if len(files) > 5 else "")
            return (
                f"evaluator weights {weights!r} is not a file in {folders} (found: {shown}); "
                "pick one of them, or put the file there and refresh"
            )
        return True

    @classmethod
    def execute(cls, kind, weights) -> io.NodeOutput:
        path = folder_paths.get_full_path(FOLDER, weights)
        if path is None:
            raise ValueError(f"evaluator weights {weights!r} not found in models/{FOLDER}/")
        return io.NodeOutput(load_evaluator(kind, path))
