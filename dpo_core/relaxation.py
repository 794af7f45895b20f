"""Continuous relaxation of a discrete choice: Gumbel-softmax weights over each slot's candidates
mix token-embedding rows into the token sequence, which then goes through the text encoder.

Token layout of one choice (decided once, used everywhere):

* the text tokens are those of ``render(choice)``, built segment by segment from
  ``SearchSpace.segments``, each segment tokenized on its own; this equals
  ``backend.tokenize(render(choice))`` (tested);
* the text is split into windows as the host splits it (``backend.window_sizes``); each window
  is ``[BOS] tokens [EOS] pad ...`` of ``context_length``; the conditioning is the windows'
  encodings concatenated along the token axis;
* the span of slot ``i`` has the length of its chosen candidate's tokens; its rows are
  ``sum_k w_ik * E[align(tokens_ik, span length)]``;
* ``align``: a longer candidate is cut to the span length (its first tokens), a shorter one is
  padded by repeating its last token; the empty candidate ``""`` contributes zero rows, so its
  weight fades the other candidates' rows toward nothing (the linearisation's reference point;
  the pad token's row, the reference implementation's choice, is a word of its own to CLIP).

Value and gradient (``encode_relaxed``). The conditioning's value is the mixed rows on the argmax
layout, so with one-hot weights it is exactly the encoding of the text ComfyUI would encode. Its
gradient comes from a *gradient layout*: the argmax layout in which every slot whose argmax is
empty keeps a one-token placeholder span (with its separator), whose row is
``sum_k w_k E[align(tokens_k, 1)]`` ("" zero), and the value is carried over straight-through
(``value + (soft - soft.detach())``). Without it an empty argmax leaves the slot no tokens and
its logits no gradient, and "nothing", the option every slot starts from, is close to absorbing
(the planted problem of the tests, all search seeds per iteration: GPO's argmax was the planted
word in 7 of 30 runs without it; 18 of 30 with a pad-row placeholder, 25 of 30 with the zero row
for "", ``benchmarks/planted_gpo.py``). It costs one more text-encoder pass, only when a slot's argmax is
empty.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

import torch

from .protocols import DiffusionBackend
from .space import NEGATIVE_SEPARATOR, SearchSpace


@dataclass(frozen=True)
class CandidateTokens:
    """Token ids of every candidate of every slot, each tokenized alone: ``ids[slot][option]``."""

    ids: tuple[tuple[tuple[int, ...], ...], ...]


@dataclass(frozen=True)
class TokenLayout:
    """The token windows of one choice and where each slot's tokens sit in them."""

    ids: tuple[int, ...]  # windows * context_length: each window [BOS] text [EOS] pad...
    spans: tuple[tuple[int, tuple[int, ...]], ...]  # (slot, positions in ids), in text order
    windows: int
    num_text_tokens: int  # text tokens over all windows


def tokenize_candidates(backend: DiffusionBackend, space: SearchSpace) -> CandidateTokens:
    """Tokenize every candidate once (``""`` gives no tokens)."""
    return CandidateTokens(
        ids=tuple(
            tuple(tuple(backend.tokenize(text)) if text else () for text in slot.candidates)
            for slot in space.slots
        )
    )


def _text_tokens(
    backend: DiffusionBackend,
    space: SearchSpace,
    choice: tuple[int, ...],
    candidates: CandidateTokens,
    placeholders: Collection[int],
) -> tuple[list[int], list[int], list[bool]]:
    """Flat text ids, the slot of each token (-1: fixed text) and whether the token is also in
    the exact text (False for placeholder tokens and the separators only they bring)."""
    segments = space.segments(choice, keep=placeholders)
    ids: list[int] = []
    owner: list[int] = []
    shared: list[bool] = []
    real_before = False  # has a segment of the exact text come before?
    for n, (slot, text) in enumerate(segments):
        if slot < 0:
            piece = list(backend.tokenize(text))
            is_separator = space.mode == "negative" and text == NEGATIVE_SEPARATOR
            following = segments[n + 1] if n + 1 < len(segments) else None
            before_ghost = following is not None and following[0] >= 0 and not following[1]
            in_exact = not is_separator or (real_before and not before_ghost)
            real_before = real_before or not is_separator
        else:
            piece = list(candidates.ids[slot][choice[slot]])
            in_exact = True
            if not piece and slot in placeholders:
                piece, in_exact = [backend.pad_id], False  # its row is the slot's mixture
            real_before = real_before or bool(text)
        ids.extend(piece)
        owner.extend([slot] * len(piece))
        shared.extend([in_exact] * len(piece))
    return ids, owner, shared


