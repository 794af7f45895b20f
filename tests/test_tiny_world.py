"""The tiny trained world: deterministic data, a clean held-out split, shipped weights that load
as ComfyUI's SD15 objects, and judges that read the world correctly."""

from __future__ import annotations

import random

import pytest
import torch

CLASSIFIER_MIN_EXACT = 0.9  # all stated attributes right, rendered held-out images
EVALUATOR_MIN_RANKING = 0.8  # true caption above a wrong-colour caption


@pytest.fixture(scope="module")
def tiny_world(comfy):
    from dpo_diff.tiny_world.models import load_world

    return load_world()


def test_generator_is_deterministic_and_held_out_never_trained(comfy):
    from dpo_diff.tiny_world import world

    scenes = world.all_scenes()[:12]
    assert torch.equal(world.render(scenes, 5), world.render(scenes, 5))
    assert not torch.equal(world.render(scenes, 5), world.render(scenes, 6))
    assert world.training_captions(3, 50) == world.training_captions(3, 50)

    train, held_out = world.split_scenes()
    assert held_out and not set(train) & set(held_out)
    assert set(train) | set(held_out) == set(world.all_scenes())
    pairs = world.training_captions(0, 4000)
    assert not {scene for scene, _ in pairs} & set(held_out)
    assert not {text for _, text in pairs} & set(world.held_out_prompts())
    for name in world.ATTRIBUTES:  # every single value is still seen in training
        assert {getattr(s, name) for s in train} == set(world.ATTRIBUTE_VALUES[name])


def test_captions_parse_back_to_their_scene(comfy):
    from dpo_diff.tiny_world import world

    rng = random.Random(0)
    for scene in world.all_scenes():
        stated = world.parse_caption(world.caption(scene))
        assert stated == {name: getattr(scene, name) for name in world.ATTRIBUTES}
        varied = world.parse_caption(world.caption(scene, rng, drop_probability=0.5))
        assert all(getattr(scene, k) == v for k, v in varied.items())


def test_partial_captions_state_only_true_attributes_and_contrasts_only_false_ones(comfy):
    from dpo_diff.tiny_world import world

    rng = random.Random(0)
    for scene in world.all_scenes():
        truth = {name: getattr(scene, name) for name in world.ATTRIBUTES}
        for _ in range(3):
            text = world.partial_caption(scene, rng)
            stated = world.parse_caption(text)
            assert stated or text == "side by side"  # the one phrase the parser does not read
            assert all(truth[k] == v for k, v in stated.items()), text
            assert 1 <= text.count(",") + 1 <= 5
        contrast = world.parse_caption(world.contrast_negative(scene))
        assert contrast and all(truth[k] != v for k, v in contrast.items())
    assert world.partial_caption(world.all_scenes()[0], random.Random(1)) == (
        world.partial_caption(world.all_scenes()[0], random.Random(1))
    )


def test_shipped_weights_load_as_comfy_sd15_objects(tiny_world):
    import comfy.sd

    from dpo_core.protocols import ImageTextScorer

    assert type(tiny_world.model.model.model_config).__name__ == "SD15"
    assert isinstance(tiny_world.clip, comfy.sd.CLIP)
    assert isinstance(tiny_world.vae, comfy.sd.VAE) and tiny_world.vae.latent_channels == 4
    assert isinstance(tiny_world.evaluator, ImageTextScorer)
    cond = tiny_world.clip.encode_from_tokens(tiny_world.clip.tokenize("a red circle"))
    assert cond.shape == (1, 77, tiny_world.model.model.model_config.unet_config["context_dim"])


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
    assert hasattr(evaluator, "embed_images") and hasattr(clip, "tokenize") and vae is not None


def test_short_ksampler_run_makes_finite_images(tiny_world):
    from dpo_diff.tiny_world.sampling import SamplingSettings, generate

    settings = SamplingSettings(steps=4, images_per_prompt=2)
    images = generate(
        tiny_world.model, tiny_world.clip, tiny_world.vae, ["a big red circle"], settings=settings
    )
    assert images.shape == (2, 3, 64, 64)
    assert torch.isfinite(images).all() and images.min() >= 0 and images.max() <= 1


def _rendered_held_out(copies: int = 2):
    from dpo_diff.tiny_world import world

    scenes = world.split_scenes()[1] * copies
    return scenes, world.render(scenes, seed=123)


def test_attribute_classifier_reads_rendered_held_out_images(tiny_world):
    from dpo_diff.tiny_world import world
    from dpo_diff.tiny_world.judges import faithfulness

    scenes, images = _rendered_held_out()
    result = faithfulness(tiny_world.classifier, images, [world.caption(s) for s in scenes])
    assert result.exact >= CLASSIFIER_MIN_EXACT, result.per_attribute


def test_evaluator_prefers_the_true_caption_to_a_wrong_colour(tiny_world):
    from dpo_diff.tiny_world.judges import evaluator_ranking

    scenes, images = _rendered_held_out(copies=1)
    ranking = evaluator_ranking(tiny_world.evaluator, images, scenes, "colour")
    assert ranking >= EVALUATOR_MIN_RANKING
