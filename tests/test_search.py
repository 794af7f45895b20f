"""Search methods on a planted objective; EPO bookkeeping; determinism; records; early stop."""

import dataclasses
import itertools
import json
import random

import pytest
import torch

from dpo_core import search
from dpo_core.config import EPOConfig, GPOConfig, SearchConfig
from dpo_core.evaluation import generate_images, score_choices
from dpo_core.gpo import GPOResult, learn_distribution
from dpo_core.optimizers import OPTIMIZERS
from dpo_core.record import RunRecord
from dpo_core.run import PHASES, StopSearch
from dpo_core.sampling import distribution_sampler, softmax_rows
from dpo_core.search import METHODS, optimize
from tests.tiny_backend import TinyBackend, TinyScorer, negative_space, positive_space

SEARCH_SEEDS = (0, 1)
# On the tiny random backend the clean-latent estimate is only informative late in sampling,
# so the planted tests take the shortcut step from the last third (real SD: the reference range).
LATE = {"step_start_fraction": 0.7, "step_end_fraction": 0.9}


def planted(sizes, best):
    """A problem whose prompt embedding is the mean image embedding of the choice ``best``:
    that choice (or one that renders almost the same images) has the lowest loss."""
    backend, scorer, space = TinyBackend(), TinyScorer(), negative_space(sizes=sizes)
    images = generate_images(backend, [space.prompt] * 2, [space.render(best)] * 2, SEARCH_SEEDS)
    scorer.targets[space.prompt] = scorer.embed_images(images).mean(0)
    choices = list(itertools.product(*(range(n) for n in space.sizes)))
    target = scorer.embed_texts([space.prompt])
    losses = score_choices(backend, scorer, space, choices, SEARCH_SEEDS, target, 128).mean(1)
    return backend, scorer, space, choices, losses


def argmax_rows(logits):
    return tuple(max(range(len(r)), key=r.__getitem__) for r in logits)


@pytest.mark.parametrize("gpo", [{"gradient": "full"}, LATE])
def test_gpo_puts_most_mass_on_the_planted_word(gpo):
    backend, scorer, space, choices, losses = planted((5,), (3,))
    assert choices[int(losses.argmin())] == (3,)
    hits = 0
    for seed in range(5):
        config = SearchConfig(
            method="gpo", evaluations=40, search_seeds=SEARCH_SEEDS, seed=seed, gpo=GPOConfig(**gpo)
        )
        record = optimize(backend, scorer, space, config)
        hits += argmax_rows(record.logits) == (3,)
        assert len(record.loss_curve) == 20 and len(record.candidates) == 5  # space exhausted
        assert record.best.choice == (3,)
    assert hits >= 4


def test_gpo_finds_the_planted_word_at_the_default_step_range(monkeypatch):
    """The reference's step range on the tiny backend, where the clean-latent estimate is weak:
    the planted word is the learned argmax in most runs, and no slot-iteration goes without a
    gradient (an empty argmax keeps a placeholder span)."""
    backend, scorer, space, choices, losses = planted((5,), (3,))
    config = GPOConfig()
    steps = (config.step_start_fraction, config.step_end_fraction, config.seeds_per_iteration)
    assert steps == (0.3, 0.48, 0)
    gradients: list[bool] = []
    kind = OPTIMIZERS[config.optimizer]

    def watched(params, lr, momentum):
        optimizer = kind.make(params, lr, momentum)
        step = optimizer.step

        def checked_step(*args, **kwargs):
            gradients.extend(p.grad is not None and bool(p.grad.abs().sum() > 0) for p in params)
            return step(*args, **kwargs)

        optimizer.step = checked_step
        return optimizer

    monkeypatch.setitem(OPTIMIZERS, config.optimizer, dataclasses.replace(kind, make=watched))
    target = scorer.embed_texts([space.prompt])
    hits = 0
    for seed in range(30):
        result = learn_distribution(backend, scorer, space, config, SEARCH_SEEDS, target,
                                    generator=torch.Generator().manual_seed(seed))  # fmt: skip
        hits += argmax_rows(result.logits) == (3,)
    assert len(gradients) == 30 * config.iterations and all(gradients)
    assert hits >= 20, hits


def test_hybrid_beats_random_search_at_equal_budget():
    """Equal budgets, the gradient phase charged: late shortcut steps of a 10-step schedule are
    dear (about 9 of the 40 evaluations for 10 iterations), yet the hybrid's best is better."""
    backend, scorer, space, choices, losses = planted((5, 5, 5, 5), (3, 2, 4, 1))
    wins = 0
    for seed in range(5):
        common = {"evaluations": 40, "search_seeds": SEARCH_SEEDS, "seed": seed, "batch_size": 40}
        hybrid = optimize(
            backend, scorer, space,
            SearchConfig(method="hybrid", gpo=GPOConfig(iterations=10, **LATE), **common),
        )  # fmt: skip
        rand = optimize(backend, scorer, space, SearchConfig(method="random", **common))
        assert hybrid.gradient_evaluations > 0
        assert len(hybrid.candidates) + hybrid.gradient_evaluations == len(rand.candidates) == 40
        wins += hybrid.best.mean < rand.best.mean
    assert wins >= 4


