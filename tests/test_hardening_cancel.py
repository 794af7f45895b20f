"""Cancel in every phase, on the real headless ComfyUI: the space builder waiting for the LLM,
the gradient, the evolution and the held-out scoring. Each test waits until the run is in
that phase, POSTs /interrupt, and asserts that the prompt ends within 2 s as interrupted and
that the run record on disk is complete and loads."""

from __future__ import annotations

import json
import time
from pathlib import Path

from dpo_core.record import RunRecord
from tests.llm_server import ChatServer, answer, completion

PROMPT = "a cat sitting on a red sofa"
SAMPLING = {"steps": 4, "cfg": 7.5, "sampler_name": "euler", "scheduler": "normal",
            "width": 64, "height": 64, "search_seeds": 1}  # fmt: skip


def _inputs(server, class_type: str, **given) -> dict:
    """Inputs for ``class_type``: ``given`` where the node has them, its defaults elsewhere
    (read from the server, so the test follows the node's current inputs)."""
    spec = server.get(f"/object_info/{class_type}")[class_type]["input"]
    inputs = {}
    for group in ("required", "optional"):
        for name, entry in spec.get(group, {}).items():
            options = entry[1] if len(entry) > 1 and isinstance(entry[1], dict) else {}
            if name in given:
                inputs[name] = given[name]
            elif group == "required" and "default" in options:
                inputs[name] = options["default"]
            elif group == "required" and isinstance(entry[0], list) and entry[0]:
                inputs[name] = entry[0][0]
            elif group == "required" and options.get("options"):
                inputs[name] = options["options"][0]
    return inputs


def _workflow(server, checkpoint: str, evaluator: str, seed: int, *,
              gradient: dict | None = None, evolution: dict | None = None) -> dict:  # fmt: skip
    """The test checkpoint and evaluator, a WordNet space, and the optimizer node(s) asked for."""
    api: dict = {
        "1": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": checkpoint}},
        "3": {"class_type": "DPOEvaluatorLoader",
              "inputs": {"kind": "embedded config", "weights": evaluator}},
        "4": {"class_type": "DPOSearchSpaceBuilder", "inputs": _inputs(
            server, "DPOSearchSpaceBuilder", prompt=PROMPT, mode="negative", source="wordnet",
            candidates_per_word=5, include_library=False, clip=["1", 1])},
    }  # fmt: skip
    models = {"model": ["1", 0], "clip": ["1", 1], "vae": ["1", 2], "evaluator": ["3", 0],
              "space": ["4", 0], "seed": seed, **SAMPLING}  # fmt: skip
    if gradient is not None:
        kind = "DPOShortcutGradientOptimizer"
        api["5"] = {"class_type": kind, "inputs": _inputs(server, kind, **models, **gradient)}
        api["8"] = {"class_type": "PreviewImage", "inputs": {"images": ["5", 1]}}
    if evolution is not None:
        kind = "DPOEvolutionarySearch"
        given = {**models, "holdout_seeds": 1, "batch_size": 1, **evolution}
        api["6"] = {"class_type": kind, "inputs": _inputs(server, kind, **given)}
        api["10"] = {"class_type": "PreviewAny", "inputs": {"source": ["6", 3]}}
    return api


def _records(server, kind: str) -> set[Path]:
    folder = server.output_dir / "dpo_diff"
    return set(folder.glob(f"{kind}_*.json")) if folder.is_dir() else set()


