"""The optimizer nodes in-process on ComfyUI's own tiny models: outputs, records, refusals."""

from __future__ import annotations

import pytest
import torch

from dpo_core.distribution import LearnedDistribution
from dpo_core.record import RunRecord
from dpo_core.space import SearchSpace, Slot

SAMPLING = dict(
    seed=3, steps=6, cfg=5.0, sampler_name="euler", scheduler="normal", width=32, height=32,
    search_seeds=1,
)  # fmt: skip


def _space() -> SearchSpace:
    return SearchSpace(
        prompt="a red cat on a mat",
        mode="negative",
        slots=(Slot("red", ("", "green", "blue")), Slot("cat", ("", "dog", "horse"))),
    )


def _gradient_record(output_dir) -> RunRecord:
    """The newest gradient run's record (the loss curve stays there, not in the distribution)."""
    return RunRecord.load(sorted((output_dir / "dpo_diff").glob("gradient_*.json"))[-1])


def _nodes():
    from dpo_diff.nodes.gradient_node import ShortcutGradientOptimizer
    from dpo_diff.nodes.search_node import EvolutionarySearch

    return ShortcutGradientOptimizer, EvolutionarySearch


def test_gradient_then_evolution_nodes(tiny_sd1, tiny_evaluator, output_dir):
    gradient_node, evolution_node = _nodes()
    model, clip, vae = tiny_sd1
    space = _space()
    learned = gradient_node.execute(
        model, clip, vae, tiny_evaluator, space, **SAMPLING, iterations=4, grad_steps=1,
        step_start=0.3, step_end=0.5, learning_rate=0.1, temperature=1.0,
    )  # fmt: skip
    distribution, curve = learned.result
    assert isinstance(distribution, LearnedDistribution) and distribution.space == space
    assert distribution.logits != ((1.0, 0.0, 0.0), (1.0, 0.0, 0.0))  # the logits moved
    assert all(abs(sum(row) - 1.0) < 1e-9 for row in distribution.probabilities)
    assert curve.shape == (1, 256, 512, 3)
    gradient = _gradient_record(output_dir)
    assert len(gradient.loss_curve) == 4 and gradient.logits == distribution.logits
    assert distribution.gradient_evaluations == gradient.gradient_evaluations

    out = evolution_node.execute(
        model, clip, vae, tiny_evaluator, space, **SAMPLING, evaluations=8, population=4,
        holdout_seeds=2, batch_size=4, distribution=distribution,
    )  # fmt: skip
    conditioning, prompt, comparison, report = out.result
    record = RunRecord.load(sorted((output_dir / "dpo_diff").glob("search_*.json"))[-1])
    assert record.method == "hybrid" and record.gradient_evaluations == 2  # 4 iterations
    assert len(record.candidates) + record.gradient_evaluations == 8
    assert record.candidates[0].phase == "original"
    assert prompt == record.best.text
    assert conditioning[0][0].shape == (1, 77, 64)
    reference = clip.encode_from_tokens_scheduled(clip.tokenize(prompt))
    assert torch.equal(conditioning[0][0], reference[0][0])
    assert comparison.shape == (1, 64, 64, 3)  # 2 rows (original, best) x 2 held-out seeds
    assert "held-out seeds" in report and record.holdout is not None


def test_identical_inputs_give_identical_outputs(tiny_sd1, tiny_evaluator, output_dir):
    _, evolution_node = _nodes()
    model, clip, vae = tiny_sd1
    kwargs = dict(evaluations=4, population=4, holdout_seeds=0, batch_size=4)
    first = evolution_node.execute(model, clip, vae, tiny_evaluator, _space(), **SAMPLING, **kwargs)
    second = evolution_node.execute(
        model, clip, vae, tiny_evaluator, _space(), **SAMPLING, **kwargs
    )
    assert first.result[1] == second.result[1]
    assert torch.equal(first.result[2], second.result[2])
    records = sorted((output_dir / "dpo_diff").glob("search_*.json"))
    a, b = (RunRecord.load(p) for p in records[-2:])
    assert a.candidates == b.candidates


def test_refusals_name_the_problem(tiny_sd1, tiny_evaluator, output_dir):
    import comfy.model_patcher
    import comfy.supported_models
    from dpo_diff.model_builders.sd1 import SD15_UNET_CONFIG

    gradient_node, evolution_node = _nodes()
    model, clip, vae = tiny_sd1
    grad_args = dict(
        iterations=1, grad_steps=1, step_start=0.3, step_end=0.5, learning_rate=0.1, temperature=1.0
    )

    with pytest.raises(ValueError, match="cfg is 1.0"):
        gradient_node.execute(
            model, clip, vae, tiny_evaluator, _space(), **{**SAMPLING, "cfg": 1.0}, **grad_args
        )

    empty = SearchSpace(prompt="a cat", mode="negative", slots=(Slot("cat", ("",)),))
    with pytest.raises(ValueError, match="no candidate words"):
        evolution_node.execute(model, clip, vae, tiny_evaluator, empty, **SAMPLING, evaluations=2,
                               population=2, holdout_seeds=0, batch_size=2)  # fmt: skip

    # an SD2.x model (another text encoder, other latent statistics) is refused by name
    unet = {**SD15_UNET_CONFIG, "model_channels": 32, "num_res_blocks": [1], "channel_mult": [1],
            "transformer_depth": [1], "transformer_depth_output": [1, 1], "context_dim": 64,
            "num_heads": 2, "use_linear_in_transformer": True}  # fmt: skip
    sd2 = comfy.supported_models.SD20(unet)
    sd2_model = comfy.model_patcher.ModelPatcher(sd2.get_model({}), "cpu", "cpu")
    with pytest.raises(ValueError, match="SD2"):
        gradient_node.execute(
            sd2_model, clip, vae, tiny_evaluator, _space(), **SAMPLING, **grad_args
        )


