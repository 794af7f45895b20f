"""The ComfyUI versions the pack supports: the server under test is the one asked for
(``make test`` runs the server tests on the newest and on the oldest), the declared minimum is
the oldest tested, and the rules older releases enforce when a pack registers its nodes hold.
Not every tested release still checks those rules, so they are checked here for every node: one
refused node made every DPO node missing (registration stops at the first error)."""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

import tomllib
from comfy_env import COMFYUI_RELEASES, NEWEST_COMFYUI, OLDEST_COMFYUI

REPO_ROOT = Path(__file__).resolve().parents[1]


def test_the_server_runs_the_comfyui_version_asked_for(comfy_server):
    wanted = os.environ.get("DPO_COMFYUI_VERSION") or NEWEST_COMFYUI
    if os.environ.get("COMFYUI_DIR"):
        wanted = None  # someone's own checkout: any version
    stats = comfy_server.get("/system_stats")
    assert wanted in (None, stats["system"]["comfyui_version"]), stats["system"]
    assert "dpo_diff" in comfy_server.log_tail(200_000)
    info = comfy_server.get("/object_info/DPOSearchSpaceBuilder")
    assert "space_as_json" in info["DPOSearchSpaceBuilder"]["output_name"]


def test_the_declared_minimum_is_the_oldest_tested_release():
    tool = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["tool"]["comfy"]
    assert tool["requires-comfyui"] == f">={OLDEST_COMFYUI}"
    versions = sorted(COMFYUI_RELEASES, key=lambda v: tuple(int(p) for p in v.split(".")))
    assert versions[0] == OLDEST_COMFYUI and versions[-1] == NEWEST_COMFYUI


def _schemas(comfy):
    from dpo_diff.nodes.registry import all_nodes

    return [node.FINALIZE_SCHEMA() for node in all_nodes()]  # unnamed outputs get their ids


def test_no_node_has_an_input_and_an_output_with_the_same_id(comfy):
    # ComfyUI 0.3.64 raises "Ids must be unique between inputs and outputs" for these.
    clashes = {}
    for schema in _schemas(comfy):
        inputs = {i.id for i in schema.inputs}
        outputs = {o.id for o in schema.outputs}
        if inputs & outputs:
            clashes[schema.node_id] = sorted(inputs & outputs)
    assert not clashes, clashes


def test_ids_are_unique_among_inputs_and_among_outputs(comfy):
    for schema in _schemas(comfy):
        for kind, items in (("input", schema.inputs), ("output", schema.outputs)):
            repeated = [i for i, n in Counter(x.id for x in items).items() if n > 1]
            assert not repeated, f"{schema.node_id}: repeated {kind} ids {repeated}"


def test_every_node_passes_comfyuis_own_checks(comfy):
    from dpo_diff.nodes.registry import all_nodes

    for node in all_nodes():
        node.GET_SCHEMA()
