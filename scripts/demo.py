"""The main job in one command (``make demo``): start a headless ComfyUI with this pack, run a
shipped prompt-enhancement workflow, print the optimized negative prompt and the report, and
save the before/after images to ``output/demo/``.

By default it runs ``workflows/DPO-Diff tiny world (CPU, no downloads).json`` on the tiny trained world that
ships with the pack (a small SD1.5-architecture model of coloured shapes, with its own judge),
so the before/after images mean something on any machine. ``--checkpoint PATH``
(``make demo CKPT=PATH``) runs ``workflows/DPO-Diff negative prompt search.json`` on your SD1.x
checkpoint instead, judged by ``--evaluator PATH`` (open_clip CLIP ViT-B/32 weights; without
it a random-weight evaluator stands in and the search has nothing real to optimize).
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
CHECKPOINT_WORKFLOW = REPO_ROOT / "workflows" / "api" / "DPO-Diff negative prompt search.json"
WORLD_WORKFLOW = REPO_ROOT / "workflows" / "api" / "DPO-Diff tiny world (CPU, no downloads).json"
GRID_NODE, NEGATIVE_NODE, REPORT_NODE = "9", "14", "10"  # node ids in both workflows
OUT = REPO_ROOT / "output" / "demo"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--checkpoint", type=Path, help="an SD1.x checkpoint (default: the tiny world)")
    p.add_argument("--evaluator", type=Path, help="CLIP weights judging --checkpoint's images")
    p.add_argument("--evaluator-kind", default="clip-vit-b-32", help="kind of --evaluator")
    p.add_argument("--prompt", help="the prompt to improve (default: the workflow's)")
    p.add_argument("--size", type=int, default=None, help="image size (checkpoint: 64 on CPU)")
    p.add_argument("--steps", type=int, default=None, help="sampling steps (checkpoint: 8 on CPU)")
    p.add_argument("--iterations", type=int, default=None, help="gradient iterations")
    p.add_argument("--generations", type=int, default=None, help="evolution generations")
    p.add_argument("--population", type=int, default=None, help="evolution population")
    p.add_argument("--seed", type=int, default=0)
    return p.parse_args(argv)


def random_evaluator() -> Path:
    """A random-weight open_clip evaluator, made once (stands in when none is given)."""
    from make_tiny_evaluator import make_evaluator

    path = CACHE_DIR / "models" / "dpo_demo_evaluator.safetensors"
    return path if path.exists() else make_evaluator(path)


def configure(api: dict, args: argparse.Namespace, checkpoint: str | None, evaluator) -> dict:
    """A shipped workflow with the chosen models and settings; on a CPU, a checkpoint run is
    shrunk to a size that finishes in minutes (the tiny world is that size already)."""
    import torch

    # CPU-sized defaults for a checkpoint run, then whatever the user asked for
    overrides: dict = {}
    if checkpoint is not None and not torch.cuda.is_available():
        overrides = {"width": 64, "height": 64, "steps": 8, "iterations": 6, "generations": 2,
                     "population": 6}  # fmt: skip
    size = {"width": args.size, "height": args.size} if args.size else {}
    asked = {"steps": args.steps, "iterations": args.iterations,
             "generations": args.generations, "population": args.population}  # fmt: skip
    overrides |= {"seed": args.seed, **size, **{k: v for k, v in asked.items() if v}}
    for node in api.values():
        inputs, kind = node["inputs"], node["class_type"]
        for key, value in overrides.items():
            if key in inputs and not isinstance(inputs[key], list):  # links stay links
                inputs[key] = value
        if kind == "CheckpointLoaderSimple":
            inputs["ckpt_name"] = checkpoint
        elif kind == "DPOEvaluatorLoader":
            inputs.update(kind=evaluator[0], weights=evaluator[1])
        elif kind == "PrimitiveStringMultiline" and args.prompt:
            inputs["value"] = args.prompt
    return api


def save_grid(source: Path, target: Path, scale: int = 4) -> None:
    """The before/after grid, enlarged so that 64-pixel images can be judged by eye."""
    from PIL import Image

    image = Image.open(source)
    image.resize((image.width * scale, image.height * scale), Image.Resampling.NEAREST).save(target)


def holdout_seeds(api: dict, records: list[Path]) -> list[int]:
    """The held-out seeds of the grid's columns: from the run record, else the workflow's
    search node (held-out seeds start 10000 above its seed input)."""
    for record in records:
        seeds = json.loads(record.read_text()).get("config", {}).get("holdout_seeds")
        if seeds:
            return [int(s) for s in seeds]
    for node in api.values():
        if node["class_type"] == "DPOEvolutionarySearch":
            inputs = node["inputs"]
            return [int(inputs["seed"]) + 10_000 + i for i in range(int(inputs["holdout_seeds"]))]
    return []


def verdict_text(prompt: str, image) -> tuple[str, bool]:
    """The world's attribute classifier on one image: "all right" or what is wrong."""
    if str(REPO_ROOT) not in sys.path:
        sys.path.insert(0, str(REPO_ROOT))
    from tiny_world.measure import Verdict
    from tiny_world.models import load_classifier

    global _CLASSIFIER
    if _CLASSIFIER is None:
        _CLASSIFIER = load_classifier()
    labels = _CLASSIFIER.predict(image[None])[0]
    verdict = Verdict(prompt, "", 0, labels, 1.0, 0.0)
    if verdict.exact:
        return "all right", True
    wrong = [f"{k}: {v}" for k, v in verdict.wrong_attributes.items()]
    wrong += sorted(verdict.unwanted)
    return "wrong: " + ", ".join(wrong), False


_CLASSIFIER = None