def test_evaluator_loader_names_the_folder_when_empty(comfy, tmp_path, tiny_evaluator_file):
    import folder_paths
    from dpo_diff.nodes.evaluator_loader import FOLDER, EvaluatorLoader

    from dpo_core.scorers import EMBEDDED_KIND

    saved = folder_paths.folder_names_and_paths[FOLDER]
    try:
        folder_paths.folder_names_and_paths[FOLDER] = ([str(tmp_path)], saved[1])
        message = EvaluatorLoader.validate_inputs("missing.safetensors")
        assert isinstance(message, str) and str(tmp_path) in message and "CLIP" in message
        (tmp_path / tiny_evaluator_file.name).symlink_to(tiny_evaluator_file)
        folder_paths.filename_list_cache.pop(FOLDER, None)
        assert EvaluatorLoader.validate_inputs(tiny_evaluator_file.name) is True
        (evaluator,) = EvaluatorLoader.execute(EMBEDDED_KIND, tiny_evaluator_file.name).result
        assert evaluator.embed_texts(["a cat"]).shape == (1, 32)
    finally:
        folder_paths.folder_names_and_paths[FOLDER] = saved
        folder_paths.filename_list_cache.pop(FOLDER, None)


def test_evaluator_loaded_during_a_prompt_still_gives_gradients(
    tiny_sd1, tiny_evaluator_file, output_dir
):
    """ComfyUI loads everything under inference mode; the optimizer must still backpropagate
    through an evaluator made there (as the loader nodes make it)."""
    from dpo_core.scorers import EMBEDDED_KIND, load_evaluator

    gradient_node, _ = _nodes()
    model, clip, vae = tiny_sd1
    with torch.inference_mode():
        evaluator = load_evaluator(EMBEDDED_KIND, tiny_evaluator_file)
        assert next(evaluator.parameters()).is_inference()
        out = gradient_node.execute(
            model, clip, vae, evaluator, _space(), **SAMPLING, iterations=2, grad_steps=1,
            step_start=0.3, step_end=0.5, learning_rate=0.1, temperature=1.0,
        )  # fmt: skip
    assert isinstance(out.result[0], LearnedDistribution)
    assert len(_gradient_record(output_dir).loss_curve) == 2


def test_a_long_prompt_runs_through_both_nodes(tiny_sd1, tiny_evaluator, output_dir):
    """A 120-token prompt is two CLIP windows: the gradient optimizer and the evolutionary
    search run on it (the shorter negative conditioning is repeated to the prompt's length, as
    ComfyUI batches conds) and the output conditioning is CLIPTextEncode's."""
    gradient_node, evolution_node = _nodes()
    model, clip, vae = tiny_sd1
    words = "a red cat on a soft mat in a sunny garden with tall green trees and white flowers,"
    prompt = " ".join([words] * 6)
    assert len(clip.tokenize(prompt)["l"]) == 2
    space = SearchSpace(prompt=prompt, mode="negative", slots=_space().slots)
    learned = gradient_node.execute(
        model, clip, vae, tiny_evaluator, space, **SAMPLING, iterations=2, grad_steps=1,
        step_start=0.3, step_end=0.5, learning_rate=0.1, temperature=1.0,
    )  # fmt: skip
    distribution = learned.result[0]
    curve = _gradient_record(output_dir).loss_curve
    assert len(curve) == 2 and all(v == v for v in curve)  # finite, not NaN
    out = evolution_node.execute(
        model, clip, vae, tiny_evaluator, space, **SAMPLING, evaluations=4, population=4,
        holdout_seeds=1, batch_size=4, distribution=distribution,
    )  # fmt: skip
    conditioning, best, _, _ = out.result
    reference = clip.encode_from_tokens_scheduled(clip.tokenize(best))
    assert torch.equal(conditioning[0][0], reference[0][0])


def test_attack_report_shows_distances_with_one_sign(comfy):
    """Attack mode records signed losses (loss = -distance); the report shows distances, and
    the best one is the larger."""
    import re

    from dpo_diff.nodes.run_report import report

    from dpo_core.config import SearchConfig
    from dpo_core.search import optimize
    from tests.tiny_backend import TinyBackend, TinyScorer, positive_space

    config = SearchConfig(method="random", evaluations=12, search_seeds=(0,), holdout_seeds=(1,))
    record = optimize(TinyBackend(), TinyScorer(), positive_space(), config)
    assert record.best.mean < 0 and record.candidates[0].mean < 0
    text = report(record)
    assert "higher is the goal" in text and "loss is the goal" not in text
    found = re.search(r"search seeds: original ([-\d.]+) -> best ([-\d.]+)", text)
    assert found is not None, text
    original, best = (float(v) for v in found.groups())
    assert 0 < original <= best
    assert original == pytest.approx(-record.candidates[0].mean, abs=1e-4)
    assert "budget 12" in text
