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


# --- the backend on every family --------------------------------------------------------------
STEPS = 4
BACKEND_FAMILIES = ["sd2", "sd2-v", "sdxl"]  # SD1: tests/test_comfy_backend.py


def _backend(models, **settings):
    from dpo_diff.nodes.comfy_backend import ComfyBackend
    from dpo_diff.nodes.sampling_settings import SamplingSettings

    options = {"steps": STEPS, "cfg": 5.0, "width": 32, "height": 32, **settings}
    return ComfyBackend(*models, SamplingSettings(**options))


def _space():
    from dpo_core.space import SearchSpace, Slot

    return SearchSpace(
        prompt="a red cat sitting on a mat",
        mode="negative",
        negative_prompt="blurry",
        slots=(
            Slot("red", ("", "green", "blue")),
            Slot("cat", ("", "dog", "golden retriever")),  # a multi-token candidate
            Slot("sitting", ("", "standing")),
        ),
    )


def _one_hot(space, choice) -> list[torch.Tensor]:
    return [
        torch.nn.functional.one_hot(torch.tensor(c), n).float() for c, n in zip(choice, space.sizes)
    ]


def _split(backend, conditioning):
    from dpo_diff.nodes.pooled_conditioning import split_pooled

    return split_pooled(conditioning, backend.text.width)


@pytest.mark.parametrize("name", BACKEND_FAMILIES)
def test_one_hot_relaxation_equals_clip_text_encode(family_models, name):
    """For one-hot weights our conditioning (and SDXL's pooled output, which the UNet reads)
    equals CLIPTextEncode's, with empty and multi-token choices."""
    import nodes as comfy_nodes
    from dpo_core.relaxation import encode_relaxed

    model, clip, vae = family_models[name]
    backend = _backend(family_models[name])
    space = _space()
    for choice in [(0, 0, 0), (1, 2, 1), (2, 1, 0), (0, 2, 0)]:
        context, pooled = _split(backend, encode_relaxed(backend, space, _one_hot(space, choice)))
        [[theirs, extra]] = comfy_nodes.CLIPTextEncode().encode(clip, space.render(choice))[0]
        assert (context - theirs).abs().max().item() < 1e-5, choice
        if name == "sdxl":
            assert pooled is not None and pooled.shape == (1, 1280)
            assert (pooled - extra["pooled_output"]).abs().max().item() < 1e-5, choice
        else:
            assert pooled is None  # SD 2.x's UNet reads no pooled output


def test_long_negative_prompt_on_sdxl_equals_clip_text_encode(family_models):
    """A negative prompt over one window: both encoders are encoded window by window and put
    side by side, the pooled output is the first window's, as CLIPTextEncode does."""
    import dataclasses

    import nodes as comfy_nodes
    from dpo_core.relaxation import encode_relaxed

    clip = family_models["sdxl"][1]
    backend = _backend(family_models["sdxl"])
    words = "blurry, lowres, jpeg artifacts, watermark, text, signature, ugly, deformed, "
    space = dataclasses.replace(_space(), negative_prompt=(words * 6).strip(" ,"))
    for choice in [(0, 0, 0), (2, 2, 1)]:
        context, pooled = _split(backend, encode_relaxed(backend, space, _one_hot(space, choice)))
        [[theirs, extra]] = comfy_nodes.CLIPTextEncode().encode(clip, space.render(choice))[0]
        assert context.shape == theirs.shape and theirs.shape[1] > 77
        assert (context - theirs).abs().max().item() < 1e-5, choice
        assert (pooled - extra["pooled_output"]).abs().max().item() < 1e-5, choice


@pytest.mark.parametrize("name", ["sd2-v", "sdxl"])
def test_gradients_reach_logits_through_every_encoder(family_models, name):
    """Each encoder's part of the conditioning and SDXL's pooled output alone give every slot's
    logits a gradient; so does the whole shortcut path through the UNet (with ADM) and VAE."""
    from dpo_diff.nodes.inference_tensors import gradient_mode

    from dpo_core.relaxation import encode_relaxed
    from dpo_core.shortcut import images_with_gradient

    backend = _backend(family_models[name])
    space = _space()
    parts = {"sd2-v": {"clip_h": slice(0, 64)},
             "sdxl": {"clip_l": slice(0, 768), "clip_g": slice(768, 2048)}}[name]  # fmt: skip
    with gradient_mode():
        positive = backend.encode_text([space.prompt])
        for part in [*parts, "pooled", "images"]:
            if part == "pooled" and name != "sdxl":
                continue
            logits = [torch.zeros(n, requires_grad=True) for n in space.sizes]
            bump = [torch.nn.functional.one_hot(torch.tensor(1), n) for n in space.sizes]
            weights = [torch.softmax(a, dim=0) + b for a, b in zip(logits, bump)]
            negative = encode_relaxed(backend, space, weights)
            context, pooled = _split(backend, negative)
            if part == "images":
                images = images_with_gradient(backend, backend.noise([0]), positive, negative, 2, 1)
                loss = images.mean()
            elif part == "pooled":
                loss = pooled.square().sum()
            else:
                loss = context[..., parts[part]].square().sum()
            loss.backward()
            for i, a in enumerate(logits):
                assert a.grad is not None and torch.isfinite(a.grad).all(), (part, i)
                assert a.grad.abs().sum() > 0, f"{part}: slot {i} got no gradient"


