"""What the optimizer nodes show while they run, in-process on ComfyUI's own tiny models: a bar
and a preview in every phase (the gradient phase's preview is the image its iteration scored),
the before/after grid made from the held-out images the run already generated, and Load Run
Record offering only the records it can load."""

from __future__ import annotations

import json

import pytest
import torch

from dpo_core.space import SearchSpace, Slot

SAMPLING = dict(
    seed=5, steps=6, cfg=5.0, sampler_name="euler", scheduler="normal", width=32, height=32,
    search_seeds=1,
)  # fmt: skip


@pytest.fixture()
def progress_events(comfy):
    """Every ComfyUI progress-bar update as (value, total, has preview, node id)."""
    import comfy.utils

    events: list[tuple[int, int, bool, str | None]] = []
    before = comfy.utils.PROGRESS_BAR_HOOK

    def hook(value, total, preview, node_id=None):
        events.append((value, total, preview is not None, node_id))

    comfy.utils.set_progress_bar_global_hook(hook)
    yield events
    comfy.utils.set_progress_bar_global_hook(before)


def _space() -> SearchSpace:
    return SearchSpace(
        prompt="a red cat on a mat",
        mode="negative",
        slots=(Slot("red", ("", "blue", "green")), Slot("cat", ("", "dog", "bird"))),
    )


def test_gradient_phase_previews_the_image_each_iteration_scored(
    tiny_sd1, tiny_evaluator, output_dir, progress_events, monkeypatch
):
    from dpo_diff.nodes import progress as progress_module
    from dpo_diff.nodes.gradient_node import ShortcutGradientOptimizer

    shown: list[torch.Tensor] = []
    to_pil = progress_module.tensor_to_pil
    monkeypatch.setattr(progress_module, "tensor_to_pil", lambda t: shown.append(t) or to_pil(t))
    model, clip, vae = tiny_sd1
    ShortcutGradientOptimizer.execute(
        model, clip, vae, tiny_evaluator, _space(), **SAMPLING, iterations=3, grad_steps=1,
        step_start=0.3, step_end=0.5, learning_rate=0.1, temperature=1.0,
    )  # fmt: skip
    gradient = [e for e in progress_events if e[1] == 3]
    assert [e[0] for e in gradient] == [1, 2, 3]
    assert all(has_preview for _, _, has_preview, _ in gradient)
    assert len(shown) >= 3 and all(t.shape[-2:] == (32, 32) for t in shown[:3])
    # Each iteration's own x0 estimate, not one image repeated.
    assert not torch.equal(shown[0], shown[2])


def test_search_shows_every_phase_and_renders_held_out_images_once(
    tiny_sd1, tiny_evaluator, output_dir, progress_events, monkeypatch
):
    from dpo_diff.nodes import progress as progress_module
    from dpo_diff.nodes import run_report
    from dpo_diff.nodes.search_node import EvolutionarySearch

    phases: list[list[str]] = []
    original_init = progress_module.NodeProgress.__init__

    def remember(self, *args, **kwargs):
        original_init(self, *args, **kwargs)
        phases.append(self.phases)

    monkeypatch.setattr(progress_module.NodeProgress, "__init__", remember)
    generated = []
    generate = run_report.generate_images
    monkeypatch.setattr(
        run_report, "generate_images", lambda *a, **k: generated.append(a) or generate(*a, **k)
    )
    model, clip, vae = tiny_sd1
    out = EvolutionarySearch.execute(
        model, clip, vae, tiny_evaluator, _space(), **SAMPLING, evaluations=4, population=2,
        holdout_seeds=3, batch_size=4,
    )  # fmt: skip
    _, _, comparison, report = out.result
    assert comparison.shape == (1, 64, 96, 3)  # original and best rows x 3 held-out seeds
    assert not generated, "the grid generated the held-out images a second time"
    assert "held-out seeds" in report
    assert phases and "holdout" in phases[0] and phases[0][-1] == "done", phases
    # evaluations (of 4), then held-out scoring (the best and the original, or the original
    # alone, x 3 seeds) to its end, then done
    *_, holdout, done = progress_events
    assert holdout[1] in (3, 6) and holdout[0] == holdout[1], progress_events
    assert done[:2] == (4, 4), progress_events


def test_the_grid_from_kept_images_equals_a_fresh_rendering(
    tiny_sd1, tiny_evaluator, output_dir, monkeypatch
):
    """The kept held-out images are the images a second rendering would give."""
    from dpo_diff.nodes import run_report
    from dpo_diff.nodes.search_node import EvolutionarySearch
    from dpo_diff.nodes.shared_inputs import make_backend

    from dpo_core.record import RunRecord

    model, clip, vae = tiny_sd1
    out = EvolutionarySearch.execute(
        model, clip, vae, tiny_evaluator, _space(), **SAMPLING, evaluations=4, population=2,
        holdout_seeds=2, batch_size=4,
    )  # fmt: skip
    record = RunRecord.load(sorted((output_dir / "dpo_diff").glob("search_*.json"))[-1])
    settings = [SAMPLING[k] for k in ("steps", "cfg", "sampler_name", "scheduler", "width", "height")]
    backend = make_backend(model, clip, vae, *settings)
    fresh = run_report.comparison_grid(backend, record, 4)
    assert torch.allclose(out.result[2], fresh, atol=2e-3)


def test_load_run_record_offers_only_search_records(comfy, output_dir):
    from dpo_diff.nodes.record_node import LoadRunRecord

    folder = output_dir / "dpo_diff"
    folder.mkdir()
    for name in ("gradient_00001.json", "search_00001.json", "search_00002.json"):
        (folder / name).write_text(json.dumps({}))
    options = next(i for i in LoadRunRecord.define_schema().inputs if i.id == "record").options
    assert options == ["search_00002.json", "search_00001.json"]
