"""CLIP scorers from a transformers-format (Hugging Face) CLIP weights file, read locally.

The architecture is read off the tensor shapes, so a single ``model.safetensors`` of any
OpenAI-style CLIP (ViT-B/32, ViT-L/14, ...) loads without its ``config.json``. Text goes
through open_clip's BPE tokenizer, which is CLIP's own vocabulary; preprocessing and scoring
are ``OpenClipScorer``'s, so both formats score identically.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

import torch

from .scorers import CLIP_MEAN, CLIP_STD, OpenClipScorer, load_state_dict

HEAD_WIDTH = 64  # OpenAI CLIP models use 64-wide attention heads in both towers


def _tower(state: dict[str, torch.Tensor], prefix: str) -> dict[str, int]:
    layers = {
        int(m.group(1)) for k in state if (m := re.match(rf"{prefix}\.encoder\.layers\.(\d+)\.", k))
    }
    if not layers:
        raise ValueError(
            f"expected transformers CLIP weights with {prefix}.encoder.layers.*, got none"
        )
    fc1 = state[f"{prefix}.encoder.layers.0.mlp.fc1.weight"]
    return {
        "num_hidden_layers": max(layers) + 1,
        "intermediate_size": fc1.shape[0],
        "hidden_size": fc1.shape[1],
        "num_attention_heads": max(1, fc1.shape[1] // HEAD_WIDTH),
    }


def config_from_state_dict(state: dict[str, torch.Tensor]) -> dict[str, Any]:
    """A ``CLIPConfig`` dict inferred from transformers CLIP weights."""
    text = _tower(state, "text_model")
    vocab, _ = state["text_model.embeddings.token_embedding.weight"].shape
    text.update(
        vocab_size=vocab,
        max_position_embeddings=state["text_model.embeddings.position_embedding.weight"].shape[0],
    )
    vision = _tower(state, "vision_model")
    patch = state["vision_model.embeddings.patch_embedding.weight"].shape[-1]
    positions = state["vision_model.embeddings.position_embedding.weight"].shape[0]
    vision.update(patch_size=patch, image_size=patch * math.isqrt(positions - 1))
    return {
        "text_config": text,
        "vision_config": vision,
        "projection_dim": state["visual_projection.weight"].shape[0],
    }


class HFClipAdapter(torch.nn.Module):
    """Gives a transformers ``CLIPModel`` the two calls ``OpenClipScorer`` makes."""

    def __init__(self, model: Any) -> None:  # transformers.CLIPModel (imported lazily)
        super().__init__()
        self.model = model
        self.context_length = int(model.config.text_config.max_position_embeddings)

    @staticmethod
    def _features(out: Any) -> torch.Tensor:
        # transformers 4.x returns the projected features, 5.x an output whose pooler_output is
        return out if torch.is_tensor(out) else out.pooler_output

    def encode_image(self, pixels: torch.Tensor) -> torch.Tensor:
        return self._features(self.model.get_image_features(pixel_values=pixels))

    def encode_text(self, tokens: torch.Tensor) -> torch.Tensor:
        return self._features(self.model.get_text_features(input_ids=tokens))


def load_hf_clip_scorer(
    path: str | Path,
    *,
    device: str | torch.device = "cpu",
    dtype: torch.dtype = torch.float32,
) -> OpenClipScorer:
    """A scorer from a local transformers-format CLIP weights file (no hub access)."""
    from transformers import CLIPConfig, CLIPModel

    state = load_state_dict(path)
    if "visual_projection.weight" not in state:
        raise ValueError(
            f"expected transformers-format CLIP weights (text_model.*, vision_model.*, "
            f"visual_projection.*) in {str(path)!r}; for open_clip weights pick a CLIP kind"
        )
    model = CLIPModel(CLIPConfig(**config_from_state_dict(state)))
    state.pop("text_model.embeddings.position_ids", None)
    state.pop("vision_model.embeddings.position_ids", None)
    missing, unexpected = model.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise ValueError(
            f"transformers CLIP weights in {str(path)!r} do not fit the inferred architecture: "
            f"missing {missing[:3]}, unexpected {unexpected[:3]}"
        )
    adapter = HFClipAdapter(model)
    vision: Any = model.config.vision_config
    size = int(vision.image_size)
    scorer = OpenClipScorer(adapter, Path(path).stem, size, CLIP_MEAN, CLIP_STD)
    return scorer.to(device=device, dtype=dtype)
