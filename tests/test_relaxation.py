"""The relaxed token sequence: layout, multi-token candidates, one-hot == hard tokens."""

import itertools
from dataclasses import replace

import pytest
import torch

from dpo_core.relaxation import (
    align_tokens,
    build_layout,
    encode_relaxed,
    gradient_layout,
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
        for slot, positions in layout.spans:  # each span holds exactly its candidate
            text = space.slots[slot].candidates[choice[slot]]
            assert [layout.ids[p] for p in positions] == backend.tokenize(text)


def test_base_negative_prompt_and_multi_token_spans():
    backend = TinyBackend()
    space = SearchSpace(
        prompt="a cat",
        mode="negative",
        negative_prompt="watermark, text",
        slots=(Slot("x", ("", "very blurry", "ice cream")), Slot("y", ("", "dark"))),
    )
    layout = build_layout(backend, space, (1, 1))
    assert space.render((1, 1)) == "watermark, text, very blurry, dark"
    assert list(layout.ids) == backend.sequence_ids(space.render((1, 1)))
    assert [(s, len(p)) for s, p in layout.spans] == [(0, 2), (1, 1)]


@pytest.mark.parametrize("make_space", [negative_space, positive_space])
def test_one_hot_soft_path_equals_hard_token_path(make_space):
    backend, space = TinyBackend(), make_space()
    for choice in all_choices(space):
        soft = encode_relaxed(backend, space, one_hot(space, choice))
        hard = backend.encode_text([space.render(choice)])
        assert torch.allclose(soft, hard, atol=1e-6), space.render(choice)


def test_soft_mixture_rows_follow_the_alignment_rule():
    backend, space = TinyBackend(), negative_space(sizes=(4,))
    # argmax "very blurry" (2 tokens); "blurry" is repeated, "" adds zero rows, "lowres" repeated
    w = torch.tensor([0.1, 0.2, 0.4, 0.3])
    rows = mixed_embeddings(backend, space, [w])[0]
    table = tokenize_candidates(backend, space).ids[0]
    aligned = torch.tensor([align_tokens(ids, 2, backend.pad_id) for ids in table])
    embedded = backend.token_embeddings(aligned)
    embedded[0] = 0.0
    expected = torch.einsum("k,kld->ld", w, embedded)
    assert aligned[1].tolist() == [backend.words["blurry"]] * 2
    assert torch.allclose(rows[1:3], expected)
    assert align_tokens([5, 6, 7], 2, 0) == [5, 6]


def test_empty_argmax_keeps_an_exact_value_and_gives_every_slot_a_gradient():
    """Slot 0's and slot 2's argmax is "": the value is the exact text (they are absent), the
    gradient reaches every option of every slot through the placeholder spans."""
    backend = TinyBackend()
    for space in (negative_space(), replace(negative_space(), negative_prompt="watermark")):
        logits = [torch.tensor(v, requires_grad=True) for v in
                  ([2.0, 0.1, 0.3, 0.0], [0.0, 1.5, 0.2, 0.1], [1.0, 0.3, 0.2, 0.1])]  # fmt: skip
        w = [torch.softmax(a, 0) for a in logits]
        choice = (0, 1, 0)
        cond = encode_relaxed(backend, space, w)
        exact = encode_relaxed(backend, space, one_hot(space, choice))
        text = space.render(choice)
        assert text == ("watermark, dark" if space.negative_prompt else "dark")
        assert torch.allclose(exact, backend.encode_text([text]), atol=1e-6)
        value = mixed_embeddings(backend, space, [x.detach() for x in w])
        assert torch.allclose(cond, backend.encode_embeddings(value), atol=1e-6)
        surrogate = gradient_layout(backend, space, choice)
        assert [(s, len(p)) for s, p in surrogate.spans] == [(0, 1), (1, 1), (2, 1)]
        separator = backend.words[","]
        assert surrogate.num_text_tokens == build_layout(backend, space, choice).num_text_tokens + 4
        assert list(surrogate.ids).count(separator) == 2 + bool(space.negative_prompt)
        grads = torch.autograd.grad(cond.pow(2).sum(), logits)
        for i, g in enumerate(grads):
            assert (g != 0).all(), (i, g)


def test_long_texts_are_encoded_window_by_window():
    """Texts longer than one window: the relaxed one-hot conditioning equals the host's encoding
    of the rendered text (several windows concatenated), and slots past the first window still
    get gradients."""
    backend = TinyBackend()
    long_prompt = " ".join(["a photo of a small red cat"] * 3)  # 21 tokens: two windows
    space = SearchSpace(
        prompt="a cat", mode="negative", negative_prompt=long_prompt,
        slots=(Slot("x", ("", "very blurry", "ice cream")), Slot("y", ("", "dark"))),
    )  # fmt: skip
    for choice in all_choices(space):
        layout = build_layout(backend, space, choice)
        assert layout.windows == 2
        assert list(layout.ids) == backend.sequence_ids(space.render(choice))
        soft = encode_relaxed(backend, space, one_hot(space, choice))
        assert soft.shape == (1, 2 * backend.context_length, 16)
        assert torch.allclose(soft, backend.encode_text([space.render(choice)]), atol=1e-6)
    logits = [torch.tensor([0.5, 0.3, 0.2], requires_grad=True), torch.tensor([0.6, 0.4])]
    logits[1].requires_grad_(True)
    w = [torch.softmax(a, 0) for a in logits]
    grads = torch.autograd.grad(encode_relaxed(backend, space, w).pow(2).sum(), logits)
    assert all((g != 0).all() for g in grads)


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


def test_gumbel_softmax_is_seeded_and_normalised():
    logits = [torch.tensor([1.0, 0.0, 0.0])]
    a = gumbel_softmax(logits, 0.5, generator=torch.Generator().manual_seed(3))
    b = gumbel_softmax(logits, 0.5, generator=torch.Generator().manual_seed(3))
    assert torch.equal(a[0], b[0]) and torch.isclose(a[0].sum(), torch.tensor(1.0))
    with pytest.raises(ValueError, match="positive temperature"):
        gumbel_softmax(logits, 0.0)
