"""DPO Shortcut Gradient Optimizer: learns a distribution over the space's words by gradient."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from comfy_api.latest import io

from dpo_core.config import GPOConfig, SearchConfig
from dpo_core.distribution import LearnedDistribution
from dpo_core.scorers import OpenClipScorer
from dpo_core.search import optimize
from dpo_core.space import SearchSpace

from .images import loss_curve
from .inference_tensors import gradient_mode, own_evaluator_weights
from .io_types import CATEGORY, DistributionIO
from .progress import NodeProgress
from .run_files import record_path
from .shared_inputs import check_space, make_backend, model_inputs, node_id, sampling_inputs
from .shared_inputs import search_seeds as seeds_from

if TYPE_CHECKING:  # ComfyUI's socket objects, for the signature only
    from comfy.model_patcher import ModelPatcher
    from comfy.sd import CLIP, VAE

log = logging.getLogger(__name__)
GPO = GPOConfig()  # the inputs' defaults


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
                io.Int.Input("iterations", default=GPO.iterations, min=1, max=500, tooltip="Gradient steps on the word logits."),
                io.Int.Input(
                    "grad_steps", default=GPO.grad_steps, min=1, max=8,
                    tooltip="K: denoising steps with gradient per iteration (the paper uses 1). "
                    "Memory grows with K, not with the number of sampling steps.",
                ),
                io.Float.Input(
                    "step_start", default=GPO.step_start_fraction, min=0.0, max=0.99, step=0.01,
                    tooltip="Earliest step with gradient, as a fraction of the steps (0.3 of 50 = step 15).",
                ),
                io.Float.Input(
                    "step_end", default=GPO.step_end_fraction, min=0.0, max=0.99, step=0.01,
                    tooltip="Latest step with gradient, as a fraction of the steps (0.48 of 50 = step 24).",
                ),
                io.Float.Input("learning_rate", default=GPO.learning_rate, min=0.0001, max=10.0, step=0.01, tooltip="RMSprop learning rate on the logits."),
                io.Float.Input(
                    "temperature", default=GPO.temperature, min=0.05, max=10.0, step=0.05,
                    tooltip="Gumbel-softmax temperature: lower is closer to a hard choice of one word.",
                ),
                io.String.Input(
                    "negative_prompt", default="", optional=True, force_input=True,
                    tooltip="Attack mode only: the negative prompt kept fixed while the positive prompt is "
                    "rewritten; connect the same text as the Evolutionary Search's negative_prompt. "
                    "Unconnected: empty.",
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
        cls, model: ModelPatcher, clip: CLIP, vae: VAE, evaluator: OpenClipScorer,
        space: SearchSpace, seed: int, steps: int, cfg: float, sampler_name: str,
        scheduler: str, width: int, height: int, search_seeds: int, iterations: int,
        grad_steps: int, step_start: float, step_end: float, learning_rate: float,
        temperature: float, negative_prompt: str = "",
    ) -> io.NodeOutput:  # fmt: skip
        check_space(space)
        # step_start/step_end keep their widget names (saved workflows): GPOConfig's fractions
        if step_start > step_end:
            raise ValueError(f"step_start ({step_start}) must not be above step_end ({step_end})")
        gpo = GPOConfig(
            iterations=iterations, grad_steps=grad_steps, step_start_fraction=step_start,
            step_end_fraction=step_end, learning_rate=learning_rate, temperature=temperature,
        )  # fmt: skip
        config = SearchConfig(
            method="gpo", evaluations=0, seed=seed,
            search_seeds=seeds_from(seed, search_seeds), holdout_seeds=(), gpo=gpo,
            negative_prompt=negative_prompt or "",
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
        return io.NodeOutput(LearnedDistribution.from_record(record), loss_curve(record.loss_curve))
