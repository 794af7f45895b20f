"""The spherical loss by hand, and the open_clip scorer on a tiny random model."""

import functools
import math

import pytest
import torch
from safetensors.torch import save_file

from dpo_core.losses import objective, spherical_distance
from dpo_core.scorers import SCORERS, OpenClipScorer, load_scorer
from model_builders.layouts import TINY_EVALUATOR as TINY_CLIP  # on the path via conftest


def test_spherical_distance_by_hand():
    x = torch.tensor([[1.0, 0.0], [3.0, 0.0], [0.0, 2.0], [1.0, 1.0]])
    y = torch.tensor([[0.0, 1.0], [-1.0, 0.0], [0.0, 5.0], [1.0, 0.0]])
    expected = [
        2 * math.asin(math.sqrt(2) / 2) ** 2,  # orthogonal: pi^2 / 8
        2 * math.asin(1.0) ** 2,  # opposite: pi^2 / 2
        0.0,  # same direction, other norm
        2 * math.asin(math.sqrt((1 - 1 / math.sqrt(2)) ** 2 + 0.5) / 2) ** 2,  # 45 degrees
    ]
    got = spherical_distance(x, y)
    assert torch.allclose(got, torch.tensor(expected), atol=1e-6)
    assert math.isclose(expected[3], 2 * (math.pi / 8) ** 2, rel_tol=1e-9)  # = 2 (theta/2)^2
    assert torch.allclose(objective(x, y, "negative"), got)
    assert torch.allclose(objective(x, y, "positive"), -got)
    with pytest.raises(ValueError, match="equal width"):
        spherical_distance(x, torch.ones(1, 3))


def tiny_scorer(seed: int, checkpoint=None) -> OpenClipScorer:
    if checkpoint is None:
        return random_tiny_scorer(seed)
    torch.manual_seed(seed)
    return OpenClipScorer.from_checkpoint("tiny", checkpoint, model_config=TINY_CLIP)


@functools.cache
def random_tiny_scorer(seed: int) -> OpenClipScorer:
    """Random weights seeded by ``seed`` (built once per test session)."""
    torch.manual_seed(seed)
    return OpenClipScorer.from_checkpoint("tiny", None, model_config=TINY_CLIP)


def test_open_clip_scorer_is_differentiable_in_the_image():
    scorer = tiny_scorer(0)
    images = torch.rand(2, 3, 48, 40, requires_grad=True)  # resized and cropped to 32x32
    assert scorer.preprocess(images).shape == (2, 3, 32, 32)
    texts = scorer.embed_texts(["a photo of a cat", "a dog"])
    loss = spherical_distance(scorer.embed_images(images), texts).sum()
    loss.backward()
    assert texts.shape == (2, 32) and images.grad is not None
    assert images.grad.abs().sum() > 0 and torch.isfinite(images.grad).all()


@pytest.mark.parametrize("kind", ["safetensors", "pt"])
def test_open_clip_scorer_loads_weights_it_saved(tmp_path, kind):
    source = tiny_scorer(0)
    state = {k: v.contiguous() for k, v in source.model.state_dict().items()}
    if kind == "safetensors":
        path = tmp_path / "tiny.safetensors"
        save_file(state, str(path))
    else:  # a training checkpoint: wrapped and with DataParallel prefixes, like HPSv2's
        path = tmp_path / "tiny.pt"
        torch.save({"state_dict": {f"module.{k}": v for k, v in state.items()}}, path)
    fresh = tiny_scorer(1)
    loaded = tiny_scorer(1, checkpoint=path)
    images = torch.rand(1, 3, 32, 32)
    with torch.no_grad():
        assert torch.allclose(loaded.embed_images(images), source.embed_images(images))
        assert not torch.allclose(fresh.embed_images(images), source.embed_images(images))
    assert torch.allclose(loaded.embed_texts(["red"]), source.embed_texts(["red"]))


def test_scorer_registry_and_errors(tmp_path):
    assert {"clip-vit-b-32", "hpsv2"} <= set(SCORERS)
    assert SCORERS["hpsv2"].architecture == "ViT-H-14"
    with pytest.raises(ValueError, match="expected a scorer kind"):
        load_scorer("nope", tmp_path / "x.pt")
    with pytest.raises(ValueError, match="expected a checkpoint file"):
        load_scorer("clip-vit-b-32", tmp_path / "missing.safetensors")
    save_file({"w": torch.zeros(1)}, str(tmp_path / "wrong.safetensors"))
    with pytest.raises(ValueError, match="missing"):
        OpenClipScorer.from_checkpoint(
            "tiny", tmp_path / "wrong.safetensors", model_config=TINY_CLIP
        )
