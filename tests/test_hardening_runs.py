"""A run ended by an exception (ComfyUI's Cancel raises inside the sampler) leaves a record
marked stopped_early, and the Load Run Record report says it was cancelled (item 9); in attack
mode the gradient node learns with the same fixed negative prompt as the search (item 10)."""

from __future__ import annotations

import pytest

from dpo_core.config import SearchConfig
from dpo_core.record import RunRecord
from dpo_core.search import optimize
from dpo_core.space import SearchSpace, Slot
from tests.tiny_backend import TinyBackend, TinyScorer, negative_space


class Cancelled(Exception):
    """What ComfyUI's interrupt check raises, in these tests."""


class CancelledBackend(TinyBackend):
    """The tiny backend, cancelled during its ``after + 1``-th sampling call."""

    def __init__(self, after: int) -> None:
        super().__init__()
        self.after, self.calls = after, 0

    def sample(self, *args, **kwargs):
        self.calls += 1
        if self.calls > self.after:
            raise Cancelled()
        return super().sample(*args, **kwargs)


def _run_until_cancelled(after: int, **config) -> list[RunRecord]:
    seen: list[RunRecord] = []
    settings = SearchConfig(**{"method": "random", "evaluations": 6, "batch_size": 1,
                               "search_seeds": (0,), "holdout_seeds": (1, 2), **config})  # fmt: skip
    with pytest.raises(Cancelled):  # the exception goes on: ComfyUI must see the Cancel
        optimize(CancelledBackend(after), TinyScorer(), negative_space(), settings,
                 callback=lambda progress: seen.append(progress["record"]))  # fmt: skip
    return seen


def test_a_cancelled_search_hands_on_a_record_marked_stopped_early():
    records = _run_until_cancelled(after=3)
    last = records[-1]
    # before: the last record said stopped_early=False, as if the run had finished
    assert last.stopped_early and len(last.candidates) == 3
    assert not any(r.stopped_early for r in records[:-1])
    assert RunRecord.from_json(last.to_json()) == last


def test_a_cancel_during_the_held_out_scoring_is_marked_too():
    records = _run_until_cancelled(after=6)  # six search evaluations, then the held-out seeds
    assert records[-1].stopped_early and len(records[-1].candidates) == 6
    assert records[-1].holdout is None


def test_the_load_run_record_report_says_the_run_was_cancelled(comfy):
    from dpo_diff.nodes.run_report import report

    record = _run_until_cancelled(after=3)[-1]
    text = report(record)
    assert "cancelled" in text and "3 candidates" in text
    finished = RunRecord.from_json(record.to_json().replace('"stopped_early": true', '"stopped_early": false'))
    assert "cancelled" not in report(finished)


def test_the_gradient_node_takes_the_fixed_negative_in_attack_mode(tiny_sd1, tiny_evaluator,
                                                                   tmp_path):  # fmt: skip
    import folder_paths
    from dpo_diff.nodes.gradient_node import ShortcutGradientOptimizer

    model, clip, vae = tiny_sd1
    pieces = ("a ", "red", " cat on a mat")
    space = SearchSpace(prompt="a red cat on a mat", mode="positive", pieces=pieces,
                        slots=(Slot("red", ("red", "green", "blue"), piece=1),))  # fmt: skip
    before = folder_paths.get_output_directory()
    folder_paths.set_output_directory(str(tmp_path))
    try:
        out = ShortcutGradientOptimizer.execute(
            model, clip, vae, tiny_evaluator, space, seed=3, steps=4, cfg=5.0,
            sampler_name="euler", scheduler="normal", width=32, height=32, search_seeds=1,
            iterations=1, grad_steps=1, step_start=0.3, step_end=0.5, learning_rate=0.1,
            temperature=1.0, negative_prompt="blurry, lowres",
        )  # fmt: skip
    finally:
        folder_paths.set_output_directory(before)
    assert out.result[0].space == space
    learned = RunRecord.load(sorted((tmp_path / "dpo_diff").glob("gradient_*.json"))[-1])
    assert learned.config.negative_prompt == "blurry, lowres"  # before: no such input, ""
