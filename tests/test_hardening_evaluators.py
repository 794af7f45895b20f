"""Bad evaluator files get one message each: the file, what is wrong, which kinds fit (item 6);
the loader's own input check leaves ComfyUI's check of ``kind`` on and refuses unknown or
``../`` weights names (item 7)."""

from __future__ import annotations

import asyncio
import json

import pytest
import torch
from safetensors.torch import save_file

from dpo_core.scorers import OpenClipScorer, WeightsFileError, kinds_that_fit, load_state_dict


@pytest.fixture(scope="module")
def tiny(tiny_evaluator_file) -> tuple[dict[str, torch.Tensor], dict]:
    """The tiny evaluator's weights and the open_clip config stored in its file."""
    from dpo_core.scorers import embedded_config

    return load_state_dict(tiny_evaluator_file), embedded_config(tiny_evaluator_file)


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("empty.safetensors", b"", "is empty (0 bytes)"),
        ("junk.safetensors", b"\x10\x00\x00\x00\x00\x00\x00\x00{}garbage",
         "is not a readable safetensors file"),
        ("empty.pt", b"", "is empty (0 bytes)"),
        ("junk.pt", b"PK\x03\x04 not a zip archive", "is not a torch weights file"),
    ],
)  # fmt: skip
def test_corrupt_and_empty_files_name_the_file(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(WeightsFileError) as info:
        load_state_dict(path)
    assert str(info.value).startswith(f"evaluator file {name} ") and message in str(info.value)


def test_truncated_torch_file_and_pickled_objects(tmp_path):
    torch.save({"w": torch.zeros(4)}, tmp_path / "whole.pt")
    data = (tmp_path / "whole.pt").read_bytes()
    (tmp_path / "cut.pt").write_bytes(data[: len(data) // 2])
    with pytest.raises(WeightsFileError, match="cut.pt is not a torch weights file"):
        load_state_dict(tmp_path / "cut.pt")
    torch.save({"w": torch.zeros(4), "where": tmp_path}, tmp_path / "objects.pt")
    with pytest.raises(WeightsFileError) as info:
        load_state_dict(tmp_path / "objects.pt")
    # torch's own message advises loading with weights_only=False: that is never passed on
    assert "objects.pt holds more than tensors" in str(info.value)
    assert "weights_only" not in str(info.value)


def test_invalid_embedded_config(tiny, tmp_path):
    from dpo_core.scorers import EMBEDDED_KIND, load_evaluator

    state = tiny[0]
    save_file(state, str(tmp_path / "bad_json.safetensors"), metadata={"open_clip_config": "{x"})
    with pytest.raises(WeightsFileError, match="bad_json.safetensors: its embedded open_clip "
                       "config .* is not valid JSON"):  # fmt: skip
        load_evaluator(EMBEDDED_KIND, tmp_path / "bad_json.safetensors")
    config = json.dumps({"embed_dim": 32, "no_such_setting": 1})
    save_file(state, str(tmp_path / "bad_keys.safetensors"), metadata={"open_clip_config": config})
    with pytest.raises(WeightsFileError, match="does not describe a CLIP model"):
        load_evaluator(EMBEDDED_KIND, tmp_path / "bad_keys.safetensors")
    save_file(state, str(tmp_path / "plain.safetensors"))
    with pytest.raises(WeightsFileError, match="plain.safetensors has no embedded open_clip config"):
        load_evaluator(EMBEDDED_KIND, tmp_path / "plain.safetensors")


def test_weights_of_another_size_give_one_line_not_a_dump(tiny, tmp_path):
    state, config = tiny
    save_file(state, str(tmp_path / "tiny.safetensors"))
    wider = {**config, "embed_dim": config["embed_dim"] * 2}
    with pytest.raises(WeightsFileError) as info:
        OpenClipScorer.from_checkpoint("custom", tmp_path / "tiny.safetensors", model_config=wider)
    message = str(info.value)
    assert message.startswith("evaluator file tiny.safetensors does not hold custom weights")
    assert "in the file" in message and "\n" not in message and len(message) < 500


def test_the_wrong_kind_says_which_kinds_fit(tiny, tmp_path):
    save_file(tiny[0], str(tmp_path / "tiny.safetensors"))
    from dpo_core.scorers import load_scorer

    with pytest.raises(WeightsFileError) as info:
        load_scorer("clip-vit-b-32", tmp_path / "tiny.safetensors")  # before: a size-mismatch dump
    assert "does not hold clip-vit-b-32 weights" in str(info.value)
    assert "embedded config" in str(info.value) and len(str(info.value)) < 600
    assert kinds_that_fit({"visual.conv1.weight": torch.zeros(768, 3, 32, 32)}) == ["clip-vit-b-32"]
    assert kinds_that_fit({"visual.conv1.weight": torch.zeros(1280, 3, 14, 14)}) == ["hpsv2"]
    hf = {"vision_model.embeddings.patch_embedding.weight": torch.zeros(1)}
    assert kinds_that_fit(hf) == ["transformers CLIP"]


# --- item 7 ----------------------------------------------------------------------------------
def _comfy_validates(node_class, inputs: dict) -> tuple[bool, list]:
    """ComfyUI's own validation of one node of a prompt (execution.validate_inputs)."""
    import execution

    import nodes

    nodes.NODE_CLASS_MAPPINGS.setdefault("DPOEvaluatorLoader", node_class)
    prompt = {"1": {"class_type": "DPOEvaluatorLoader", "inputs": inputs}}
    valid, errors, _ = asyncio.run(execution.validate_inputs("test", prompt, "1", {}))
    return valid, errors


def test_comfyui_still_checks_kind_and_weights(comfy, tmp_path, tiny_evaluator_file):
    import folder_paths
    from dpo_diff.nodes.evaluator_loader import FOLDER, EvaluatorLoader

    from dpo_core.scorers import EMBEDDED_KIND

    saved = folder_paths.folder_names_and_paths[FOLDER]
    try:
        folder_paths.folder_names_and_paths[FOLDER] = ([str(tmp_path)], saved[1])
        (tmp_path / tiny_evaluator_file.name).symlink_to(tiny_evaluator_file)
        folder_paths.filename_list_cache.pop(FOLDER, None)
        good = {"kind": EMBEDDED_KIND, "weights": tiny_evaluator_file.name}
        assert _comfy_validates(EvaluatorLoader, good)[0]
        # before: validate_inputs(kind, weights) turned ComfyUI's list check off for both
        valid, errors = _comfy_validates(EvaluatorLoader, {**good, "kind": "no such kind"})
        assert not valid and "kind" in json.dumps(errors)
        for name in ("../../secrets.safetensors", "nothere.safetensors"):
            valid, errors = _comfy_validates(EvaluatorLoader, {**good, "weights": name})
            assert not valid and "is not a file in" in json.dumps(errors)
    finally:
        folder_paths.folder_names_and_paths[FOLDER] = saved
        folder_paths.filename_list_cache.pop(FOLDER, None)
