"""Token ids as ComfyUI's CLIP tokenizer makes them (for search spaces and the relaxation)."""

from __future__ import annotations


def clip_token_ids(clip, text: str) -> list[int]:
    """BPE ids of ``text`` from a ``comfy.sd.CLIP``'s tokenizer, without start/end/padding
    (prompt weights are parsed by ComfyUI and dropped here)."""
    special = clip.cond_stage_model.clip_l.special_tokens
    start, end, pad = special["start"], special["end"], special["pad"]
    ids: list[int] = []
    for chunk in clip.tokenize(text)["l"]:
        for token, _weight in chunk:
            if not isinstance(token, int):
                raise ValueError(
                    "prompts with embeddings (textual inversion) are not supported in a search "
                    "space; write the words instead"
                )
            if token == start:
                continue
            if token in (end, pad):
                break
            ids.append(token)
    return ids


def count_clip_tokens(clip, text: str) -> int:
    return len(clip_token_ids(clip, text))
