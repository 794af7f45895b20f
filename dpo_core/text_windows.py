"""CLIP's token window and how long texts and mixed-length conditionings are handled.

A CLIP text encoder sees ``CLIP_CONTEXT_LENGTH`` positions: a start token, at most
``CLIP_TEXT_TOKENS`` text tokens, an end token and padding. A longer text is split into several
windows, each encoded on its own and concatenated along the token axis (ComfyUI's rule), so a
conditioning is ``(B, windows * T, D)``. When a positive and a negative conditioning of different
lengths meet in one batch, the shorter is repeated to the least common multiple of the lengths,
as ComfyUI batches conds; repeating keys and values leaves cross-attention unchanged.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

CLIP_CONTEXT_LENGTH = 77  # positions per window
CLIP_TEXT_TOKENS = CLIP_CONTEXT_LENGTH - 2  # text tokens per window (start and end excluded)


def repeat_to_common_length(conds: Sequence[torch.Tensor]) -> list[torch.Tensor]:
    """Conditionings ``(B_i, T_i, D)`` repeated along the token axis to the lcm of the ``T_i``."""
    length = math.lcm(*(int(c.shape[1]) for c in conds))
    return [c if c.shape[1] == length else c.repeat(1, length // c.shape[1], 1) for c in conds]


def concat_conditionings(conds: Sequence[torch.Tensor]) -> torch.Tensor:
    """One batch from conditionings of possibly different lengths (see the module doc)."""
    return torch.cat(repeat_to_common_length(conds))
