"""The search nodes: ShortcutGradientOptimizer, EvolutionarySearch and LoadRunRecord.

Thin adapters: they check the inputs, build the ComfyUI backend, call ``dpo_core.optimize`` and
turn its record into ComfyUI outputs. The method itself lives in ``dpo_core``.
"""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path

import comfy.samplers
import folder_paths
import torch
from comfy_api.latest import io

from dpo_core.config import EPOConfig, GPOConfig, SearchConfig
from dpo_core.evaluation import fixed_text, render_images
from dpo_core.record import RunRecord
from dpo_core.search import optimize
from dpo_core.space import SearchSpace

from .comfy_backend import ComfyBackend, SamplingSettings, gradient_mode, own_evaluator_weights
from .images import grid, loss_curve
from .io_types import CATEGORY, DistributionIO, EvaluatorIO, SearchSpaceIO
from .model_checks import check_sampling, check_sd1
from .progress import NodeProgress

log = logging.getLogger(__name__)

HOLDOUT_SEED_OFFSET = 10_000  # held-out seeds start here above the seed input: never searched on
RECORD_FOLDER = "dpo_diff"


# --- shared inputs ---------------------------------------------------------------------------
def model_inputs() -> list:
    return [
        io.Model.Input("model", tooltip="An SD1.x MODEL (from Load Checkpoint)."),
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
    check_sd1(model, clip, vae)
    check_sampling(cfg)
    settings = SamplingSettings(steps, cfg, sampler_name, scheduler, width, height)
    return ComfyBackend(model, clip, vae, settings)


def check_space(space: SearchSpace) -> None:
    if not space.slots or all(n < 2 for n in space.sizes):
        raise ValueError(
            "the search space has no candidate words to choose from; build it from a longer "
            "prompt, raise candidates per word, or add the negative-term library"
        )


def record_path(prefix: str) -> Path:
    """A new numbered JSON file under ComfyUI's output folder."""
    out = Path(folder_paths.get_output_directory()) / RECORD_FOLDER
    out.mkdir(parents=True, exist_ok=True)
    pattern = re.compile(rf"{prefix}_(\d+)\.json")
    numbers = [int(m.group(1)) for p in out.iterdir() if (m := pattern.fullmatch(p.name))]
    return out / f"{prefix}_{max(numbers, default=0) + 1:05d}.json"


def node_id(node: type[io.ComfyNode]) -> str | None:
    """The running node's id for progress messages (None when called outside a prompt)."""
    hidden = getattr(node, "hidden", None)
    return getattr(hidden, "unique_id", None)


def encode_conditioning(clip, text: str) -> list:
    """CONDITIONING exactly as CLIPTextEncode makes it."""
    return clip.encode_from_tokens_scheduled(clip.tokenize(text))


# --- nodes -----------------------------------------------------------------------------------
class ShortcutGradientOptimizer(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="DPOShortcutGradientOptimizer",
            display_name="DPO Shortcut Gradient Optimizer",
            category=CATEGORY,
            hidden=[io.Hidden.unique_id],
            description=(
                "Learns which words of the search space help, by gradient descent on a "
                "Gumbel-softmax relaxation of the word choice. Each iteration samples without "
                "gradient down to a random step, then backpropagates through one (or K) "
                "denoising steps, the VAE and the evaluator (the shortcut text gradient)."
            ),
            inputs=[
                *model_inputs(),
                *sampling_inputs(),
                io.Int.Input("iterations", default=20, min=1, max=500, tooltip="Gradient steps on the word logits."),
                io.Int.Input(
                    "grad_steps", default=1, min=1, max=8,
                    tooltip="K: denoising steps with gradient per iteration (the paper uses 1). "
                    "Memory grows with K, not with the number of sampling steps.",
                ),
                io.Float.Input(
                    "step_start", default=0.3, min=0.0, max=0.99, step=0.01,
                    tooltip="Earliest step with gradient, as a fraction of the steps (0.3 of 50 = step 15).",
                ),
                io.Float.Input(
                    "step_end", default=0.48, min=0.0, max=0.99, step=0.01,
                    tooltip="Latest step with gradient, as a fraction of the steps (0.48 of 50 = step 24).",
                ),
                io.Float.Input("learning_rate", default=0.1, min=0.0001, max=10.0, step=0.01, tooltip="RMSprop learning rate on the logits."),
                io.Float.Input(
                    "temperature", default=1.0, min=0.05, max=10.0, step=0.05,
                    tooltip="Gumbel-softmax temperature: lower is closer to a hard choice of one word.",
                ),
            ],
            outputs=[
                DistributionIO.Output(
                    "distribution", tooltip="The learned distribution over words (feed EvolutionarySearch)."
                ),
                io.Image.Output("loss_curve", tooltip="Relaxed loss per iteration."),
            ],
        )  # fmt: skip

    @classmethod
    def execute(
        cls, model, clip, vae, evaluator, space, seed, steps, cfg, sampler_name, scheduler,
        width, height, search_seeds, iterations, grad_steps, step_start, step_end,
        learning_rate, temperature,
    ) -> io.NodeOutput:  # fmt: skip
        check_space(space)
        if step_start > step_end:
            raise ValueError(f"step_start ({step_start}) must not be above step_end ({step_end})")
        gpo = GPOConfig(
            iterations=iterations, grad_steps=grad_steps, step_start=step_start,
            step_end=step_end, learning_rate=learning_rate, temperature=temperature,
        )  # fmt: skip
        config = SearchConfig(
            method="gpo", generations=0, seed=seed,
            search_seeds=tuple(seed + i for i in range(search_seeds)), holdout_seeds=(), gpo=gpo,
        )  # fmt: skip
        with gradient_mode():
            backend = make_backend(
                model, clip, vae, steps, cfg, sampler_name, scheduler, width, height
            )
            path = record_path("gradient")
            record = optimize(
                backend, own_evaluator_weights(evaluator), space, config,
                callback=NodeProgress(path, node_id(cls)),
            )  # fmt: skip
            record.save(path)
        log.info("learned distribution saved in %s", path)
        return io.NodeOutput(record, loss_curve(record.loss_curve))


class EvolutionarySearch(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="DPOEvolutionarySearch",
            display_name="DPO Evolutionary Search",
            category=CATEGORY,
            hidden=[io.Hidden.unique_id],
            description=(
                "Evolves word choices (selection, mutation, crossover) scored on fully sampled "
                "images; with a learned distribution the first population is drawn from it "
                "(DPO-Diff's hybrid). Outputs the best prompt, its conditioning, a before/after "
                "grid on held-out seeds and a report. The run record JSON is written to "
                "output/dpo_diff/ after every batch."
            ),
            inputs=[
                *model_inputs(),
                *sampling_inputs(),
                DistributionIO.Input(
                    "distribution", optional=True,
                    tooltip="Optional learned distribution; without it, plain evolution from "
                    "uniformly drawn words.",
                ),
                io.Int.Input(
                    "generations", default=10, min=1, max=200,
                    tooltip="Budget in generations: generations x population candidates are "
                    "scored (the paper: 40 x 20).",
                ),
                io.Int.Input("population", default=20, min=2, max=200, tooltip="Candidates per generation; the best half parents the next."),
                io.Int.Input(
                    "holdout_seeds", default=2, min=0, max=16,
                    tooltip="Seeds never searched on, for the before/after report and grid (0 turns the report off).",
                ),
                io.Int.Input(
                    "batch_size", default=4, min=1, max=64,
                    tooltip="Images per model call while scoring; lower it if memory runs out.",
                ),
                io.String.Input(
                    "fixed_negative", default="", multiline=True, optional=True,
                    tooltip="Attack mode only: the negative prompt kept fixed while the positive prompt is rewritten.",
                ),
            ],
            outputs=[
                io.Conditioning.Output(
                    "conditioning",
                    tooltip="The optimized prompt encoded like CLIPTextEncode: the negative "
                    "conditioning (enhancement) or the rewritten positive one (attack).",
                ),
                io.String.Output("prompt", tooltip="The optimized negative prompt (or rewritten prompt)."),
                io.Image.Output("comparison", tooltip="Held-out seeds: top row the original, bottom row the best."),
                io.String.Output("report", tooltip="Loss of the original vs. the best, on search and held-out seeds."),
            ],
        )  # fmt: skip

    @classmethod
    def execute(
        cls, model, clip, vae, evaluator, space, seed, steps, cfg, sampler_name, scheduler,
        width, height, search_seeds, generations, population, holdout_seeds, batch_size,
        distribution: RunRecord | None = None, fixed_negative: str = "",
    ) -> io.NodeOutput:  # fmt: skip
        check_space(space)
        logits = None
        if distribution is not None:
            if distribution.space != space:
                raise ValueError(
                    "the distribution was learned on another search space; connect the same "
                    "Search Space Builder output to both optimizer nodes"
                )
            logits = distribution.logits
        keep = max(1, population // 2)
        mutations = population // 2
        epo = EPOConfig(
            population=population, keep=keep, mutations=mutations, crossovers=population - mutations
        )
        config = SearchConfig(
            method="hybrid" if logits is not None else "epo", generations=generations, seed=seed,
            search_seeds=tuple(seed + i for i in range(search_seeds)),
            holdout_seeds=tuple(seed + HOLDOUT_SEED_OFFSET + i for i in range(holdout_seeds)),
            batch_size=batch_size, negative_prompt=fixed_negative or "", epo=epo,
        )  # fmt: skip
        with gradient_mode():
            backend = make_backend(
                model, clip, vae, steps, cfg, sampler_name, scheduler, width, height
            )
            path = record_path("search")
            record = optimize(
                backend, own_evaluator_weights(evaluator), space, config,
                callback=NodeProgress(path, node_id(cls)), logits=logits,
            )  # fmt: skip
            record.save(path)
            comparison = comparison_grid(backend, record, batch_size)
        best = (
            record.best.text if record.best is not None else space.render(space.original_choice())
        )
        return io.NodeOutput(
            encode_conditioning(clip, best), best, comparison, report(record, path)
        )


def comparison_grid(backend: ComfyBackend, record: RunRecord, batch_size: int) -> torch.Tensor:
    """Original (top) and best (bottom) on the held-out seeds (the first search seed if none)."""
    space, config = record.space, record.config
    seeds = list(config.holdout_seeds or config.search_seeds[:1])
    original = space.render(space.original_choice())
    best = record.best.text if record.best is not None else original
    fixed = fixed_text(space, config.negative_prompt)
    rows = []
    for text in (original, best):
        positives, negatives = ([fixed] * len(seeds), [text] * len(seeds))
        if space.mode == "positive":
            positives, negatives = negatives, positives
        rows.append(render_images(backend, positives, negatives, seeds, batch_size))
    return grid(rows)


def report(record: RunRecord, path: Path | None = None) -> str:
    space = record.space
    original = space.render(space.original_choice())
    lines = [
        f"mode: {space.mode} ({'lower' if space.mode == 'negative' else 'higher'} loss is the goal)",
        f"method: {record.method}, {len(record.candidates)} candidates scored"
        + (" (stopped early)" if record.stopped_early else ""),
        f"original: {original!r}",
    ]
    if record.best is not None:
        lines.append(f"best:     {record.best.text!r}")
        seen_original = [c for c in record.candidates if c.choice == space.original_choice()]
        if seen_original:
            lines.append(
                f"search seeds: original {seen_original[0].mean:.4f} -> best {record.best.mean:.4f}"
            )
        else:
            lines.append(f"search seeds: best {record.best.mean:.4f}")
    if record.holdout is not None:
        h = record.holdout
        lines.append(
            f"held-out seeds {list(h.seeds)}: original {h.original_mean:.4f} -> best {h.best_mean:.4f}"
        )
    if path is not None:
        lines.append(f"record: {os.path.relpath(path, folder_paths.get_output_directory())}")
    return "\n".join(lines)


class LoadRunRecord(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="DPOLoadRunRecord",
            display_name="DPO Load Run Record",
            category=CATEGORY,
            description="Reuses a finished (or interrupted) search: outputs its best prompt and "
            "conditioning from the saved run record, without recomputing anything.",
            inputs=[
                io.Combo.Input(
                    "record", options=list_records(),
                    tooltip="A run record from output/dpo_diff/ (written by the optimizer nodes).",
                ),
                io.Clip.Input("clip", tooltip="The CLIP that encodes the prompt (the checkpoint's)."),
            ],
            outputs=[
                io.Conditioning.Output("conditioning", tooltip="The best prompt, encoded like CLIPTextEncode."),
                io.String.Output("prompt", tooltip="The best prompt of the record."),
                io.String.Output("report", tooltip="The record's summary."),
            ],
        )  # fmt: skip

    @classmethod
    def execute(cls, record, clip) -> io.NodeOutput:
        path = Path(folder_paths.get_output_directory()) / RECORD_FOLDER / record
        if not path.is_file():
            raise ValueError(f"run record {record!r} not found in output/{RECORD_FOLDER}/")
        loaded = RunRecord.load(path)
        if loaded.best is None:
            raise ValueError(f"run record {record!r} has no evaluated candidate yet")
        text = loaded.best.text
        return io.NodeOutput(encode_conditioning(clip, text), text, report(loaded, path))

    @classmethod
    def fingerprint_inputs(cls, record, clip):
        path = Path(folder_paths.get_output_directory()) / RECORD_FOLDER / record
        return path.stat().st_mtime if path.is_file() else float("nan")


def list_records() -> list[str]:
    folder = Path(folder_paths.get_output_directory()) / RECORD_FOLDER
    if not folder.is_dir():
        return []
    return sorted((p.name for p in folder.glob("*.json")), reverse=True)


NODES = [ShortcutGradientOptimizer, EvolutionarySearch, LoadRunRecord]
