"""The ComfyUI backend against ComfyUI itself: same encodings, same images, real gradients,
and no trace left on the models other nodes use."""

from __future__ import annotations

import re

import pytest
import torch

from dpo_core.evaluation import generate_images
from dpo_core.relaxation import encode_relaxed
from dpo_core.shortcut import images_with_gradient
from dpo_core.space import SearchSpace, Slot

STEPS = 6


def _backend(tiny_sd1, **settings):
    from dpo_diff.nodes.comfy_backend import ComfyBackend
    from dpo_diff.nodes.sampling_settings import SamplingSettings

    model, clip, vae = tiny_sd1
    options = {"steps": STEPS, "cfg": 5.0, "width": 32, "height": 32, **settings}
    return ComfyBackend(model, clip, vae, SamplingSettings(**options))


def _space() -> SearchSpace:
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


def _one_hot(space: SearchSpace, choice) -> list[torch.Tensor]:
    return [
        torch.nn.functional.one_hot(torch.tensor(c), n).float() for c, n in zip(choice, space.sizes)
    ]


def _ksampler_images(tiny_sd1, positive: str, negative: str, seed: int, sampler="euler"):
    import nodes as comfy_nodes

    model, clip, vae = tiny_sd1
    pos = comfy_nodes.CLIPTextEncode().encode(clip, positive)[0]
    neg = comfy_nodes.CLIPTextEncode().encode(clip, negative)[0]
    latent = comfy_nodes.EmptyLatentImage().generate(32, 32, 1)[0]
    samples = comfy_nodes.common_ksampler(
        model, seed, STEPS, 5.0, sampler, "normal", pos, neg, latent
    )[0]
    return comfy_nodes.VAEDecode().decode(vae, samples)[0]  # (B, H, W, 3)


def test_hard_relaxed_encoding_equals_clip_text_encode(tiny_sd1):
    model, clip, vae = tiny_sd1
    space = _space()
    for clip_layer in (None, -2):
        layered = clip.clone()
        if clip_layer is not None:
            layered.clip_layer(clip_layer)  # what CLIPSetLastLayer does
        backend = _backend((model, layered, vae))
        for choice in [(0, 0, 0), (1, 2, 1), (2, 1, 0), (0, 2, 0)]:
            ours = encode_relaxed(backend, space, _one_hot(space, choice))
            text = space.render(choice)
            theirs = layered.encode_from_tokens(layered.tokenize(text))
            diff = (ours - theirs).abs().max().item()
            assert diff < 1e-5, f"{text!r} (clip_layer {clip_layer}): max abs diff {diff}"


def _sampler_names() -> list[str]:
    import sys

    sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parents[1] / "scripts"))
    from comfy_env import bootstrap_comfy

    bootstrap_comfy()
    import comfy.samplers

    return list(comfy.samplers.SAMPLER_NAMES)


def test_every_comfy_sampler_is_classified(comfy):
    import comfy.samplers
    from dpo_diff.nodes.sampling_settings import DETERMINISTIC_SAMPLERS, STOCHASTIC_SAMPLERS

    assert not STOCHASTIC_SAMPLERS & DETERMINISTIC_SAMPLERS
    assert set(comfy.samplers.SAMPLER_NAMES) == STOCHASTIC_SAMPLERS | DETERMINISTIC_SAMPLERS


@pytest.mark.parametrize("sampler", _sampler_names())
def test_backend_images_equal_ksampler_images(tiny_sd1, sampler):
    """What the search scores is what KSampler + VAEDecode make, batched or not, also for a
    sampler that draws noise while sampling."""
    backend = _backend(tiny_sd1, sampler_name=sampler)
    prompt, negatives, seeds = "a red cat", ["a green dog", "blurry"], [11, 12]
    ours = generate_images(backend, [prompt, prompt], negatives, seeds, batch_size=2).movedim(1, -1)
    for i, (negative, seed) in enumerate(zip(negatives, seeds)):
        theirs = _ksampler_images(tiny_sd1, prompt, negative, seed, sampler)
        assert theirs.shape == (1, 32, 32, 3)
        assert (ours[i : i + 1] - theirs).abs().max().item() < 1e-4, (sampler, seed)


def test_batched_sampling_equals_single_runs(tiny_sd1):
    backend = _backend(tiny_sd1)
    with torch.no_grad():
        pos = backend.encode_text(["a red cat", "a red cat"])
        neg = backend.encode_text(["green", "dog"])
        batched = backend.sample(backend.noise([3, 4]), pos, neg, STEPS)
        single = torch.cat(
            [backend.sample(backend.noise([s]), pos[i : i + 1], neg[i : i + 1], STEPS)
             for i, s in enumerate([3, 4])]
        )  # fmt: skip
    assert (batched - single).abs().max().item() < 1e-4


