"""DPO Evaluator Loader: the judge of image-prompt agreement, from a local weights file."""

from __future__ import annotations

import os

import folder_paths
from comfy_api.latest import io

from dpo_core.scorers import EVALUATOR_KINDS, load_evaluator

from .io_types import CATEGORY, EvaluatorIO

FOLDER = "dpo_evaluators"  # models/dpo_evaluators/
EXTENSIONS = {".safetensors", ".pt", ".pth", ".bin"}


def register_folder() -> None:
    """models/dpo_evaluators/ as a model folder of ComfyUI's own (listed by /models, searched
    first), after any path extra_model_paths.yaml gave it, with the weight file extensions."""
    folder_paths.add_model_folder_path(
        FOLDER, os.path.join(folder_paths.models_dir, FOLDER), is_default=True
    )
    paths, extensions = folder_paths.folder_names_and_paths[FOLDER]
    folder_paths.folder_names_and_paths[FOLDER] = (paths, set(extensions) | EXTENSIONS)


register_folder()


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
                    "kind", options=list(EVALUATOR_KINDS), default="clip-vit-b-32",
                    tooltip="Architecture of the weights file: "
                    + "; ".join(f"{k} = {v.description}" for k, v in EVALUATOR_KINDS.items())
                    + ".",
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
    def validate_inputs(cls, weights: str) -> bool | str:
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
    def execute(cls, kind: str, weights: str) -> io.NodeOutput:
        path = folder_paths.get_full_path(FOLDER, weights)
        if path is None:
            raise ValueError(f"evaluator weights {weights!r} not found in models/{FOLDER}/")
        return io.NodeOutput(load_evaluator(kind, path))