def _ksampler_images(models, positive: str, negative: str, seed: int, sampler: str):
    import nodes as comfy_nodes

    model, clip, vae = models
    pos = comfy_nodes.CLIPTextEncode().encode(clip, positive)[0]
    neg = comfy_nodes.CLIPTextEncode().encode(clip, negative)[0]
    latent = comfy_nodes.EmptyLatentImage().generate(32, 32, 1)[0]
    samples = comfy_nodes.common_ksampler(
        model, seed, STEPS, 5.0, sampler, "normal", pos, neg, latent
    )[0]
    return comfy_nodes.VAEDecode().decode(vae, samples)[0]


@pytest.mark.parametrize("name", BACKEND_FAMILIES)
@pytest.mark.parametrize("sampler", ["euler", "dpmpp_2m"])
def test_backend_images_equal_ksampler_images(family_models, name, sampler):
    """What the search scores is what CLIPTextEncode + KSampler + VAEDecode make, batched."""
    from dpo_core.evaluation import generate_images

    models = family_models[name]
    backend = _backend(models, sampler_name=sampler)
    prompt, negatives, seeds = "a red cat", ["a green dog", "blurry"], [11, 12]
    ours = generate_images(backend, [prompt, prompt], negatives, seeds, batch_size=2).movedim(1, -1)
    for i, (negative, seed) in enumerate(zip(negatives, seeds)):
        theirs = _ksampler_images(models, prompt, negative, seed, sampler)
        assert (ours[i : i + 1] - theirs).abs().max().item() < 1e-4, (name, sampler, seed)


@pytest.mark.parametrize("name", BACKEND_FAMILIES)
def test_gradient_path_denoises_as_comfyui_samples(family_models, name):
    """The differentiable x0 estimate (UNet with SDXL's ADM inputs, v-prediction handled by
    ComfyUI's model_sampling) equals the one ComfyUI's Euler sampler steps with: one Euler step
    from sigma to sigma' is ``x + (sigma' - sigma) (x - x0) / sigma``. At a high noise level,
    where the UNet's output (and with it the ADM input) moves x0 most."""
    backend = _backend(family_models[name])
    with torch.no_grad():
        positive = backend.encode_text(["a red cat"])
        negative = backend.encode_text(["a green dog"])
        sigma, sigma_next = float(backend.sigmas[1]), float(backend.sigmas[2])
        x = backend.sample(backend.noise([5]), positive, negative, 1)
        # Euler draws no noise: sampling on to step 2 takes its second step from this x
        x_next = backend.sample(backend.noise([5]), positive, negative, 2)
        theirs = x - (x_next - x) * sigma / (sigma_next - sigma)
        ours = backend.denoise(x, sigma, positive, negative)
        if name == "sdxl":  # the check can see the ADM input: without the pooled text it fails
            context, _ = _split(backend, positive)
            no_pooled = torch.cat([context, torch.zeros(1, context.shape[1], 1280)], dim=-1)
            other = backend.denoise(x, sigma, no_pooled, negative)
            assert (other - theirs).abs().max().item() > 1e-3
    assert (ours - theirs).abs().max().item() < 1e-4


def test_sdxl_models_left_untouched(family_models):
    """A gradient pass leaves the MODEL, CLIP and VAE bit-identical for the other nodes."""
    from dpo_diff.nodes.inference_tensors import gradient_mode

    from dpo_core.relaxation import encode_relaxed
    from dpo_core.shortcut import images_with_gradient

    models = family_models["sdxl"]
    model, clip, vae = models
    state_before = {k: v.clone() for k, v in model.model.state_dict().items()} | {
        f"clip.{k}": v.clone() for k, v in clip.cond_stage_model.state_dict().items()
    }
    images_before = _ksampler_images(models, "a red cat", "dog", 5, "euler")
    backend = _backend(models)
    space = _space()
    with gradient_mode():
        negative = encode_relaxed(backend, space, _one_hot(space, (1, 1, 1)))
        positive = backend.encode_text([space.prompt])
        images_with_gradient(
            backend, backend.noise([0]), positive, negative, 3, 1
        ).mean().backward()
    assert torch.equal(images_before, _ksampler_images(models, "a red cat", "dog", 5, "euler"))
    state_after = dict(model.model.state_dict()) | {
        f"clip.{k}": v for k, v in clip.cond_stage_model.state_dict().items()
    }
    assert state_before.keys() == state_after.keys()
    assert all(torch.equal(state_before[k], state_after[k]) for k in state_before)
    assert all(not p.requires_grad for p in model.model.parameters())


