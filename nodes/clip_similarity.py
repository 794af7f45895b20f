"""The connected CLIP's own text encoder as a ``TextSimilarity`` (no other model is loaded).

A text's embedding is the pooled output of the CLIP-L text encoder: the final-layer state at
the end token after the final layer norm, which is what ComfyUI returns as the pooled output
of SD1's encoder. A prompt's variants are encoded as one batch padded only to the longest of
them: the causal mask makes the end token's state independent of what follows it, so the
result is the same as with the 77-token padding, at a fraction of the cost.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from dpo_core.spaces.text_similarity import EmbedTexts, TextSimilarity

from .clip_tokens import clip_token_ids
from .text_encoders import first_text_encoder
from .text_encoding import encode_embeddings

MAX_TOKENS = 75  # CLIP's window without the start and end tokens


def _token_ids(clip, text: str) -> list[int]:
    """BPE ids of ``text`` as ComfyUI tokenizes it (weights dropped), no start/end/padding."""
    try:
        return clip_token_ids(clip, text)
    except ValueError:
        raise ValueError(
            "prompts with embeddings (textual inversion) cannot be ranked; write the words instead"
        ) from None


def clip_text_embedder(clip) -> EmbedTexts:
    """``texts -> (N, D)`` pooled embeddings from a ``comfy.sd.CLIP``'s first text encoder
    (CLIP-L of SD1.x and SDXL, OpenCLIP-H of SD2.x)."""
    encoder = first_text_encoder(clip)
    special = encoder.special_tokens

    def embed(texts: Sequence[str]) -> torch.Tensor:
        rows = [
            [special["start"], *_token_ids(clip, t)[:MAX_TOKENS], special["end"]] for t in texts
        ]
        width = max(len(r) for r in rows)
        ids = torch.tensor([r + [special["pad"]] * (width - len(r)) for r in rows])
        ends = torch.tensor([len(r) - 1 for r in rows])
        clip.load_model()
        table = encoder.transformer.get_input_embeddings()
        with torch.no_grad():
            embeddings = table(ids.to(table.weight.device), out_dtype=torch.float32)
            states = encode_embeddings(encoder, embeddings)  # last layer, final layer norm
        return states[torch.arange(len(rows)), ends.to(states.device)].float().cpu()

    return embed


def clip_similarity(clip) -> TextSimilarity:
    """A ``TextSimilarity`` over the connected CLIP (one per node run: embeddings cached)."""
    return TextSimilarity(clip_text_embedder(clip), name="CLIP-L pooled output")
