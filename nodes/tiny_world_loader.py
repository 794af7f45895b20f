"""DPO Tiny World Loader: the pack's small trained text-to-image world, no download needed."""

from __future__ import annotations

from comfy_api.latest import io

from ..tiny_world.models import load_world
from .io_types import CATEGORY, EvaluatorIO


class DPOTinyWorldLoader(io.ComfyNode):
    """Loads the tiny world's SD1.5-architecture MODEL, CLIP, VAE and its CLIP evaluator."""

    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="DPOTinyWorldLoader",
            display_name="DPO Tiny World Loader",
            category=CATEGORY,
            description=(
                "A small text-to-image world trained on CPU and shipped with the pack: 64x64 "
                "pictures of one or two coloured shapes (e.g. 'a small red circle on the left "
                "on a white background', 'two big blue squares on the right on a black "
                "background'). Like Stable Diffusion it sometimes adds a defect the prompt did "
                "not ask for (blur, grain, a watermark), which a negative prompt naming it "
                "removes. Use 64x64 latents. Lets the demo and the benchmarks measure "
                "faithfulness without downloading Stable Diffusion."
            ),
            inputs=[],
            outputs=[
                io.Model.Output(
                    display_name="MODEL",
                    tooltip="SD1.5-architecture diffusion model (small width), eps-prediction; "
                    "sample 64x64 images, e.g. euler/normal, 20 steps, cfg 6.",
                ),
                io.Clip.Output(
                    display_name="CLIP",
                    tooltip="SD1 text encoder (CLIP class, SD1 tokenizer, width 128) that "
                    "conditions the MODEL.",
                ),
                io.Vae.Output(
                    display_name="VAE",
                    tooltip="KL-f8 VAE with 4 latent channels: 64x64 images <-> 8x8 latents.",
                ),
                EvaluatorIO.Output(
                    display_name="EVALUATOR",
                    tooltip="A separately trained small CLIP (open_clip) that scores how well "
                    "an image matches a text in this world; the judge of the spherical loss.",
                ),
            ],
        )

    @classmethod
    def execute(cls) -> io.NodeOutput:
        world = load_world()
        return io.NodeOutput(world.model, world.clip, world.vae, world.evaluator)