def test_epo_never_evaluates_twice_and_spends_the_budget_exactly():
    backend, scorer, space = TinyBackend(), TinyScorer(), negative_space(sizes=(4, 4, 4))
    config = SearchConfig(method="epo", evaluations=60, search_seeds=(0,), holdout_seeds=())
    record = optimize(backend, scorer, space, config)
    genomes = [c.choice for c in record.candidates]
    assert len(genomes) == config.evaluations == 60 and len(set(genomes)) == 60
    assert [c.generation for c in record.candidates] == [0] * 20 + [1] * 20 + [2] * 20
    assert record.best == min(record.candidates, key=lambda c: c.mean)
    tiny = negative_space(sizes=(2, 2))  # 4 choices, budget 40: stops when exhausted
    record = optimize(backend, scorer, tiny, config)
    assert sorted(c.choice for c in record.candidates) == [(0, 0), (0, 1), (1, 0), (1, 1)]


def test_learned_distribution_sampler_matches_the_softmax():
    space = negative_space(sizes=(3, 4))
    logits = ((2.0, 0.5, 0.0), (0.0, 3.0, 1.0, 0.0))
    sample = distribution_sampler(space, logits)
    rng, n = random.Random(0), 20000
    draws = [sample(rng) for _ in range(n)]
    for slot, probs in enumerate(softmax_rows(logits)):
        for option, p in enumerate(probs):
            freq = sum(d[slot] == option for d in draws) / n
            assert abs(freq - p) < 4 * (p * (1 - p) / n) ** 0.5 + 1e-3, (slot, option, freq, p)


def test_hybrid_initial_population_is_sampled_from_the_learned_distribution(monkeypatch):
    backend, scorer, space = TinyBackend(), TinyScorer(), negative_space(sizes=(4, 4, 4, 4, 4))
    learned = tuple((0.0, 0.0, -30.0, -30.0) for _ in space.slots)  # options 2, 3 ~ impossible

    def fake_gpo(*args, **kwargs):
        return GPOResult(logits=learned, loss_curve=())

    monkeypatch.setattr(search, "learn_distribution", fake_gpo)
    config = SearchConfig(method="hybrid", evaluations=20, search_seeds=(0,), holdout_seeds=())
    record = optimize(backend, scorer, space, config)
    initial = [c.choice for c in record.candidates if c.phase == "initial"]
    # the learned argmax is the original here: generation 0 is the original and 19 samples
    assert record.candidates[0].phase == "original" and record.candidates[0].generation == 0
    assert len(initial) == 19 and len(set(initial)) == 19
    # uniform sampling would put a 2 or 3 somewhere with probability 1 - 2**-5 per candidate
    assert all(set(c) <= {0, 1} for c in initial)
    assert record.logits == learned


def small_run(method="hybrid", seed=0, **kw):
    backend, scorer = TinyBackend(), TinyScorer()
    config = SearchConfig(
        method=method,
        evaluations=12,
        search_seeds=(0, 1),
        holdout_seeds=(5, 6),
        seed=seed,
        batch_size=6,
        gpo=GPOConfig(iterations=4),
        epo=EPOConfig(population=6, keep=3, mutations=3, crossovers=3),
    )
    return optimize(backend, scorer, negative_space(), config, **kw)


@pytest.mark.parametrize("method", sorted(METHODS))
def test_same_seed_same_result_and_records_round_trip(tmp_path, method):
    first, second = small_run(method), small_run(method)
    assert dataclasses.replace(first, timings={}) == dataclasses.replace(second, timings={})
    assert len(first.candidates) + first.gradient_evaluations == 12 and first.holdout is not None
    assert first.gradient_evaluations == (2 if method in ("gpo", "hybrid") else 0)
    assert first.holdout.seeds == (5, 6) and len(first.holdout.original_losses) == 2
    path = tmp_path / "run.json"
    first.save(path)
    assert RunRecord.load(path) == first
    if method in ("gpo", "hybrid"):
        assert first.logits is not None and len(first.loss_curve) == 4


@pytest.mark.parametrize("how", ["return", "raise"])
def test_callback_stops_early_without_losing_evaluations(how):
    seen = []

    def callback(progress):
        seen.append(progress)
        if progress["phase"] != "gradient" and len(progress["record"].candidates) >= 3:
            if how == "raise":
                raise StopSearch("user cancelled")
            return False
        return True

    record = small_run("hybrid", callback=callback)
    assert record.stopped_early and record.holdout is None
    assert record.candidates == seen[-1]["record"].candidates and len(record.candidates) == 3
    assert [p["phase"] for p in seen[:4]] == ["gradient"] * 4
    last = seen[-1]
    assert last["best_text"] == record.best.text and last["image"].shape[:2] == (1, 3)
    # one batch: 3 choices x 2 seeds, after the gradient phase's charge of 2 evaluations
    assert last["iteration"] == 2 + 3 and last["total"] == 12