def _assemble(
    backend: DiffusionBackend, ids: list[int], owner: list[int], window_of: list[int], windows: int
) -> TokenLayout:
    length = backend.context_length
    sequence = [backend.pad_id] * (windows * length)
    filled = [0] * windows
    positions: dict[int, list[int]] = {}
    for token, slot, w in zip(ids, owner, window_of, strict=True):
        at = w * length + 1 + filled[w]
        sequence[at] = token
        filled[w] += 1
        if slot >= 0:
            positions.setdefault(slot, []).append(at)
    for w in range(windows):
        sequence[w * length] = backend.bos_id
        sequence[w * length + 1 + filled[w]] = backend.eos_id
    spans = tuple((slot, tuple(p)) for slot, p in sorted(positions.items(), key=lambda i: i[1]))
    return TokenLayout(ids=tuple(sequence), spans=spans, windows=windows, num_text_tokens=len(ids))


def build_layout(
    backend: DiffusionBackend,
    space: SearchSpace,
    choice: Sequence[int],
    candidates: CandidateTokens | None = None,
) -> TokenLayout:
    """The exact token windows of ``render(choice)``, split as the host splits the text."""
    choice = space.check_choice(choice)
    candidates = candidates or tokenize_candidates(backend, space)
    ids, owner, _ = _text_tokens(backend, space, choice, candidates, ())
    sizes = list(backend.window_sizes(space.render(choice)))
    if sum(sizes) != len(ids) or any(s > backend.context_length - 2 for s in sizes):
        raise ValueError(
            f"the backend splits {space.render(choice)!r} into windows of {sizes} tokens, "
            f"expected windows of at most {backend.context_length - 2} summing to {len(ids)}"
        )
    window_of = [w for w, size in enumerate(sizes) for _ in range(size)]
    return _assemble(backend, ids, owner, window_of, max(1, len(sizes)))


def gradient_layout(
    backend: DiffusionBackend,
    space: SearchSpace,
    choice: Sequence[int],
    candidates: CandidateTokens | None = None,
) -> TokenLayout:
    """The layout the gradient is taken on: ``build_layout(choice)`` plus a one-token placeholder
    span for every slot with an empty argmax and more than one option (see the module doc).

    It keeps the exact layout's windows; a placeholder goes into the window of the exact token
    that follows it. A placeholder that would overflow its window is left out (that slot gets
    no gradient from this sample).
    """
    choice = space.check_choice(choice)
    candidates = candidates or tokenize_candidates(backend, space)
    exact = build_layout(backend, space, choice, candidates)
    sizes = list(backend.window_sizes(space.render(choice))) or [0]
    exact_window = [w for w, size in enumerate(sizes) for _ in range(size)]
    placeholders = {
        i for i, c in enumerate(choice) if not candidates.ids[i][c] and space.sizes[i] > 1
    }
    while placeholders:
        ids, owner, shared = _text_tokens(backend, space, choice, candidates, placeholders)
        window_of = _placeholder_windows(shared, exact_window)
        counts = [window_of.count(w) for w in range(len(sizes))]
        full = {w for w, n in enumerate(counts) if n > backend.context_length - 2}
        if not full:
            return _assemble(backend, ids, owner, window_of, exact.windows)
        dropped = {
            s for s, w, sh in zip(owner, window_of, shared, strict=True) if w in full and not sh
        }
        if not dropped & placeholders:
            break
        placeholders -= dropped
    return exact


