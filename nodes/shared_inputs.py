"""What the optimizer nodes share: their model and sampling inputs, the checks of those inputs,
the backend they build, the held-out seed rule and the CONDITIONING they output."""

from __future__ import annotations

import comfy.samplers
from comfy_api.latest import io

from dpo_core.space import SearchSpace

from .comfy_backend import ComfyBackend
from .io_types import EvaluatorIO, SearchSpaceIO
from .model_checks import check_models, check_sampling
from .sampling_settings import SamplingSettings

HOLDOUT_SEED_OFFSET = 10_000  # held-out seeds start here above the seed input: never searched on


def search_seeds(seed: int, count: int) -> tuple[int, ...]:
    """The seeds a search scores candidates on: seed, seed+1, ..."""
    return tuple(seed + i for i in range(count))


def holdout_seeds(seed: int, count: int) -> tuple[int, ...]:
    """Seeds no search sees (they start HOLDOUT_SEED_OFFSET above the seed input)."""
    return tuple(seed + HOLDOUT_SEED_OFFSET + i for i in range(count))


def model_inputs() -> list:
    return [
        io.Model.Input("model", tooltip="An SD1.x, SD2.x or SDXL MODEL (from Load Checkpoint)."),
        io.Clip.Input("clip", tooltip="The CLIP of the same checkpoint (clip skip is honoured)."),
        io.Vae.Input("vae", tooltip="The VAE of the same checkpoint; decodes inside the search."),
        EvaluatorIO.Input(
            "evaluator", tooltip="The judge of image-prompt agreement (DPO Evaluator Loader)."
        ),
        SearchSpaceIO.Input(
            "space", tooltip="Candidate words per slot and the prompt (Search Space Builder)."
        ),
    ]


def sampling_inputs() -> list:
    return [
        io.Int.Input(
            "seed", default=0, min=0, max=2**31 - 1, control_after_generate=False,
            tooltip="Search seeds are seed, seed+1, ...; held-out seeds start at seed+10000. "
            "Also seeds the search's own randomness, so the same inputs give the same result.",
        ),
        io.Int.Input("steps", default=20, min=2, max=150, tooltip="Sampling steps, as in KSampler."),
        io.Float.Input(
            "cfg", default=7.5, min=1.0, max=30.0, step=0.1,
            tooltip="CFG scale, as in KSampler. Must be above 1: at 1 the negative prompt does nothing.",
        ),
        io.Combo.Input(
            "sampler_name", options=comfy.samplers.SAMPLER_NAMES, default="euler",
            tooltip="Sampler for the gradient-free steps and for scoring, as in KSampler.",
        ),
        io.Combo.Input(
            "scheduler", options=comfy.samplers.SCHEDULER_NAMES, default="normal",
            tooltip="Noise schedule, as in KSampler.",
        ),
        io.Int.Input("width", default=512, min=64, max=2048, step=8, tooltip="Image width in pixels."),
        io.Int.Input("height", default=512, min=64, max=2048, step=8, tooltip="Image height in pixels."),
        io.Int.Input(
            "search_seeds", default=1, min=1, max=16,
            tooltip="How many seeds every candidate is scored on (fitness is their mean).",
        ),
    ]  # fmt: skip


def make_backend(model, clip, vae, steps, cfg, sampler_name, scheduler, width, height):
    check_models(model, clip, vae)
    check_sampling(cfg)
    settings = SamplingSettings(steps, cfg, sampler_name, scheduler, width, height)
    return ComfyBackend(model, clip, vae, settings)


def check_space(space: SearchSpace) -> None:
    if not space.slots or all(n < 2 for n in space.sizes):
        raise ValueError(
            "the search space has no candidate words to choose from; build it from a longer "
            "prompt, raise candidates per word, or add the negative-term library"
        )


def node_id(node: type[io.ComfyNode]) -> str | None:
    """The running node's id for progress messages (None when called outside a prompt)."""
    hidden = getattr(node, "hidden", None)
    return getattr(hidden, "unique_id", None)


def encode_conditioning(clip, text: str) -> list:
    """CONDITIONING exactly as CLIPTextEncode makes it."""
    return clip.encode_from_tokens_scheduled(clip.tokenize(text))
