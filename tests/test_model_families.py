"""SD 1.x, SD 2.x and SDXL through ComfyUI's own classes: family detection, and every text
encoder walked from token-embedding rows exactly as CLIPTextEncode encodes text."""

from __future__ import annotations

import pytest
import torch

from model_builders.family_layouts import (
    SMALL_SD2_TEXT,
    SMALL_SD2_UNET,
    SMALL_SDXL_TEXT,
    SMALL_UNET,
)
from model_builders.layouts import TINY_TEXT, TINY_UNET, TINY_VAE

TEXTS = ["a red cat", "", "a golden retriever sitting on a mat, blurry, ugly"]


@pytest.fixture(scope="module")
def family_models(comfy):
    """(MODEL, CLIP, VAE) per family, small, seeded, built with ComfyUI's classes."""
    from dpo_diff.model_builders.sd1 import build_sd1_clip, build_sd1_model, build_sd1_vae
    from dpo_diff.model_builders.sd2 import build_sd2_clip, build_sd2_model
    from dpo_diff.model_builders.sdxl import build_sdxl_clip, build_sdxl_model

    vae = build_sd1_vae(TINY_VAE, seed=2)
    return {
        "sd1": (build_sd1_model(TINY_UNET), build_sd1_clip(TINY_TEXT, seed=1), vae),
        "sd2": (build_sd2_model(SMALL_SD2_UNET), build_sd2_clip(SMALL_SD2_TEXT, seed=1), vae),
        "sd2-v": (
            build_sd2_model(SMALL_SD2_UNET, seed=3, v_prediction=True),
            build_sd2_clip(SMALL_SD2_TEXT, seed=4),
            vae,
        ),
        "sdxl": (
            build_sdxl_model(SMALL_UNET),
            build_sdxl_clip(SMALL_SDXL_TEXT, SMALL_SDXL_TEXT, seed=1),
            vae,
        ),
    }


def _rows(stack, clip, text: str) -> torch.Tensor:
    """The one-hot rows of ``text``: [BOS] text [EOS] then the stack's pad row."""
    ids = [token for token, _weight in next(iter(clip.tokenize(text).values()))[0]]
    end = ids.index(stack.eos_id)
    ids = ids[: end + 1] + [stack.pad_id] * (len(ids) - end - 1)
    return stack.table[torch.tensor(ids)][None]


@pytest.mark.parametrize("name", ["sd1", "sd2", "sdxl"])
def test_family_detected_from_classes(family_models, name):
    from dpo_diff.nodes.model_family import clip_family, model_family

    model, clip, _vae = family_models[name]
    assert model_family(model) is clip_family(clip)
    assert model_family(model).key == name


def test_families_are_told_apart(family_models):
    from dpo_diff.nodes.model_family import SD1, SD2, SDXL, clip_family, model_family

    found = {n: (model_family(m).key, clip_family(c).key) for n, (m, c, _) in family_models.items()}
    assert found == {"sd1": ("sd1",) * 2, "sd2": ("sd2",) * 2, "sd2-v": ("sd2",) * 2,
                     "sdxl": ("sdxl",) * 2}  # fmt: skip
    assert [f.encoders for f in (SD1, SD2, SDXL)] == [
        ("clip_l",),
        ("clip_h",),
        ("clip_l", "clip_g"),
    ]


def test_sd2_v_prediction_is_comfys_choice(family_models):
    import comfy.model_base

    assert family_models["sd2-v"][0].model.model_type == comfy.model_base.ModelType.V_PREDICTION
    assert family_models["sd2"][0].model.model_type == comfy.model_base.ModelType.EPS


@pytest.mark.parametrize("name", ["sd1", "sd2", "sdxl"])
@pytest.mark.parametrize("clip_layer", [None, -1, -3])
def test_stack_encodes_rows_as_clip_text_encode(family_models, name, clip_layer):
    """Conditioning and pooled output from one-hot rows equal CLIPTextEncode's, for the family's
    default layer and for clip skip."""
    from dpo_diff.nodes.text_encoders import TextEncoderStack

    import nodes as comfy_nodes

    clip = family_models[name][1].clone()
    if clip_layer is not None:
        clip = comfy_nodes.CLIPSetLastLayer().set_last_layer(clip, clip_layer)[0]
    stack = TextEncoderStack(clip)
    for text in TEXTS:
        ours, pooled = stack.encode(_rows(stack, clip, text), clip.layer_idx, with_pooled=True)
        [[theirs, extra]] = comfy_nodes.CLIPTextEncode().encode(clip, text)[0]
        assert ours.shape == theirs.shape
        assert (ours - theirs).abs().max().item() < 1e-5, (text, clip_layer)
        assert (pooled - extra["pooled_output"]).abs().max().item() < 1e-5, (text, clip_layer)


def test_sdxl_stack_layout(family_models):
    """clip_l pads with the end token and clip_g with 0: the stack's pad row holds both, and its
    table is the two tables side by side."""
    from dpo_diff.nodes.text_encoders import TextEncoderStack

    clip = family_models["sdxl"][1]
    stack = TextEncoderStack(clip)
    assert stack.widths == [768, 1280] and stack.pad_id == 49408
    l_table = clip.cond_stage_model.clip_l.transformer.get_input_embeddings().weight
    g_table = clip.cond_stage_model.clip_g.transformer.get_input_embeddings().weight
    assert torch.equal(stack.table[stack.pad_id, :768], l_table[49407])
    assert torch.equal(stack.table[stack.pad_id, 768:], g_table[0])
    assert torch.equal(stack.table[320], torch.cat([l_table[320], g_table[320]]))
    tokens = clip.tokenize("a cat")
    assert tokens["l"][0][-1][0] == 49407 and tokens["g"][0][-1][0] == 0


def test_gradient_reaches_mixing_weights_through_every_encoder(family_models):
    """A mixture of two candidate rows: the context of clip_l, the context of clip_g and the
    pooled output each give the mixing weights a gradient."""
    from dpo_diff.nodes.text_encoders import TextEncoderStack

    clip = family_models["sdxl"][1]
    stack = TextEncoderStack(clip)
    base = _rows(stack, clip, "a red cat")
    red, blue = stack.table[[1893, 1746]]  # two candidate rows for position 2
    for part in ("l", "g", "pooled"):
        weights = torch.tensor([0.7, 0.3], requires_grad=True)
        rows = base.clone()
        rows[0, 2] = weights[0] * red + weights[1] * blue
        context, pooled = stack.encode(rows, None, with_pooled=True)
        assert pooled is not None
        loss = {"l": context[..., :768], "g": context[..., 768:], "pooled": pooled}[part]
        loss.square().sum().backward()
        assert weights.grad is not None and weights.grad.abs().sum() > 0, part