def test_gradients_reach_logits_through_comfy_models_loaded_in_inference_mode(build_tiny_sd1):
    """Models loaded inside a prompt hold inference tensors; the backend must still backprop."""
    from dpo_diff.nodes.inference_tensors import gradient_mode

    with torch.inference_mode():  # what ComfyUI does around every prompt
        models = build_tiny_sd1(0)
        assert next(models[0].model.parameters()).is_inference()
        with gradient_mode():
            backend = _backend(models)
            space = _space()
            logits = [torch.zeros(n, requires_grad=True) for n in space.sizes]
            weights = [torch.softmax(a, dim=0) for a in logits]
            # make the argmax layout non-empty on every slot
            weights = [w + torch.nn.functional.one_hot(torch.tensor(1), len(w)) for w in weights]
            negative = encode_relaxed(backend, space, weights)
            positive = backend.encode_text([space.prompt])
            images = images_with_gradient(backend, backend.noise([0]), positive, negative, 2, 1)
            images.mean().backward()
    for i, a in enumerate(logits):
        assert a.grad is not None and torch.isfinite(a.grad).all()
        assert a.grad.abs().sum() > 0, f"slot {i} got no gradient"


def test_optimizer_leaves_models_untouched(tiny_sd1):
    import comfy.clip_model
    import comfy.ldm.modules.diffusionmodules.openaimodel as unet_module

    model, clip, vae = tiny_sd1
    patched_before = (
        comfy.clip_model.CLIPLayer.forward,
        unet_module.UNetModel.forward,
        type(vae.first_stage_model).decode,
    )
    state_before = {k: v.clone() for k, v in model.model.state_dict().items()} | {
        f"clip.{k}": v.clone() for k, v in clip.cond_stage_model.state_dict().items()
    }
    images_before = _ksampler_images(tiny_sd1, "a red cat", "dog", 5)

    backend = _backend(tiny_sd1)
    space = _space()
    logits = [torch.zeros(n, requires_grad=True) for n in space.sizes]
    negative = encode_relaxed(backend, space, _one_hot(space, (1, 1, 1)))
    positive = backend.encode_text([space.prompt])
    images_with_gradient(backend, backend.noise([0]), positive, negative, 3, 2).mean().backward()
    del logits

    images_after = _ksampler_images(tiny_sd1, "a red cat", "dog", 5)
    assert torch.equal(images_before, images_after)
    assert patched_before == (
        comfy.clip_model.CLIPLayer.forward,
        unet_module.UNetModel.forward,
        type(vae.first_stage_model).decode,
    )
    state_after = {k: v for k, v in model.model.state_dict().items()} | {
        f"clip.{k}": v for k, v in clip.cond_stage_model.state_dict().items()
    }
    assert state_before.keys() == state_after.keys()
    assert all(torch.equal(state_before[k], state_after[k]) for k in state_before)
    assert all(not p.requires_grad for p in model.model.parameters())


@pytest.mark.parametrize("sampler", ["euler_ancestral", "dpmpp_2m_sde", "ddpm"])
def test_shortcut_prefix_equals_ksampler_first_steps(tiny_sd1, sampler):
    """The no-gradient prefix of the shortcut for seed s is KSampler's first t steps for seed s,
    also for samplers that draw noise on the way (KSamplerAdvanced, end_at_step t)."""
    import nodes as comfy_nodes
    from dpo_core.shortcut import latent_at_step

    model, clip, vae = tiny_sd1
    backend = _backend(tiny_sd1, sampler_name=sampler)
    t = 3
    positive, negative = "a red cat", "blurry"
    pos = comfy_nodes.CLIPTextEncode().encode(clip, positive)[0]
    neg = comfy_nodes.CLIPTextEncode().encode(clip, negative)[0]
    empty = comfy_nodes.EmptyLatentImage().generate(32, 32, 1)[0]
    for seed in (5, 6):
        theirs = comfy_nodes.KSamplerAdvanced().sample(
            model, "enable", seed, STEPS, 5.0, sampler, "normal", pos, neg, empty, 0, t, "enable"
        )[0]["samples"]
        with torch.no_grad():
            ours = latent_at_step(
                backend, backend.noise([seed]), backend.encode_text([positive]),
                backend.encode_text([negative]), t, seeds=[seed],
            )  # fmt: skip
        ours = model.model.process_latent_out(ours.cpu())
        assert (ours - theirs).abs().max().item() < 1e-4, (sampler, seed)
        unseeded = model.model.process_latent_out(
            latent_at_step(backend, backend.noise([seed]), backend.encode_text([positive]),
                           backend.encode_text([negative]), t).cpu()
        )  # fmt: skip
        if seed != 0:  # without the seeds the sampler's own noise is seed 0's
            assert (unseeded - theirs).abs().max().item() > 1e-3


