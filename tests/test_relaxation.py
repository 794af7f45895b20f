"""The relaxed token sequence: layout, multi-token candidates, one-hot == hard tokens."""

import itertools

import pytest
import torch

from dpo_core.relaxation import (
    align_tokens,
    build_layout,
    encode_relaxed,
    gumbel_softmax,
    mixed_embeddings,
    tokenize_candidates,
)
from dpo_core.space import SearchSpace, Slot
from tests.tiny_backend import TinyBackend, negative_space, positive_space


def one_hot(space: SearchSpace, choice) -> list[torch.Tensor]:
    return [
        torch.nn.functional.one_hot(torch.tensor(c), n).float()
        for c, n in zip(choice, space.sizes, strict=True)
    ]


def all_choices(space: SearchSpace):
    return itertools.product(*(range(n) for n in space.sizes))


@pytest.mark.parametrize("make_space", [negative_space, positive_space])
def test_segment_tokens_equal_whole_text_tokens(make_space):
    backend, space = TinyBackend(), make_space()
    for choice in all_choices(space):
        layout = build_layout(backend, space, choice)
        expected = backend.sequence_ids(space.render(choice))
        assert list(layout.ids) == expected, space.render(choice)
        for slot, start, length in layout.spans:  # each span holds exactly its candidate
            text = space.slots[slot].candidates[choice[slot]]
            assert list(layout.ids[start : start + length]) == backend.tokenize(text)


def test_base_negative_prompt_and_multi_token_spans():
    backend = TinyBackend()
    space = SearchSpace(
        prompt="a cat",
        mode="negative",
        base="watermark, text",
        slots=(Slot("x", ("", "very blurry", "ice cream")), Slot("y", ("", "dark"))),
    )
    layout = build_layout(backend, space, (1, 1))
    assert space.render((1, 1)) == "watermark, text, very blurry, dark"
    assert list(layout.ids) == backend.sequence_ids(space.render((1, 1)))
    assert [(s, n) for s, _, n in layout.spans] == [(0, 2), (1, 1)]


@pytest.mark.parametrize("make_space", [negative_space, positive_space])
def test_one_hot_soft_path_equals_hard_token_path(make_space):
    backend, space = TinyBackend(), make_space()
    for choice in all_choices(space):
        soft = encode_relaxed(backend, space, one_hot(space, choice))
        hard = backend.encode_text([space.render(choice)])
        assert torch.allclose(soft, hard, atol=1e-6), space.render(choice)


def test_soft_mixture_rows_follow_the_alignment_rule():
    backend, space = TinyBackend(), negative_space(sizes=(4,))
    # argmax "very blurry" (2 tokens); "blurry" is repeated, "" gives pad rows, "lowres" repeated
    w = torch.tensor([0.1, 0.2, 0.4, 0.3])
    rows = mixed_embeddings(backend, space, [w])
    table = tokenize_candidates(backend, space).ids[0]
    aligned = torch.tensor([align_tokens(ids, 2, backend.pad_id) for ids in table])
    expected = torch.einsum("k,kld->ld", w, backend.token_embeddings(aligned))
    assert aligned[0].tolist() == [backend.pad_id] * 2
    assert aligned[1].tolist() == [backend.words["blurry"]] * 2
    assert torch.allclose(rows[1:3], expected)
    assert align_tokens([5, 6, 7], 2, 0) == [5, 6]


def test_straight_through_forward_is_exact_and_reaches_every_logit():
    backend, space = TinyBackend(), negative_space()
    logits = [torch.tensor([-9.0, 2.0, 1.0, 0.5], requires_grad=True) for _ in space.slots]
    weights = gumbel_softmax(logits, 1.0, hard=True, generator=torch.Generator().manual_seed(0))
    choice = tuple(int(w.argmax()) for w in weights)
    assert all(c != 0 for c in choice), "the test needs non-empty argmax options"
    cond = encode_relaxed(backend, space, weights)
    assert torch.allclose(cond, backend.encode_text([space.render(choice)]), atol=1e-6)
    cond.pow(2).sum().backward()
    for a in logits:
        assert a.grad is not None and (a.grad != 0).all()


def test_token_budget_raises_a_clear_error():
    backend = TinyBackend()
    long = " ".join(["blurry"] * 15)
    space = SearchSpace(prompt="a cat", mode="negative", slots=(Slot("x", ("", long)),))
    build_layout(backend, space, (0,))
    with pytest.raises(ValueError, match="expected at most 14 text tokens"):
        build_layout(backend, space, (1,))


def test_gumbel_softmax_is_seeded_and_normalised():
    logits = [torch.tensor([1.0, 0.0, 0.0])]
    a = gumbel_softmax(logits, 0.5, generator=torch.Generator().manual_seed(3))
    b = gumbel_softmax(logits, 0.5, generator=torch.Generator().manual_seed(3))
    assert torch.equal(a[0], b[0]) and torch.isclose(a[0].sum(), torch.tensor(1.0))
    with pytest.raises(ValueError, match="positive temperature"):
        gumbel_softmax(logits, 0.0)
