"""The main job in one command (``make demo``): start a headless ComfyUI with this pack, run the
shipped prompt-enhancement workflow, print the optimized negative prompt and the report, and
save the before/after images to ``output/demo/``.

By default it runs on the generated SD1.5-format checkpoint (random weights, so the search
works but the pictures are noise); ``--checkpoint PATH`` (``make demo CKPT=PATH``) uses a real
SD1.x checkpoint, and ``--evaluator PATH`` a real CLIP (open_clip ViT-B/32 weights).
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT / "scripts"))

from comfy_env import CACHE_DIR  # noqa: E402
from headless_comfy import HeadlessComfy  # noqa: E402

log = logging.getLogger("demo")
WORKFLOW = REPO_ROOT / "workflows" / "api" / "dpo_enhance_negative_prompt.json"
OUT = REPO_ROOT / "output" / "demo"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--checkpoint", type=Path, help="an SD1.x checkpoint (default: generated)")
    p.add_argument("--evaluator", type=Path, help="open_clip CLIP weights (default: generated)")
    p.add_argument("--evaluator-kind", default="clip-vit-b-32", help="kind of --evaluator")
    p.add_argument("--prompt", help="the prompt to improve (default: the workflow's)")
    p.add_argument("--size", type=int, default=None, help="image size (default 64 on CPU)")
    p.add_argument("--steps", type=int, default=None, help="sampling steps (default 8 on CPU)")
    p.add_argument("--iterations", type=int, default=None, help="gradient iterations")
    p.add_argument("--generations", type=int, default=None, help="evolution generations")
    p.add_argument("--population", type=int, default=None, help="evolution population")
    p.add_argument("--seed", type=int, default=0)
    return p.parse_args(argv)


def default_models() -> tuple[Path, Path]:
    """The generated SD1.5-format checkpoint and a random-weight evaluator, made once."""
    from comfy_env import bootstrap_comfy, load_pack

    bootstrap_comfy()
    load_pack()
    from make_sd15_checkpoint import make_checkpoint
    from make_tiny_evaluator import make_evaluator

    checkpoint = CACHE_DIR / "models" / "dpo_test_sd15.safetensors"
    if not checkpoint.exists():
        make_checkpoint(checkpoint)
    evaluator = CACHE_DIR / "models" / "dpo_demo_evaluator.safetensors"
    if not evaluator.exists():
        make_evaluator(evaluator)
    return checkpoint, evaluator


def configure(
    api: dict, args: argparse.Namespace, checkpoint: str, evaluator: tuple[str, str]
) -> dict:
    """The shipped workflow with the chosen models and, on CPU, CPU-sized settings."""
    import torch

    on_gpu = torch.cuda.is_available()
    size = args.size or (512 if on_gpu else 64)
    overrides = {
        "width": size, "height": size, "steps": args.steps or (20 if on_gpu else 8),
        "seed": args.seed,
    }  # fmt: skip
    for node in api.values():
        inputs, kind = node["inputs"], node["class_type"]
        for key, value in overrides.items():
            if key in inputs and not isinstance(inputs[key], list):
                inputs[key] = value
        if kind == "CheckpointLoaderSimple":
            inputs["ckpt_name"] = checkpoint
        elif kind == "DPOEvaluatorLoader":
            inputs.update(kind=evaluator[0], weights=evaluator[1])
        elif kind == "PrimitiveStringMultiline" and args.prompt:
            inputs["value"] = args.prompt
        elif kind == "DPOShortcutGradientOptimizer":
            inputs["iterations"] = args.iterations or (20 if on_gpu else 6)
        elif kind == "DPOEvolutionarySearch":
            inputs["generations"] = args.generations or (10 if on_gpu else 2)
            inputs["population"] = args.population or (20 if on_gpu else 6)
    return api


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    args = parse_args(argv)
    checkpoint, evaluator = default_models()
    kind = "embedded config"
    if args.checkpoint:
        checkpoint = args.checkpoint.resolve()
    if args.evaluator:
        evaluator, kind = args.evaluator.resolve(), args.evaluator_kind
    api = configure(json.loads(WORKFLOW.read_text()), args, checkpoint.name, (kind, evaluator.name))
    log.info("starting ComfyUI (headless) with the DPO-Diff nodes ...")
    with HeadlessComfy(
        checkpoints=[checkpoint], extra_models={"dpo_evaluators": [evaluator]}
    ) as server:
        log.info("running %s on %s", WORKFLOW.name, checkpoint.name)
        entry = server.run(api, timeout=6 * 3600)
        status = entry["status"]["status_str"]
        if status != "success":
            errors = [m[1] for m in entry["status"]["messages"] if m[0] == "execution_error"]
            detail = errors[0]["exception_message"] if errors else json.dumps(entry["status"])
            log.error("the workflow failed: %s", detail)
            return 1
        texts = {
            nid: "".join(out["text"]) for nid, out in entry["outputs"].items() if "text" in out
        }
        OUT.mkdir(parents=True, exist_ok=True)
        saved = []
        for out in entry["outputs"].values():
            for image in out.get("images", []):
                source = server.output_dir / image["subfolder"] / image["filename"]
                if image.get("type") == "output" and source.is_file():
                    shutil.copy(source, OUT / image["filename"])
                    saved.append(OUT / image["filename"])
        record_dir = server.output_dir / "dpo_diff"
        for record in record_dir.glob("*.json"):
            shutil.copy(record, OUT / record.name)
    print("\noptimized negative prompt:", texts.get("14", "?"))
    print("\n" + texts.get("10", ""))
    print("\nimages and run records in", OUT.relative_to(REPO_ROOT))
    for path in saved:
        print("  ", path.relative_to(REPO_ROOT))
    return 0


if __name__ == "__main__":
    sys.exit(main())
