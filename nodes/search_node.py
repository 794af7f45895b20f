"""DPO Evolutionary Search: evolves word choices on fully sampled images (the hybrid when a
learned distribution is connected) and outputs the best prompt, its conditioning and a report."""

from __future__ import annotations

from typing import TYPE_CHECKING

from comfy_api.latest import io

from dpo_core.config import EPOConfig, SearchConfig
from dpo_core.distribution import LearnedDistribution
from dpo_core.scorers import OpenClipScorer
from dpo_core.search import optimize
from dpo_core.space import SearchSpace

from .inference_tensors import gradient_mode, own_evaluator_weights
from .io_types import CATEGORY, DistributionIO
from .progress import NodeProgress
from .run_files import record_path
from .run_report import comparison_grid, report
from .shared_inputs import (
    check_space,
    encode_conditioning,
    make_backend,
    model_inputs,
    node_id,
    sampling_inputs,
)
from .shared_inputs import (
    holdout_seeds as holdout_from,
)
from .shared_inputs import (
    search_seeds as seeds_from,
)

if TYPE_CHECKING:  # ComfyUI's socket objects, for the signature only
    from comfy.model_patcher import ModelPatcher
    from comfy.sd import CLIP, VAE

SEARCH, EPO = SearchConfig(), EPOConfig()  # the inputs' defaults


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
                    "evaluations", default=SEARCH.evaluations, min=1, max=5000,
                    tooltip="Budget in evaluations (one candidate sampled fully on every search "
                    "seed), the paper's unit: 40, two generations of 20. With a distribution the "
                    "gradient phase's share is counted in (about 8 of 40), so the hybrid costs "
                    "what plain evolution costs. The user's original prompt is always the first.",
                ),
                io.Int.Input(
                    "population", default=EPO.population, min=2, max=200,
                    tooltip="Candidates per generation; the best half parents the next.",
                ),
                io.Int.Input(
                    "holdout_seeds", default=2, min=0, max=16,
                    tooltip="Seeds never searched on, for the before/after report and grid (0 turns the report off).",
                ),
                io.Int.Input(
                    "batch_size", default=4, min=1, max=64,
                    tooltip="Images per model call while scoring; lower it if memory runs out.",
                ),
                io.String.Input(
                    "negative_prompt", default="", multiline=True, optional=True,
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
        cls, model: ModelPatcher, clip: CLIP, vae: VAE, evaluator: OpenClipScorer,
        space: SearchSpace, seed: int, steps: int, cfg: float, sampler_name: str,
        scheduler: str, width: int, height: int, search_seeds: int, evaluations: int,
        population: int, holdout_seeds: int, batch_size: int,
        distribution: LearnedDistribution | None = None, negative_prompt: str = "",
    ) -> io.NodeOutput:  # fmt: skip
        check_space(space)
        logits, charged, gpo = None, 0, SEARCH.gpo
        if distribution is not None:
            if distribution.space != space:
                raise ValueError(
                    "the distribution was learned on another search space; connect the same "
                    "Search Space Builder output to both optimizer nodes"
                )
            logits, charged = distribution.logits, distribution.gradient_evaluations
            gpo = distribution.gpo
        keep = max(1, population // 2)
        mutations = population // 2
        epo = EPOConfig(
            population=population, keep=keep, mutations=mutations, crossovers=population - mutations
        )
        config = SearchConfig(
            method="hybrid" if logits is not None else "epo", evaluations=evaluations, seed=seed,
            search_seeds=seeds_from(seed, search_seeds),
            holdout_seeds=holdout_from(seed, holdout_seeds),
            batch_size=batch_size, negative_prompt=negative_prompt or "", epo=epo, gpo=gpo,
        )  # fmt: skip
        with gradient_mode():
            backend = make_backend(
                model, clip, vae, steps, cfg, sampler_name, scheduler, width, height
            )
            path = record_path("search")
            progress = NodeProgress(path, node_id(cls))
            record = optimize(
                backend, own_evaluator_weights(evaluator), space, config,
                callback=progress, logits=logits, gradient_evaluations=charged,
            )  # fmt: skip
            record.save(path)
            # The held-out images the run scored make the grid (no second rendering).
            comparison = comparison_grid(backend, record, batch_size, progress.holdout_images)
        best = (
            record.best.text if record.best is not None else space.render(space.original_choice())
        )
        return io.NodeOutput(
            encode_conditioning(clip, best), best, comparison, report(record, path)
        )
