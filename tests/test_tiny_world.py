"""The tiny trained world: deterministic data with removable defects, a clean held-out split,
shipped weights that load as ComfyUI's SD15 objects through the loader node, judges that read
the world (the classifier's heads, the evaluator's hard negatives), and the measurement
helpers the quality report and the benchmark rely on."""

from __future__ import annotations

import random

import pytest
import torch

CLASSIFIER_MIN_EXACT = 0.9  # all stated attributes right, rendered held-out images
DEFECT_MIN_FOUND = 0.9  # defect heads on rendered images with one defect
EVALUATOR_MIN_SEPARATION = 0.8  # true caption above the caption with one attribute changed
VAE_MIN_PREVIEW_R2 = 0.9  # a 4x3 affine preview of the latent reproduces the pooled image


@pytest.fixture(scope="module")
def tiny_world(comfy):
    from dpo_diff.tiny_world.models import load_world

    return load_world()


def test_generator_is_deterministic_and_held_out_never_trained(comfy):
    from dpo_diff.tiny_world import world

    scenes = world.all_scenes()[:12]
    defects = [frozenset({"grainy"})] * 12
    assert torch.equal(world.render(scenes, 5), world.render(scenes, 5))
    assert not torch.equal(world.render(scenes, 5), world.render(scenes, 6))
    assert not torch.equal(world.render(scenes, 5), world.render(scenes, 5, defects))
    assert world.training_captions(3, 50) == world.training_captions(3, 50)

    train, held_out = world.split_scenes()
    assert len(held_out) >= 24 and not set(train) & set(held_out)
    assert set(train) | set(held_out) == set(world.all_scenes())
    triples = world.training_captions(0, 4000)
    assert not {scene for scene, _, _ in triples} & set(held_out)
    assert not {text for _, _, text in triples} & set(world.held_out_prompts())
    share = sum(bool(d) for _, d, _ in triples) / len(triples)
    assert 0.3 < share < 0.5  # 1 - 0.85^3 = 0.39 of the images carry a defect
    for name in world.ATTRIBUTES:  # every single value is still seen in training
        assert {getattr(s, name) for s in train} == set(world.ATTRIBUTE_VALUES[name])
    with pytest.raises(ValueError, match="unknown defects"):
        world.apply_defects(torch.zeros(3, 64, 64), {"scratches"}, random.Random(0))


def test_captions_parse_back_to_their_scene_and_defects(comfy):
    from dpo_diff.tiny_world import world

    rng = random.Random(0)
    for scene in world.all_scenes():
        truth = {name: getattr(scene, name) for name in world.ATTRIBUTES}
        assert world.parse_caption(world.caption(scene)) == truth
        defects = world.draw_defects(rng)
        text = world.training_caption(scene, defects, rng)
        assert all(truth[k] == v for k, v in world.parse_caption(text).items()), text
        assert world.named_defects(text) <= defects, text
    assert world.named_defects("a red circle, out of focus, logo") == {"blurry", "watermark"}
    assert world.named_defects("a red circle on a white background") == frozenset()


def test_partial_captions_state_only_what_is_true(comfy):
    from dpo_diff.tiny_world import world

    rng = random.Random(0)
    for scene in world.all_scenes():
        truth = {name: getattr(scene, name) for name in world.ATTRIBUTES}
        defects = world.draw_defects(rng)
        for _ in range(3):
            text = world.partial_caption(scene, rng, defects)
            assert text
            assert all(truth[k] == v for k, v in world.parse_caption(text).items()), text
            assert world.named_defects(text) <= defects, text
        contrast = world.parse_caption(world.contrast_negative(scene))
        assert contrast and all(truth[k] != v for k, v in contrast.items())
    grainy = [world.partial_caption(world.all_scenes()[0], rng, {"grainy"}) for _ in range(200)]
    assert sum("grainy" in world.named_defects(t) for t in grainy) > 150  # named most times


def test_shipped_weights_load_as_comfy_sd15_objects(tiny_world):
    import comfy.sd

    from dpo_core.protocols import ImageTextScorer

    assert type(tiny_world.model.model.model_config).__name__ == "SD15"
    assert isinstance(tiny_world.clip, comfy.sd.CLIP)
    assert isinstance(tiny_world.vae, comfy.sd.VAE) and tiny_world.vae.latent_channels == 4
    assert isinstance(tiny_world.evaluator, ImageTextScorer)
    cond = tiny_world.clip.encode_from_tokens(tiny_world.clip.tokenize("a red circle"))
    assert cond.shape == (1, 77, tiny_world.model.model.model_config.unet_config["context_dim"])


