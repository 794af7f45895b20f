"""Token ids as ComfyUI's CLIP tokenizer makes them (for search spaces and the relaxation)."""

from __future__ import annotations

from .model_family import clip_family


def window_token_ids(clip, text: str) -> list[list[int]]:
    """BPE ids of ``text`` in each window ComfyUI's tokenizer splits it into, without
    start/end/padding (prompt weights are parsed by ComfyUI and dropped here).

    Read from the tokenizer of the CLIP's first text encoder (the encoders of SDXL share one
    vocabulary and differ only in padding). A window's text stops at its end token: SD2's and
    clip_g's padding is 0, which is also the id of "!".
    """
    family = clip_family(clip)
    if family is None:
        found = type(clip.cond_stage_model).__name__
        raise ValueError(f"expected the CLIP of an SD1.x, SD2.x or SDXL model, got {found}")
    name = family.encoders[0]
    special = getattr(clip.cond_stage_model, name).special_tokens
    windows: list[list[int]] = []
    for chunk in clip.tokenize(text)[name.removeprefix("clip_")]:
        ids: list[int] = []
        for token, _weight in chunk:
            if not isinstance(token, int):
                raise ValueError(
                    "prompts with embeddings (textual inversion) are not supported in a search "
                    "space; write the words instead"
                )
            if token == special["start"]:
                continue
            if token == special["end"]:
                break
            ids.append(token)
        windows.append(ids)
    return windows


def clip_token_ids(clip, text: str) -> list[int]:
    """BPE ids of ``text`` (all windows), without start/end/padding."""
    return [token for window in window_token_ids(clip, text) for token in window]


def count_clip_tokens(clip, text: str) -> int:
    return len(clip_token_ids(clip, text))