def test_long_prompts_encode_like_clip_text_encode(tiny_sd1):
    """A 120-token prompt spans two windows; the one-hot relaxed conditioning of every tested
    choice equals CLIPTextEncode's, and gradients reach slots in both windows."""
    model, clip, vae = tiny_sd1
    backend = _backend(tiny_sd1)
    words = ("a red cat sitting on a soft mat in a sunny garden with tall green trees and "
             "small white flowers, ").split(" ")  # fmt: skip
    text = " ".join(words * 6).strip()
    assert sum(backend.window_sizes(text)) > 100 and len(backend.window_sizes(text)) == 2
    pieces = tuple(text.partition("cat"))  # the first "cat" is slot 0
    tail = tuple(pieces[2].rpartition("trees"))  # the last "trees" is slot 1
    pieces = (pieces[0], pieces[1], tail[0], tail[1], tail[2])
    space = SearchSpace(
        prompt=text, mode="positive", pieces=pieces,
        slots=(Slot("cat", ("cat", "dog", "golden retriever"), piece=1),
               Slot("trees", ("trees", "houses"), piece=3)),
    )  # fmt: skip
    for choice in [(0, 0), (1, 1), (2, 0)]:
        ours = encode_relaxed(backend, space, _one_hot(space, choice))
        rendered = space.render(choice)
        theirs = clip.encode_from_tokens(clip.tokenize(rendered))
        assert ours.shape == theirs.shape == (1, 154, 64)
        diff = (ours - theirs).abs().max().item()
        assert diff < 1e-5, f"{rendered!r}: max abs diff {diff}"
    logits = [torch.zeros(n, requires_grad=True) for n in space.sizes]
    weights = [torch.softmax(a, 0) for a in logits]
    encode_relaxed(backend, space, weights).pow(2).sum().backward()
    assert all(a.grad is not None and (a.grad != 0).any() for a in logits)


def test_full_gradient_path_starts_where_ksampler_starts(tiny_sd1):
    """The full gradient's forward pass is an Euler sampler from ComfyUI's starting latent
    (noise * sqrt(1 + sigma_max^2)): with the euler sampler its images are KSampler's."""
    backend = _backend(tiny_sd1)
    positive, negative, seed = "a red cat", "blurry", 9
    noise = backend.noise([seed])
    start = backend.initial_latent(noise)
    sigma = float(backend.sigmas[0])
    assert torch.allclose(start, noise * (1 + sigma**2) ** 0.5)
    with torch.no_grad():
        ours = images_with_gradient(
            backend, noise, backend.encode_text([positive]), backend.encode_text([negative]),
            0, STEPS,
        ).movedim(1, -1)  # fmt: skip
    theirs = _ksampler_images(tiny_sd1, positive, negative, seed, "euler")
    assert (ours - theirs).abs().max().item() < 1e-4


def test_a_cfg_function_patch_is_honoured_in_the_gradient_path(tiny_sd1):
    """A MODEL patched with a sampler_cfg_function (as RescaleCFG patches it): the gradient
    path's guided estimate is the patched one, so the full-gradient (Euler) images equal
    KSampler's for the patched MODEL and differ from the unpatched model's; the gradient is
    autograd of that computation."""
    model, clip, vae = tiny_sd1

    def scaled_guidance(args):  # CFG on the noise predictions, then scaled (a visible change)
        noise = args["uncond"] + args["cond_scale"] * (args["cond"] - args["uncond"])
        return 0.7 * noise

    patched = model.clone()
    patched.set_model_sampler_cfg_function(scaled_guidance)
    backend = _backend((patched, clip, vae))
    positive, negative, seed = "a red cat", "blurry", 4
    pos, neg = backend.encode_text([positive]), backend.encode_text([negative])
    with torch.no_grad():
        ours = images_with_gradient(backend, backend.noise([seed]), pos, neg, 0, STEPS)
    theirs = _ksampler_images((patched, clip, vae), positive, negative, seed, "euler")
    plain = _ksampler_images(tiny_sd1, positive, negative, seed, "euler")
    assert (ours.movedim(1, -1) - theirs).abs().max().item() < 1e-4
    assert (theirs - plain).abs().max().item() > 1e-3  # the patch changes the images
    space = _space()
    logits = [torch.zeros(n, requires_grad=True) for n in space.sizes]
    weights = [torch.softmax(a, 0) for a in logits]
    relaxed = encode_relaxed(backend, space, weights)
    images_with_gradient(backend, backend.noise([seed]), pos, relaxed, 2, 1).mean().backward()
    assert all(a.grad is not None and torch.isfinite(a.grad).all() for a in logits)


def test_patches_the_gradient_cannot_apply_are_refused_by_name(tiny_sd1):
    model, clip, vae = tiny_sd1

    def my_post_cfg(args):
        return args["denoised"]

    def my_attention_patch(q, k, v, extra_options):
        return q, k, v

    post = model.clone()
    post.set_model_sampler_post_cfg_function(my_post_cfg)
    attention = model.clone()
    attention.set_model_attn1_patch(my_attention_patch)
    for patched, name in ((post, "sampler_post_cfg_function (test_patches_the_gradient_cannot"),
                          (attention, "attn1_patch")):  # fmt: skip
        backend = _backend((patched, clip, vae))
        pos, neg = backend.encode_text(["a red cat"]), backend.encode_text(["blurry"])
        with pytest.raises(ValueError, match=re.escape(name)):
            images_with_gradient(backend, backend.noise([0]), pos, neg, 2, 1)
        with torch.no_grad():  # scoring goes through KSampler, which applies every patch
            assert backend.sample(backend.noise([0]), pos, neg, STEPS).isfinite().all()