def _wait_for_record(server, prompt_id: str, kind: str, before: set[Path], ready,
                     timeout: float = 600.0) -> Path:  # fmt: skip
    """The new record file of this run once ``ready(record data)`` holds."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        entry = (server.get(f"/history/{prompt_id}") or {}).get(prompt_id)
        if entry and entry.get("status", {}).get("status_str") in ("success", "error"):
            raise AssertionError(f"the prompt ended first: {json.dumps(entry['status'])[:3000]}")
        for path in _records(server, kind) - before:
            try:
                if ready(json.loads(path.read_text())):
                    return path
            except (json.JSONDecodeError, OSError):
                pass  # being replaced right now
        time.sleep(0.1)
    raise AssertionError(f"no {kind} record got ready:\n{server.log_tail()}")


def _interrupt_and_time(server, prompt_id: str) -> float:
    """POST /interrupt; seconds until the server recorded the prompt as interrupted (by the
    timestamp of its execution_interrupted message, so our polling adds nothing)."""
    posted_ms = time.time() * 1000
    server.interrupt()
    entry = server.wait(prompt_id, timeout=120)
    assert entry["status"]["status_str"] == "error", entry["status"]
    ended = [m[1]["timestamp"] for m in entry["status"]["messages"]
             if m[0] == "execution_interrupted"]  # fmt: skip
    assert ended, entry["status"]
    return (ended[0] - posted_ms) / 1000


def test_cancel_while_the_space_builder_waits_for_the_llm(comfy_server):
    llm = ChatServer(answer(200, completion('{"cat": ["dog"]}'), delay=120))
    try:
        api = {
            "4": {"class_type": "DPOSearchSpaceBuilder",
                  "inputs": {"prompt": PROMPT, "mode": "negative", "source": "llm",
                             "candidates_per_word": 5, "include_library": False,
                             "llm_base_url": llm.url, "llm_model": "m", "llm_timeout": 300.0}},
            "7": {"class_type": "PreviewAny", "inputs": {"source": ["4", 1]}},
        }  # fmt: skip
        prompt_id = comfy_server.submit(api)
        deadline = time.time() + 120
        while not llm.requests and time.time() < deadline:
            time.sleep(0.05)
        assert llm.requests, comfy_server.log_tail()
        assert _interrupt_and_time(comfy_server, prompt_id) < 2.0  # before: 64 s and more
    finally:
        llm.close()


def test_cancel_during_the_gradient(comfy_server, sd15_checkpoint, tiny_evaluator_file):
    files = (sd15_checkpoint.name, tiny_evaluator_file.name)
    api = _workflow(comfy_server, *files, seed=1301,
                    gradient={"iterations": 500, "grad_steps": 1})  # fmt: skip
    before = _records(comfy_server, "gradient")
    prompt_id = comfy_server.submit(api)
    path = _wait_for_record(comfy_server, prompt_id, "gradient", before,
                            lambda r: len(r["loss_curve"]) >= 1)  # fmt: skip
    assert _interrupt_and_time(comfy_server, prompt_id) < 2.0
    record = RunRecord.load(path)
    assert 1 <= len(record.loss_curve) < 500 and record.logits is not None
    assert record.stopped_early  # marked: the run did not finish


def test_cancel_during_the_evolution(comfy_server, sd15_checkpoint, tiny_evaluator_file):
    files = (sd15_checkpoint.name, tiny_evaluator_file.name)
    api = _workflow(comfy_server, *files, seed=1302, evolution={"evaluations": 200, "population": 4})
    before = _records(comfy_server, "search")
    prompt_id = comfy_server.submit(api)
    path = _wait_for_record(comfy_server, prompt_id, "search", before,
                            lambda r: len(r["candidates"]) >= 2)  # fmt: skip
    assert _interrupt_and_time(comfy_server, prompt_id) < 2.0
    record = RunRecord.load(path)
    assert 2 <= len(record.candidates) < 200 and record.stopped_early
    assert len({c.choice for c in record.candidates}) == len(record.candidates)


def test_cancel_during_the_held_out_scoring(comfy_server, sd15_checkpoint, tiny_evaluator_file):
    files = (sd15_checkpoint.name, tiny_evaluator_file.name)
    api = _workflow(comfy_server, *files, seed=1303,
                    evolution={"evaluations": 2, "population": 2, "holdout_seeds": 8})
    before = _records(comfy_server, "search")
    prompt_id = comfy_server.submit(api)
    # the search budget is spent: the held-out seeds are being scored now
    path = _wait_for_record(comfy_server, prompt_id, "search", before,
                            lambda r: len(r["candidates"]) >= r["config"]["evaluations"])  # fmt: skip
    assert _interrupt_and_time(comfy_server, prompt_id) < 2.0
    record = RunRecord.load(path)
    assert len(record.candidates) >= 2 and record.holdout is None and record.stopped_early
