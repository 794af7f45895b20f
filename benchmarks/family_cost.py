"""Cost of one gradient iteration per model family, on the tests' small models, in one run.

The tests' small models: SD1 (``tiny``: SD1.5 classes, one-level width-32 UNet, CLIP-L of width
64, 2 layers) against SD 2.x and SDXL (``sd2-small``, ``sdxl-small``: ComfyUI's SD20 / SDXL
classes, one-level width-64 UNet, 3-layer text encoders; SDXL keeps clip_l 768 + clip_g 1280
wide, so its context is 2048 and its UNet gets the 2816-channel ADM input), all with the same
VAE and scorer. One iteration is what GPO does per step
(``gradient_cost.GradientIteration``: Gumbel sample, relaxed text through every text encoder,
shortcut K = 1 with gradient, VAE decode, CLIP loss, backward, optimizer step). The families
take turns, ``--repeats`` rounds, so that a busy machine slows them alike; the ratio is of
medians.

Run: python benchmarks/family_cost.py [--size 32] [--steps 10] [--repeats 5] [--threads 1]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common  # noqa: E402

SPECS = {"sd1": "tiny", "sd2": "sd2-small", "sdxl": "sdxl-small"}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    common.add_common_arguments(parser)
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    if args.tiny:
        args.repeats, args.steps = 1, 4
    common.setup(args.threads)
    from dpo_diff.nodes.inference_tensors import gradient_mode
    from gradient_cost import GradientIteration

    iterations, start = {}, {}
    with gradient_mode():
        for family, name in SPECS.items():
            spec = common.MODEL_SPECS[name]
            backend = common.build_backend(common.build_models(spec), args.steps, args.size)
            it = GradientIteration(backend, common.build_scorer(spec), common.cost_space())
            start[family] = it.start_step(args.steps)
            it.step("shortcut", start[family], 1)  # warm-up
            iterations[family] = it
        times: dict[str, list[float]] = {family: [] for family in SPECS}
        for _ in range(args.repeats):
            for family, it in iterations.items():
                seconds = common.timed(lambda it=it, f=family: it.step("shortcut", start[f], 1))[0]
                times[family].append(seconds)
    medians = {family: common.median(t) for family, t in times.items()}
    rows = [[f, SPECS[f], medians[f], medians[f] / medians["sd1"]] for f in SPECS]
    print(common.format_table(["family", "model", "s / iteration", "vs sd1"], rows))
    data = {"machine": common.machine_info(), "arguments": vars(args) | {"out": str(args.out)},
            "seconds": times, "medians": medians,
            "ratio_sdxl_to_sd1": medians["sdxl"] / medians["sd1"],
            "ratio_sd2_to_sd1": medians["sd2"] / medians["sd1"]}  # fmt: skip
    common.write_json(args.out, "family_cost" + ("_tiny" if args.tiny else ""), data)
    return data


if __name__ == "__main__":
    main()