def labelled_grid(source: Path, target: Path, prompt: str, negative: str, seeds: list[int],
                  scale: int = 4) -> None:  # fmt: skip
    """The tiny world's before/after grid with words on it: the prompt, each row's negative
    prompt, each column's seed, and the classifier's verdict under every image."""
    import textwrap

    import numpy as np
    import torch
    from PIL import Image, ImageDraw

    grid = Image.open(source).convert("RGB")
    tile = grid.height // 2  # two rows: the original negative prompt, then the optimized one
    columns = grid.width // tile
    seeds = (seeds + [None] * columns)[:columns]
    side, top, below, cell = 230, 56, 44, tile * scale
    out = Image.new("RGB", (side + columns * (cell + 8), top + 2 * (cell + below) + 8), "white")
    draw = ImageDraw.Draw(out)
    draw.text((8, 8), f"prompt: {prompt}", fill=(0, 0, 0))
    draw.text((8, 24), "classifier verdict under each image (held-out seeds, never searched on)",
              fill=(90, 90, 90))  # fmt: skip
    rows = [("negative: (none)", ""), (f"negative: {negative or '(none)'}", negative)]
    right = [0, 0]
    for r, (label, _) in enumerate(rows):
        y = top + r * (cell + below)
        draw.multiline_text((8, y + 8), "\n".join(textwrap.wrap(label, 32)), fill=(0, 0, 0))
        for c in range(columns):
            x = side + c * (cell + 8)
            box = (c * tile, r * tile, (c + 1) * tile, (r + 1) * tile)
            piece = grid.crop(box)
            out.paste(piece.resize((cell, cell), Image.Resampling.NEAREST), (x, y))
            if r == 0 and seeds[c] is not None:
                draw.text((x, top - 14), f"seed {seeds[c]}", fill=(0, 0, 0))
            pixels = torch.from_numpy(np.asarray(piece, dtype=np.float32) / 255.0).movedim(-1, 0)
            text, ok = verdict_text(prompt, pixels)
            right[r] += ok
            lines = textwrap.wrap(text, max(12, cell // 7))[:2]
            draw.multiline_text((x, y + cell + 4), "\n".join(lines),
                                fill=(0, 120, 0) if ok else (180, 0, 0))  # fmt: skip
        draw.text((8, y + cell - 12), f"{right[r]}/{columns} all right", fill=(0, 0, 0))
    out.save(target)


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    args = parse_args(argv)
    checkpoints: list[Path] = []
    evaluators: list[Path] = []
    if args.checkpoint is None:
        workflow, checkpoint, evaluator = WORLD_WORKFLOW, None, None
        if args.evaluator:
            log.warning("--evaluator is ignored: the tiny world brings its own judge")
    else:
        workflow = CHECKPOINT_WORKFLOW
        if not args.checkpoint.is_file():
            log.error("checkpoint not found: %s", args.checkpoint)
            return 2
        checkpoints.append(args.checkpoint.resolve())
        checkpoint = checkpoints[0].name
        if args.evaluator:
            evaluators.append(args.evaluator.resolve())
            evaluator = (args.evaluator_kind, evaluators[0].name)
        else:
            log.warning("no --evaluator: a random-weight CLIP judges the images")
            evaluators.append(random_evaluator())
            evaluator = ("embedded config", evaluators[0].name)
    api = configure(json.loads(workflow.read_text()), args, checkpoint, evaluator)
    log.info("starting ComfyUI (headless) with the DPO-Diff nodes ...")
    server = HeadlessComfy(checkpoints=checkpoints, extra_models={"dpo_evaluators": evaluators})
    with server:
        log.info("running %s", workflow.name)
        entry = server.run(api, timeout=6 * 3600)
        if entry["status"]["status_str"] != "success":
            errors = [m[1] for m in entry["status"]["messages"] if m[0] == "execution_error"]
            detail = errors[0]["exception_message"] if errors else json.dumps(entry["status"])
            log.error("the workflow failed: %s", detail)
            return 1
        outputs = entry["outputs"]
        texts = {nid: "".join(out["text"]) for nid, out in outputs.items() if "text" in out}
        OUT.mkdir(parents=True, exist_ok=True)
        saved = []
        grid_source = None
        for nid, out in outputs.items():
            for image in out.get("images", []):
                folder = (
                    server.output_dir if image["type"] == "output" else server.base_dir / "temp"
                )
                source = folder / image["subfolder"] / image["filename"]
                if nid == GRID_NODE:
                    save_grid(source, OUT / "before_after_grid.png")
                    saved.append(OUT / "before_after_grid.png")
                    grid_source = source
                elif image["type"] == "output":
                    shutil.copy(source, OUT / image["filename"])
                    saved.append(OUT / image["filename"])
        records = sorted((server.output_dir / "dpo_diff").glob("*.json"))
        for record in records:
            shutil.copy(record, OUT / record.name)
        if args.checkpoint is None and grid_source is not None:  # the world's judge can label it
            prompt = next(n["inputs"]["value"] for n in api.values()
                          if n["class_type"] == "PrimitiveStringMultiline")  # fmt: skip
            labelled = OUT / "before_after_labelled.png"
            labelled_grid(grid_source, labelled, prompt, texts.get(NEGATIVE_NODE, ""),
                          holdout_seeds(api, records))  # fmt: skip
            saved.append(labelled)
    print("\noptimized negative prompt:", repr(texts.get(NEGATIVE_NODE, "?")))
    print("\n" + texts.get(REPORT_NODE, ""))
    print("\nbefore/after (top row: original negative prompt, bottom: optimized; held-out seeds)")
    print("images and run records in", OUT.relative_to(REPO_ROOT))
    for path in saved:
        print("  ", path.relative_to(REPO_ROOT))
    return 0


if __name__ == "__main__":
    sys.exit(main())