def test_shipped_weights_fit_the_size_limit():
    from dpo_diff.tiny_world.models import FILES, SHIPPED_WEIGHTS_DIR

    total = sum((SHIPPED_WEIGHTS_DIR / name).stat().st_size for name in FILES.values())
    assert total <= 50 * 2**20


def test_pack_model_check_accepts_the_world(tiny_world):
    from dpo_diff.nodes.model_checks import check_sd1

    check_sd1(tiny_world.model, tiny_world.clip, tiny_world.vae)


def test_loader_node_outputs_the_world(comfy):
    from dpo_diff.nodes.tiny_world_loader import DPOTinyWorldLoader

    schema = DPOTinyWorldLoader.define_schema()
    assert schema.node_id == "DPOTinyWorldLoader"
    assert all(output.tooltip for output in schema.outputs)
    model, clip, vae, evaluator = DPOTinyWorldLoader.execute().result
    assert type(model.model.model_config).__name__ == "SD15"
    assert model.model.model_config.unet_config["context_dim"] == 128
    tokens = clip.tokenize("a small red circle on the left on a white background")
    assert clip.encode_from_tokens(tokens).shape == (1, 77, 128)
    latent = vae.encode(torch.full((1, 64, 64, 3), 0.5))
    assert latent.shape == (1, 4, 8, 8)
    assert evaluator.embed_texts(["a red circle"]).shape[-1] == 64


def test_backend_sampling_makes_finite_images_that_the_judge_scores(tiny_world):
    from dpo_diff.tiny_world.measure import Judge, make_backend

    backend = make_backend(tiny_world, steps=3)
    judge = Judge(tiny_world, backend, batch_size=2)
    prompt = "a big red circle on the left on a white background"
    images = judge.images([(prompt, "", 0), (prompt, "blurry", 0)])
    assert images.shape == (2, 3, 64, 64)
    assert torch.isfinite(images).all() and images.min() >= 0 and images.max() <= 1
    verdicts = judge([(prompt, "", 0), (prompt, "", 0), (prompt, "blurry", 0)])
    assert judge.rendered == 2  # one image per distinct (prompt, negative, seed)
    assert set(verdicts[0].labels) >= {"colour", "shape", "blurry", "watermark"}
    assert verdicts[0].loss > 0 and 0.0 <= verdicts[0].confidence <= 1.0


def _rendered_held_out(copies: int = 2, defects=None):
    from dpo_diff.tiny_world import world

    scenes = world.split_scenes()[1] * copies
    chosen = None if defects is None else [defects[i % len(defects)] for i in range(len(scenes))]
    return scenes, world.render(scenes, seed=123, defects=chosen), chosen


def test_attribute_classifier_reads_rendered_held_out_images(tiny_world):
    from dpo_diff.tiny_world import world
    from dpo_diff.tiny_world.judges import faithfulness

    scenes, images, _ = _rendered_held_out()
    result = faithfulness(tiny_world.classifier, images, [world.caption(s) for s in scenes])
    assert result.exact >= CLASSIFIER_MIN_EXACT, result.per_attribute


def test_attribute_classifier_finds_defects_and_counts_them_as_errors(tiny_world):
    from dpo_diff.tiny_world import world
    from dpo_diff.tiny_world.judges import faithfulness

    each = [frozenset({d}) for d in world.DEFECTS]
    scenes, images, defects = _rendered_held_out(defects=each)
    plain = faithfulness(tiny_world.classifier, images, [world.caption(s) for s in scenes])
    found = [p[next(iter(d))] == "present" for p, d in zip(plain.predictions, defects)]
    assert sum(found) / len(found) >= DEFECT_MIN_FOUND
    assert plain.exact <= 1 - DEFECT_MIN_FOUND  # an unwanted defect makes the image wrong
    named = [world.caption(s, defects=d) for s, d in zip(scenes, defects)]
    assert faithfulness(tiny_world.classifier, images, named).exact >= CLASSIFIER_MIN_EXACT - 0.1


