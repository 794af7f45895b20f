"""The shortcut text gradient against autograd by hand, the full gradient against finite
differences, the encoder in the gradient path, and activation memory vs sampling steps."""

import pytest
import torch

from dpo_core.gpo import relaxed_loss
from dpo_core.losses import spherical_distance
from dpo_core.relaxation import encode_relaxed, gumbel_softmax
from dpo_core.shortcut import euler_step, step_schedule
from tests.tiny_backend import TinyBackend, TinyConfig, TinyScorer, negative_space


def setup(dtype=torch.float32, steps=10, backend_cls=TinyBackend):
    backend = backend_cls(TinyConfig(steps=steps), dtype=dtype)
    scorer = TinyScorer(dtype=dtype)
    space = negative_space()
    logits = [
        torch.tensor([-1.0, 1.0, 0.5, 0.0], dtype=dtype, requires_grad=True) for _ in space.slots
    ]
    noise = backend.noise([0, 1])
    fixed = backend.encode_text([space.prompt])
    target = scorer.embed_texts([space.prompt])
    return backend, scorer, space, logits, noise, fixed, target


@pytest.mark.parametrize("grad_steps", [1, 2])
def test_shortcut_gradient_equals_autograd_of_the_truncated_computation(grad_steps):
    backend, scorer, space, logits, noise, fixed, target = setup()
    weights = gumbel_softmax(logits, 1.0, generator=torch.Generator().manual_seed(0))
    t = 4
    loss = relaxed_loss(
        backend, scorer, space, weights, noise, fixed, target, step=t, grad_steps=grad_steps
    )
    ours = torch.autograd.grad(loss, logits, retain_graph=True)

    # by hand: no-grad sampling to step t, then grad_steps guided steps with autograd
    cond = encode_relaxed(backend, space, weights).expand(2, -1, -1)
    pos = fixed.expand(2, -1, -1)
    sig = [float(s) for s in backend.sigmas]
    with torch.no_grad():
        x = backend.sample(noise, pos, cond, t)
    x0 = backend.denoise(x, sig[t], pos, cond)
    if grad_steps == 2:
        x = euler_step(x, x0, sig[t], sig[t + 1])
        x0 = backend.denoise(x, sig[t + 1], pos, cond)
    by_hand = spherical_distance(scorer.embed_images(backend.decode(x0)), target).mean()
    reference = torch.autograd.grad(by_hand, logits)

    assert torch.allclose(loss, by_hand)
    for a, b in zip(ours, reference, strict=True):
        assert torch.allclose(a, b, atol=1e-7) and a.abs().sum() > 0


def test_full_gradient_matches_finite_differences():
    backend, scorer, space, logits, noise, fixed, target = setup(dtype=torch.float64)
    g = torch.Generator().manual_seed(1)
    gumbel = [
        -torch.log(-torch.log(torch.rand(a.shape, generator=g, dtype=torch.float64)))
        for a in logits
    ]

    def loss_of(rows):
        weights = [torch.softmax(a + n, dim=-1) for a, n in zip(rows, gumbel, strict=True)]
        return relaxed_loss(backend, scorer, space, weights, noise, fixed, target, gradient="full")

    analytic = torch.autograd.grad(loss_of(logits), logits)
    eps = 1e-6
    for i, a in enumerate(logits):
        for k in range(a.numel()):
            plus = [x.detach().clone() for x in logits]
            minus = [x.detach().clone() for x in logits]
            plus[i][k] += eps
            minus[i][k] -= eps
            numeric = (loss_of(plus) - loss_of(minus)) / (2 * eps)
            assert torch.isclose(analytic[i][k], numeric, rtol=1e-5, atol=1e-9), (i, k)
    assert sum(float(a.abs().sum()) for a in analytic) > 0


class DetachedEncoder(TinyBackend):
    """The tiny backend with the text encoder cut out of the gradient path."""

    def encode_embeddings(self, embeddings):
        return super().encode_embeddings(embeddings).detach()


def test_gradient_reaches_the_logits_through_the_text_encoder():
    for backend_cls, expect_gradient in ((TinyBackend, True), (DetachedEncoder, False)):
        backend, scorer, space, logits, noise, fixed, target = setup(backend_cls=backend_cls)
        weights = gumbel_softmax(logits, 1.0, generator=torch.Generator().manual_seed(0))
        loss = relaxed_loss(backend, scorer, space, weights, noise, fixed, target, step=3)
        if expect_gradient:
            grads = torch.autograd.grad(loss, logits)
            assert all(g.abs().sum() > 0 for g in grads)
        else:
            assert not loss.requires_grad  # no path from the logits to the loss: zero gradient


def saved_bytes(fn) -> int:
    """Bytes of tensors saved for backward while ``fn`` runs: a deterministic activation-memory
    proxy."""
    total = 0

    def pack(t):
        nonlocal total
        total += t.numel() * t.element_size()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        fn()
    return total


def iteration_memory(steps: int, mode: str) -> int:
    """Saved-for-backward bytes of one gradient iteration at the same relative step."""
    backend, scorer, space, logits, noise, fixed, target = setup(steps=steps)

    def run():
        weights = gumbel_softmax(logits, 1.0, generator=torch.Generator().manual_seed(0))
        step = round(0.3 * steps)
        loss = relaxed_loss(
            backend, scorer, space, weights, noise, fixed, target, gradient=mode, step=step
        )
        loss.backward()

    return saved_bytes(run)


def test_shortcut_memory_is_constant_in_steps_and_full_memory_grows():
    memory = {(m, n): iteration_memory(n, m) for m in ("shortcut", "full") for n in (10, 40)}
    assert memory["shortcut", 10] == memory["shortcut", 40]
    assert memory["full", 40] > 3 * memory["full", 10]
    assert memory["full", 10] > 3 * memory["shortcut", 10]


def test_step_schedule_walks_the_reference_range():
    walk = step_schedule(50, 20)
    assert walk == [t for t in range(15, 25) for _ in range(2)]
    assert step_schedule(10, 3, 0.3, 0.3) == [3, 3, 3]
    drawn = step_schedule(50, 100, mode="random")
    assert set(drawn) <= set(range(15, 25)) and len(set(drawn)) > 5
