"""Continuous relaxation of a discrete choice: Gumbel-softmax weights over each slot's candidates
mix token-embedding rows into the token sequence, which then goes through the text encoder.

Token layout of one sample (decided once, used everywhere):

* the sequence is ``[BOS] tokens(render(argmax)) [EOS] pad ...`` of length ``context_length``,
  built segment by segment from ``SearchSpace.segments(argmax)``, each segment tokenized on its
  own; this equals ``backend.tokenize(render(argmax))`` (tested);
* the span of slot ``i`` has the length of its argmax candidate's tokens; its rows are
  ``sum_k w_ik * E[align(tokens_ik, span length)]``;
* ``align``: a longer candidate is cut to the span length (its first tokens), a shorter one is
  padded by repeating its last token; the empty candidate ``""`` contributes pad-token rows;
* a slot whose argmax is the empty candidate has an empty span in that sample (its text is not
  rendered), so that sample gives it no gradient.

With one-hot weights the mixed sequence is exactly the token-embedding sequence of the rendered
text, so the soft path and the host's own text encoding agree.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from .protocols import DiffusionBackend
from .space import SearchSpace


@dataclass(frozen=True)
class CandidateTokens:
    """Token ids of every candidate of every slot, each tokenized alone: ``ids[slot][option]``."""

    ids: tuple[tuple[tuple[int, ...], ...], ...]


@dataclass(frozen=True)
class TokenLayout:
    """The full token sequence of one choice and where each slot's tokens sit in it."""

    ids: tuple[int, ...]  # length context_length: [BOS] text [EOS] pad...
    spans: tuple[tuple[int, int, int], ...]  # (slot, start, length), in sequence order
    num_text_tokens: int  # tokens between BOS and EOS


def tokenize_candidates(backend: DiffusionBackend, space: SearchSpace) -> CandidateTokens:
    """Tokenize every candidate once (``""`` gives no tokens)."""
    return CandidateTokens(
        ids=tuple(
            tuple(tuple(backend.tokenize(text)) if text else () for text in slot.candidates)
            for slot in space.slots
        )
    )


def build_layout(
    backend: DiffusionBackend,
    space: SearchSpace,
    choice: Sequence[int],
    candidates: CandidateTokens | None = None,
) -> TokenLayout:
    """Token layout of ``render(choice)``; ValueError if it does not fit ``context_length``."""
    choice = space.check_choice(choice)
    candidates = candidates or tokenize_candidates(backend, space)
    text_ids: list[int] = []
    spans: list[tuple[int, int, int]] = []
    for slot, text in space.segments(choice):
        if slot < 0:
            piece = list(backend.tokenize(text))
        else:
            piece = list(candidates.ids[slot][choice[slot]])
            spans.append((slot, 1 + len(text_ids), len(piece)))
        text_ids.extend(piece)
    budget = backend.context_length - 2  # BOS and EOS
    if len(text_ids) > budget:
        raise ValueError(
            f"expected at most {budget} text tokens (context length {backend.context_length} "
            f"minus start and end tokens), got {len(text_ids)} for {space.render(choice)!r}; "
            "use fewer slots or shorter candidates"
        )
    ids = [backend.bos_id, *text_ids, backend.eos_id]
    ids += [backend.pad_id] * (backend.context_length - len(ids))
    return TokenLayout(ids=tuple(ids), spans=tuple(spans), num_text_tokens=len(text_ids))


def align_tokens(ids: Sequence[int], length: int, pad_id: int) -> list[int]:
    """Fit a candidate's tokens to a span: cut when longer, repeat the last token when shorter;
    the empty candidate becomes pad tokens."""
    if not ids:
        return [pad_id] * length
    ids = list(ids[:length])
    return ids + [ids[-1]] * (length - len(ids))


def gumbel_softmax(
    logits: Sequence[torch.Tensor],
    temperature: float = 1.0,
    hard: bool = False,
    generator: torch.Generator | None = None,
) -> list[torch.Tensor]:
    """One Gumbel-softmax sample per slot, ``softmax((a + g) / tau)``.

    ``hard=True`` is the straight-through estimator: the forward value is one-hot at the argmax,
    the gradient is that of the soft sample.
    """
    if temperature <= 0:
        raise ValueError(f"expected a positive temperature, got {temperature}")
    out = []
    for a in logits:
        u = torch.rand(a.shape, generator=generator, dtype=torch.float64)
        g = -torch.log(-torch.log(u.clamp(1e-20, 1.0 - 1e-12))).to(a.dtype).to(a.device)
        w = torch.softmax((a + g) / temperature, dim=-1)
        if hard:
            one_hot = torch.zeros_like(w)
            one_hot[w.argmax()] = 1.0
            w = one_hot - w.detach() + w
        out.append(w)
    return out


def argmax_choice(weights: Sequence[torch.Tensor]) -> tuple[int, ...]:
    return tuple(int(w.detach().argmax()) for w in weights)


def mixed_embeddings(
    backend: DiffusionBackend,
    space: SearchSpace,
    weights: Sequence[torch.Tensor],
    candidates: CandidateTokens | None = None,
) -> torch.Tensor:
    """Token-embedding sequence ``(context_length, D)`` of a relaxed choice (see module doc).

    ``weights[i]`` has one entry per candidate of slot ``i``; the layout follows their argmax.
    Differentiable with respect to ``weights``.
    """
    if len(weights) != len(space.slots):
        raise ValueError(f"expected weights for {len(space.slots)} slots, got {len(weights)}")
    for i, (w, n) in enumerate(zip(weights, space.sizes, strict=True)):
        if w.shape != (n,):
            raise ValueError(f"slot {i}: expected weights of shape ({n},), got {tuple(w.shape)}")
    candidates = candidates or tokenize_candidates(backend, space)
    layout = build_layout(backend, space, argmax_choice(weights), candidates)
    device_ids = torch.tensor(layout.ids, dtype=torch.long)
    base = backend.token_embeddings(device_ids)  # (L, D)
    pieces: list[torch.Tensor] = []
    cursor = 0
    for slot, start, length in layout.spans:
        pieces.append(base[cursor:start])
        if length:
            aligned = [align_tokens(ids, length, backend.pad_id) for ids in candidates.ids[slot]]
            rows = backend.token_embeddings(torch.tensor(aligned, dtype=torch.long))  # (K, len, D)
            w = weights[slot].to(device=rows.device, dtype=rows.dtype)
            pieces.append(torch.einsum("k,kld->ld", w, rows))
        cursor = start + length
    pieces.append(base[cursor:])
    return torch.cat(pieces, dim=0)


def encode_relaxed(
    backend: DiffusionBackend,
    space: SearchSpace,
    weights: Sequence[torch.Tensor],
    candidates: CandidateTokens | None = None,
) -> torch.Tensor:
    """Conditioning ``(1, T, D_ctx)`` of a relaxed choice: mixed rows through the text encoder."""
    return backend.encode_embeddings(mixed_embeddings(backend, space, weights, candidates)[None])
