"""Shared fixtures: the real ComfyUI in-process on CPU, small SD1 models built with ComfyUI's
classes, a generated SD1.5-format checkpoint, and a headless ComfyUI server with this pack."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT / "scripts"))
sys.path.append(str(REPO_ROOT))  # appended: ComfyUI's own top-level ``nodes`` module must win

from comfy_env import CACHE_DIR, bootstrap_comfy, load_pack  # noqa: E402

from model_builders.layouts import TINY_TEXT, TINY_UNET, TINY_VAE  # noqa: E402

CHECKPOINT_NAME = "dpo_test_sd15.safetensors"


def pytest_collection_modifyitems(items):
    """Mark every test that needs the headless server, so ``pytest -m "not server"`` runs the
    fast in-process tests alone."""
    for item in items:
        if "comfy_server" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.server)


@pytest.fixture(scope="session")
def comfy():
    """The real ComfyUI, importable in this process, running on CPU; returns the pack module."""
    bootstrap_comfy()
    return load_pack()


@pytest.fixture()
def output_dir(comfy, tmp_path):
    """ComfyUI's output folder pointed at this test's tmp_path (run records and images land
    there), restored afterwards."""
    import folder_paths

    before = folder_paths.get_output_directory()
    folder_paths.set_output_directory(str(tmp_path))
    yield tmp_path
    folder_paths.set_output_directory(before)


@pytest.fixture(scope="session", autouse=True)
def one_torch_thread():
    """The tests' models are tiny: one thread is as fast, and it keeps this process from
    spinning against the headless server (and anything else) on a 2-core machine, which
    slowed tiny forward passes down a hundredfold."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def build_tiny_sd1(comfy):
    """A function making (MODEL, CLIP, VAE) of SD1 kind with ComfyUI's classes, seeded weights."""
    from dpo_diff.model_builders.sd1 import build_sd1_clip, build_sd1_model, build_sd1_vae

    def build(seed: int = 0):
        return (
            build_sd1_model(TINY_UNET, seed=seed),
            build_sd1_clip(TINY_TEXT, seed=seed + 1),
            build_sd1_vae(TINY_VAE, seed=seed + 2),
        )

    return build


@pytest.fixture(scope="session")
def tiny_sd1(build_tiny_sd1):
    """(MODEL, CLIP, VAE) of SD1 kind built with ComfyUI's classes, seeded weights."""
    return build_tiny_sd1(0)


@pytest.fixture(scope="session")
def sd15_checkpoint(comfy) -> Path:
    """A random-weight checkpoint in the SD1.5 single-file format, generated once into the cache."""
    from make_sd15_checkpoint import make_checkpoint

    path = CACHE_DIR / "models" / CHECKPOINT_NAME
    if not path.exists():
        make_checkpoint(path, seed=0)
    return path


@pytest.fixture(scope="session")
def comfy_server(sd15_checkpoint, tiny_evaluator_file):
    """A headless ComfyUI on 127.0.0.1 with this pack in custom_nodes, the checkpoint in
    models/checkpoints and a tiny evaluator in models/dpo_evaluators."""
    from headless_comfy import HeadlessComfy

    server = HeadlessComfy(
        checkpoints=[sd15_checkpoint], extra_models={"dpo_evaluators": [tiny_evaluator_file]}
    )
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def tiny_evaluator_file(comfy, tmp_path_factory) -> Path:
    """A random-weight open_clip evaluator in a safetensors file that carries its own config."""
    from make_tiny_evaluator import make_evaluator

    return make_evaluator(tmp_path_factory.mktemp("evaluators") / "tiny_clip.safetensors")


@pytest.fixture(scope="session")
def tiny_evaluator(tiny_evaluator_file):
    from dpo_core.scorers import EMBEDDED_KIND, load_evaluator

    return load_evaluator(EMBEDDED_KIND, tiny_evaluator_file)