# The shipped evaluator (2400 steps, the last 1600 with rendered twins) separates position
# (1.00) and defective from clean images, but shape only about 0.7 of the time on rendered
# held-out scenes: tiny_world/QUALITY.md. Strict: the mark must go when it does.
UNDER_TRAINED = pytest.mark.xfail(strict=True, reason="evaluator under-trained (QUALITY.md)")


@pytest.mark.parametrize(
    "attribute",
    [
        "colour",
        pytest.param("shape", marks=UNDER_TRAINED),
        "size",
        "count",
        "position",
        "background",
        "blurry",
        "grainy",
        "watermark",
    ],
)
def test_evaluator_prefers_the_true_caption_to_one_changed(tiny_world, attribute):
    from dpo_diff.tiny_world.judges import evaluator_ranking

    scenes, images, _ = _rendered_held_out(copies=1)
    ranking = evaluator_ranking(tiny_world.evaluator, images, scenes, attribute)
    assert ranking >= EVALUATOR_MIN_SEPARATION


def test_vae_latent_is_close_to_linear_in_colour(tiny_world):
    from dpo_diff.tiny_world.train_vae import encode_moments, linear_preview_r2

    _, images, _ = _rendered_held_out(copies=1)
    with torch.no_grad():
        mean, _ = encode_moments(tiny_world.vae.first_stage_model.float(), images)
    assert linear_preview_r2(mean, images) >= VAE_MIN_PREVIEW_R2


def test_verdicts_count_unwanted_defects_and_statistics_are_right(comfy):
    from dpo_diff.tiny_world.measure import Verdict, mean_ci, select_prompts, spearman

    labels = {"colour": "red", "shape": "circle", "size": "small", "count": "one",
              "position": "left", "background": "white", "blurry": "absent",
              "grainy": "absent", "watermark": "absent"}  # fmt: skip
    prompt = "a small red circle on the left on a white background"
    right = Verdict(prompt, "", 0, labels, 0.9, 0.5)
    assert right.exact and right.accuracy == 1.0
    grainy = Verdict(prompt, "", 0, {**labels, "grainy": "present"}, 0.9, 0.5)
    assert not grainy.exact and grainy.unwanted == {"grainy"} and grainy.accuracy == 6 / 7
    asked = Verdict(prompt + ", grainy", "", 0, {**labels, "grainy": "present"}, 0.9, 0.5)
    assert asked.exact
    big = Verdict(prompt, "", 0, {**labels, "size": "big"}, 0.9, 0.5)
    assert big.wrong_attributes == {"size": "big"} and not big.exact

    ci = mean_ci([1.0, 2.0, 3.0, 4.0])
    assert ci["mean"] == 2.5 and ci["ci_low"] < 2.5 < ci["ci_high"]
    assert abs((ci["ci_high"] - ci["mean"]) - 3.182 * (5 / 3) ** 0.5 / 2) < 1e-9
    assert spearman([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)
    assert spearman([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    assert select_prompts(list("abcdefgh"), 4) == list("aceg")
    assert select_prompts(list("abcdefgh"), 4, offset=1) == list("bdfh")


def test_stop_at_cuts_a_run_without_changing_its_schedule(comfy):
    from dpo_diff.tiny_world.training import cosine_lr, last_step

    assert last_step(4000, None) == 4000
    assert last_step(4000, 1750) == 1750
    assert last_step(100, 500) == 100  # never past the schedule's end
    # the learning rate at a step depends on --max-steps only, so a cut run resumes exactly
    assert cosine_lr(1749, 4000, 1e-3, warmup=200) < cosine_lr(1749, 7000, 1e-3, warmup=200)


def test_evaluator_twins_differ_in_one_way_and_stay_in_training(comfy):
    from dpo_diff.tiny_world import world
    from dpo_diff.tiny_world.judges import twin_scene

    training = set(world.split_scenes()[0])
    rng = random.Random(3)
    toggled = changed = 0
    for scene in sorted(training, key=str)[::7]:
        for defects in (frozenset(), frozenset({"grainy"})):
            twin, twin_defects = twin_scene(scene, defects, training, rng)
            assert twin in training  # the evaluator never sees a held-out combination
            differing = [a for a in world.ATTRIBUTES if getattr(twin, a) != getattr(scene, a)]
            if twin_defects != defects:
                toggled += 1
                assert not differing and bool(twin_defects) != bool(defects)
            else:
                changed += 1
                assert len(differing) == 1
    assert toggled and changed  # both kinds of twin occur
