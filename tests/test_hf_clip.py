"""A transformers-format CLIP file loads by its shapes alone and scores like the model itself."""

from __future__ import annotations

import pytest
import torch
from safetensors.torch import save_file

from dpo_core.hf_clip import config_from_state_dict, load_hf_clip_scorer

SMALL = dict(
    text_config=dict(hidden_size=128, intermediate_size=256, num_hidden_layers=2,
                     num_attention_heads=2, max_position_embeddings=77, vocab_size=49408),
    vision_config=dict(hidden_size=64, intermediate_size=128, num_hidden_layers=3,
                       num_attention_heads=1, image_size=32, patch_size=8),
    projection_dim=32,
)  # fmt: skip


def test_hf_clip_file_loads_and_scores(tmp_path):
    from transformers import CLIPConfig, CLIPModel

    torch.manual_seed(0)
    model = CLIPModel(CLIPConfig(**SMALL)).eval()
    path = tmp_path / "model.safetensors"
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(path))

    inferred = config_from_state_dict(dict(model.state_dict()))
    assert inferred["vision_config"]["image_size"] == 32
    assert inferred["vision_config"]["num_hidden_layers"] == 3
    assert inferred["text_config"]["hidden_size"] == 128 and inferred["projection_dim"] == 32

    scorer = load_hf_clip_scorer(path)
    images = torch.rand(2, 3, 48, 48, requires_grad=True)
    embedded = scorer.embed_images(images)
    assert embedded.shape == (2, 32)
    embedded.sum().backward()
    assert images.grad is not None and images.grad.abs().sum() > 0

    texts = scorer.embed_texts(["a red circle", "a blue square"])
    ids = scorer.tokenizer(["a red circle"])
    with torch.no_grad():
        direct = model.get_text_features(input_ids=ids)
    direct = direct if torch.is_tensor(direct) else direct.pooler_output
    assert torch.allclose(texts[:1], direct, atol=1e-5)


def test_open_clip_file_is_refused_with_a_hint(tmp_path):
    path = tmp_path / "not_hf.safetensors"
    save_file({"visual.proj": torch.zeros(2, 2)}, str(path))
    with pytest.raises(ValueError, match="transformers-format CLIP"):
        load_hf_clip_scorer(path)