# --- model checks -----------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["sd1", "sd2", "sd2-v", "sdxl"])
def test_model_checks_accept_every_family(family_models, name):
    from dpo_diff.nodes.model_checks import check_models

    assert check_models(*family_models[name]).key == name.removesuffix("-v")


def test_model_checks_refuse_a_clip_of_another_family(family_models):
    from dpo_diff.nodes.model_checks import check_models

    model, _, vae = family_models["sdxl"]
    with pytest.raises(ValueError, match="SD1.x CLIP.*SDXL MODEL|Stable Diffusion 1.x.*SDXL"):
        check_models(model, family_models["sd1"][1], vae)
    with pytest.raises(ValueError, match="CLIP"):
        check_models(family_models["sd2"][0], family_models["sdxl"][1], vae)


def test_model_checks_refuse_an_inpainting_unet(comfy, family_models):
    from dpo_diff.model_builders.sdxl import build_sdxl_model
    from dpo_diff.nodes.model_checks import check_models

    inpaint = build_sdxl_model({**SMALL_UNET, "in_channels": 9})
    _, clip, vae = family_models["sdxl"]
    with pytest.raises(ValueError, match="9 input channels"):
        check_models(inpaint, clip, vae)


def test_search_space_ranking_reads_the_first_encoder_of_every_family(family_models):
    """The space builder ranks candidates with the connected CLIP's first text encoder: for SD2
    its OpenCLIP-H (ComfyUI's unprojected pooled output), for SDXL its clip_l."""
    from dpo_diff.nodes.clip_similarity import clip_text_embedder

    texts = ["a cat on a sofa", "a dog!", "two models hoist a flag up a pole"]
    clip = family_models["sd2"][1]
    mine = clip_text_embedder(clip)(texts)
    reference = torch.cat(
        [clip.encode_from_tokens(clip.tokenize(t), return_pooled="unprojected")[1] for t in texts]
    )
    assert (mine - reference.float()).abs().max().item() < 1e-5
    assert clip_text_embedder(family_models["sdxl"][1])(texts).shape == (3, 768)


def test_token_ids_stop_at_the_end_token_not_at_a_pad_id_that_is_a_word(family_models):
    """SD2 and clip_g pad with 0, which is also the id of "!" inside a word ("!~" is "!" "~"):
    the text's ids keep it."""
    from dpo_diff.nodes.clip_tokens import clip_token_ids

    for name in ("sd1", "sd2", "sdxl"):
        ids = clip_token_ids(family_models[name][1], "wow !~ a cat")
        assert ids[1] == 0 and len(ids) == 5, (name, ids)


def test_optimizer_nodes_on_sd2_v_prediction(family_models, tiny_evaluator, tmp_path):
    """The gradient and search nodes on an SD 2.x v-prediction model, inside inference mode as
    ComfyUI runs them; the output CONDITIONING is CLIPTextEncode's of the best text."""
    import folder_paths
    from dpo_diff.nodes.gradient_node import ShortcutGradientOptimizer
    from dpo_diff.nodes.search_node import EvolutionarySearch

    from dpo_core.record import RunRecord

    model, clip, vae = family_models["sd2-v"]
    sampling = dict(seed=3, steps=STEPS, cfg=5.0, sampler_name="euler", scheduler="normal",
                    width=32, height=32, search_seeds=1)  # fmt: skip
    before = folder_paths.get_output_directory()
    folder_paths.set_output_directory(str(tmp_path))
    try:
        with torch.inference_mode():
            learned = ShortcutGradientOptimizer.execute(
                model, clip, vae, tiny_evaluator, _space(), **sampling, iterations=2,
                grad_steps=1, step_start=0.3, step_end=0.5, learning_rate=0.1, temperature=1.0,
            )  # fmt: skip
            distribution = learned.result[0]
            out = EvolutionarySearch.execute(
                model, clip, vae, tiny_evaluator, _space(), **sampling, evaluations=6,
                population=4, holdout_seeds=1, batch_size=4, distribution=distribution,
            )  # fmt: skip
            conditioning, prompt, _comparison, report = out.result
            reference = clip.encode_from_tokens_scheduled(clip.tokenize(prompt))
    finally:
        folder_paths.set_output_directory(before)
    gradient = RunRecord.load(sorted((tmp_path / "dpo_diff").glob("gradient_*.json"))[-1])
    assert len(gradient.loss_curve) == 2 and distribution.logits == gradient.logits
    assert conditioning[0][0].shape == (1, 77, 64)
    assert torch.equal(conditioning[0][0], reference[0][0])
    assert "held-out seeds" in report