def _placeholder_windows(shared: list[bool], exact_window: list[int]) -> list[int]:
    """Window of every token: shared tokens keep theirs; extra tokens join the next shared
    token's window (the last window when none follows)."""
    out = [0] * len(shared)
    next_window = exact_window[-1] if exact_window else 0
    exact_index = sum(shared)
    for j in range(len(shared) - 1, -1, -1):
        if shared[j]:
            exact_index -= 1
            next_window = exact_window[exact_index]
        out[j] = next_window
    return out


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


def _check_weights(space: SearchSpace, weights: Sequence[torch.Tensor]) -> None:
    if len(weights) != len(space.slots):
        raise ValueError(f"expected weights for {len(space.slots)} slots, got {len(weights)}")
    for i, (w, n) in enumerate(zip(weights, space.sizes, strict=True)):
        if w.shape != (n,):
            raise ValueError(f"slot {i}: expected weights of shape ({n},), got {tuple(w.shape)}")


def mixed_embeddings(
    backend: DiffusionBackend,
    space: SearchSpace,
    weights: Sequence[torch.Tensor],
    candidates: CandidateTokens | None = None,
    layout: TokenLayout | None = None,
) -> torch.Tensor:
    """Token-embedding windows ``(windows, context_length, D)`` of a relaxed choice.

    ``weights[i]`` has one entry per candidate of slot ``i``; the layout is the exact one of
    their argmax unless given. Differentiable with respect to ``weights``.
    """
    _check_weights(space, weights)
    candidates = candidates or tokenize_candidates(backend, space)
    layout = layout or build_layout(backend, space, argmax_choice(weights), candidates)
    rows = backend.token_embeddings(torch.tensor(layout.ids, dtype=torch.long))  # (W*L, D)
    for slot, positions in layout.spans:
        length = len(positions)
        aligned = [align_tokens(ids, length, backend.pad_id) for ids in candidates.ids[slot]]
        table = backend.token_embeddings(torch.tensor(aligned, dtype=torch.long))  # (K, len, D)
        empty = torch.tensor([not ids for ids in candidates.ids[slot]], device=table.device)
        table = table.masked_fill(empty[:, None, None], 0.0)  # "" adds nothing, fades the rest
        w = weights[slot].to(device=table.device, dtype=table.dtype)
        mixture = torch.einsum("k,kld->ld", w, table)
        where = torch.tensor(positions, dtype=torch.long, device=rows.device)
        rows = rows.index_copy(0, where, mixture.to(rows.dtype))
    return rows.reshape(layout.windows, backend.context_length, -1)


def _encode_windows(backend: DiffusionBackend, windows: torch.Tensor) -> torch.Tensor:
    """``(W, L, D)`` token rows -> conditioning ``(1, W * T, D_ctx)`` (windows concatenated)."""
    encoded = backend.encode_embeddings(windows)
    return encoded.reshape(1, -1, encoded.shape[-1])


def encode_relaxed(
    backend: DiffusionBackend,
    space: SearchSpace,
    weights: Sequence[torch.Tensor],
    candidates: CandidateTokens | None = None,
) -> torch.Tensor:
    """Conditioning ``(1, windows * T, D_ctx)`` of a relaxed choice (see the module doc): the
    value of the mixed rows on the argmax layout, the gradient of the mixed rows on the gradient
    layout (the same computation when no slot's argmax is empty)."""
    _check_weights(space, weights)
    candidates = candidates or tokenize_candidates(backend, space)
    choice = argmax_choice(weights)
    exact = build_layout(backend, space, choice, candidates)
    layout = gradient_layout(backend, space, choice, candidates)
    soft = _encode_windows(backend, mixed_embeddings(backend, space, weights, candidates, layout))
    if layout == exact:
        return soft
    with torch.no_grad():
        value = _encode_windows(
            backend, mixed_embeddings(backend, space, weights, candidates, exact)
        )
    return value + (soft - soft.detach())