def test_attack_mode_maximises_the_distance():
    backend, scorer, space = TinyBackend(), TinyScorer(), positive_space()
    config = SearchConfig(method="random", evaluations=20, search_seeds=(0,), holdout_seeds=(1,))
    record = optimize(backend, scorer, space, config)
    assert all(c.mean < 0 for c in record.candidates)  # loss = -distance
    assert record.best.text in {space.render(c.choice) for c in record.candidates}
    with pytest.raises(ValueError, match="expected a method"):
        optimize(backend, scorer, space, dataclasses.replace(config, method="nope"))
    with torch.no_grad():
        assert record.holdout.original_mean < 0


@pytest.mark.parametrize("method", sorted(METHODS))
def test_every_method_starts_from_the_original_and_spends_its_budget(monkeypatch, method):
    """The original is every method's first candidate (counted in the budget); after a gradient
    phase the learned argmax is the second; each method evaluates exactly its budget of
    distinct candidates, the gradient phase's charge included."""
    backend, scorer, space = TinyBackend(), TinyScorer(), negative_space(sizes=(4, 4, 4))
    learned = ((0.0, 0.0, 2.0, 0.0), (0.0, 3.0, 0.0, 0.0), (1.0, 0.0, 0.0, 0.0))
    monkeypatch.setattr(
        search, "learn_distribution",
        lambda *args, **kwargs: GPOResult(logits=learned, loss_curve=(), cost=6.4),
    )  # fmt: skip
    config = SearchConfig(method=method, evaluations=30, search_seeds=(0,), holdout_seeds=())
    record = optimize(backend, scorer, space, config)
    first = record.candidates[0]
    assert first.choice == space.original_choice() and first.phase == "original"
    assert first.text == space.render(space.original_choice())
    charged = 6 if method in ("gpo", "hybrid") else 0
    assert record.gradient_evaluations == charged
    assert len(record.candidates) + charged == config.evaluations
    assert len({c.choice for c in record.candidates}) == len(record.candidates)
    if method in ("gpo", "hybrid"):
        assert record.candidates[1].choice == (2, 1, 0) and record.candidates[1].phase == "argmax"
    else:
        assert all(c.phase != "argmax" for c in record.candidates)
    small = negative_space(sizes=(2, 3))  # 6 choices: the whole space, once each
    learned_small = ((0.0, 1.0), (0.0, 0.0, 1.0))
    monkeypatch.setattr(
        search, "learn_distribution",
        lambda *args, **kwargs: GPOResult(logits=learned_small, loss_curve=(), cost=1.0),
    )  # fmt: skip
    record = optimize(backend, scorer, small, config)
    assert sorted(c.choice for c in record.candidates) == sorted(
        itertools.product(range(2), range(3))
    )


def test_a_given_distribution_brings_its_charge_and_old_records_load():
    backend, scorer, space = TinyBackend(), TinyScorer(), negative_space(sizes=(4, 4, 4))
    config = SearchConfig(method="hybrid", evaluations=20, search_seeds=(0,), holdout_seeds=())
    logits = ((0.0, 2.0, 0.0, 0.0),) * 3
    record = optimize(backend, scorer, space, config, logits=logits, gradient_evaluations=8)
    assert record.gradient_evaluations == 8 and len(record.candidates) == 12
    assert [c.phase for c in record.candidates[:2]] == ["original", "argmax"]
    data = json.loads(record.to_json())
    del data["config"]["evaluations"], data["gradient_evaluations"]
    data["config"]["generations"] = 2  # a record from before budgets were evaluations
    old = RunRecord.from_dict(data)
    assert old.config.evaluations == 2 * config.epo.population and old.gradient_evaluations == 0


def test_progress_carries_the_gradient_preview_and_the_held_out_images():
    """Typed progress: gradient iterations carry the image they scored; the final report
    carries the held-out images (original row, best row), the images the holdout losses
    came from, so a before/after grid need not render them again."""
    seen = []
    record = small_run("hybrid", callback=lambda progress: seen.append(progress))
    gradient = [p for p in seen if p["phase"] == "gradient"]
    assert len(gradient) == 4 and all(p["preview"].shape == (1, 3, 16, 16) for p in gradient)
    assert set(p["phase"] for p in seen) <= set(PHASES)
    done = seen[-1]
    assert done["phase"] == "done" and done["iteration"] == done["total"] == 12
    images = done["holdout_images"]
    assert images.shape == (2, 2, 3, 16, 16)
    space, config = record.space, record.config
    backend, scorer = TinyBackend(), TinyScorer()
    for row, choice in enumerate((space.original_choice(), record.best.choice)):
        texts = [space.render(choice)] * 2
        again = generate_images(backend, [space.prompt] * 2, texts, config.holdout_seeds)
        assert torch.allclose(images[row], again, atol=1e-6)
    target = scorer.embed_texts([space.prompt])
    losses = score_choices(backend, scorer, space, [record.best.choice], config.holdout_seeds, target)
    assert losses[0].tolist() == pytest.approx(list(record.holdout.best_losses))
