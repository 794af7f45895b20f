"""A differentiable pass through ComfyUI's SD1 CLIP text encoder, from token-embedding rows.

ComfyUI's ``CLIPLayer.forward`` adds its residuals in place (``x += ...``), which autograd
cannot differentiate. Instead of patching that class (every other node would see the patch),
this walks the same layer modules with out-of-place residuals. It honours clip skip the way
``SDClipModel`` does and returns the same conditioning as ``CLIP.encode_from_tokens`` for
unweighted tokens.
"""

from __future__ import annotations

from typing import Any

import comfy.ops
import torch
from comfy.ldm.modules.attention import optimized_attention_for_device


def sd1_text_encoder(clip) -> Any:  # comfy.sd1_clip.SDClipModel (its attributes are dynamic)
    """The ``SDClipModel`` inside a ``comfy.sd.CLIP`` of SD1 kind (``clip_l``)."""
    inner = getattr(clip.cond_stage_model, "clip_l", None)
    if inner is None or not hasattr(inner, "transformer"):
        found = type(clip.cond_stage_model).__name__
        raise ValueError(f"expected an SD1.x CLIP (CLIP-L text encoder), got {found}")
    return inner


def hidden_layer_index(encoder: Any, clip_layer: int | None) -> int | None:
    """Index of the layer whose output is the conditioning (None: the last layer), as clip skip
    (``CLIPSetLastLayer``) selects it."""
    layers = int(encoder.num_layers)
    if clip_layer is None or abs(clip_layer) > layers:
        return None
    return clip_layer % layers if clip_layer < 0 else clip_layer


def encode_embeddings(
    encoder: Any, embeddings: torch.Tensor, clip_layer: int | None = None
) -> torch.Tensor:
    """Token-embedding rows ``(B, T, D)`` -> conditioning ``(B, T, D)``, differentiable."""
    text_model = encoder.transformer.text_model
    positions = comfy.ops.cast_to(
        text_model.embeddings.position_embedding.weight,
        dtype=torch.float32,
        device=embeddings.device,
    )
    x = embeddings.float() + positions[: embeddings.shape[1]]
    n = x.shape[1]
    causal = torch.full((n, n), -torch.finfo(x.dtype).max, dtype=x.dtype, device=x.device).triu(1)
    attention = optimized_attention_for_device(x.device, mask=True, small_input=True)
    stop = hidden_layer_index(encoder, clip_layer)
    for i, layer in enumerate(text_model.encoder.layers):
        x = x + layer.self_attn(layer.layer_norm1(x), causal, attention)
        x = x + layer.mlp(layer.layer_norm2(x))
        if i == stop:
            return text_model.final_layer_norm(x) if encoder.layer_norm_hidden_state else x
    return text_model.final_layer_norm(x)
