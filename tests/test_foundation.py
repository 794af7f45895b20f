"""The fixtures are real: ComfyUI's own classes, loader, sampler and server."""

from __future__ import annotations

import copy

import torch

SMOKE_WORKFLOW = {
    "1": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": None}},
    "2": {"class_type": "CLIPTextEncode", "inputs": {"text": "a red circle", "clip": ["1", 1]}},
    "3": {"class_type": "CLIPTextEncode", "inputs": {"text": "blurry", "clip": ["1", 1]}},
    "4": {"class_type": "EmptyLatentImage", "inputs": {"width": 64, "height": 64, "batch_size": 1}},
    "5": {
        "class_type": "KSampler",
        "inputs": {
            "model": ["1", 0],
            "positive": ["2", 0],
            "negative": ["3", 0],
            "latent_image": ["4", 0],
            "seed": 7,
            "steps": 4,
            "cfg": 7.5,
            "sampler_name": "euler",
            "scheduler": "normal",
            "denoise": 1.0,
        },
    },  # fmt: skip
    "6": {"class_type": "VAEDecode", "inputs": {"samples": ["5", 0], "vae": ["1", 2]}},
    "7": {"class_type": "SaveImage", "inputs": {"images": ["6", 0], "filename_prefix": "smoke"}},
}


def test_tiny_models_are_comfy_classes_and_differentiable(tiny_sd1):
    import comfy.model_base
    import comfy.sd

    model, clip, vae = tiny_sd1
    assert isinstance(model.model, comfy.model_base.BaseModel)
    assert type(model.model.model_config).__name__ == "SD15"
    assert isinstance(clip, comfy.sd.CLIP) and isinstance(vae, comfy.sd.VAE)

    # forward + backward through text encoder, UNet and VAE decoder, with ComfyUI's modules
    from dpo_diff.nodes.text_encoding import encode_embeddings, sd1_text_encoder

    unet = model.model
    encoder = sd1_text_encoder(clip)
    ids = torch.tensor([[49406, 320, 1929, 49407] + [49407] * 73])
    rows = encoder.transformer.get_input_embeddings()(ids).detach().requires_grad_(True)
    hidden = encode_embeddings(encoder, rows)
    x = torch.randn(1, 4, 8, 8)
    sigma = torch.tensor([1.0])
    x0 = unet.apply_model(x, sigma, c_crossattn=hidden)
    image = vae.first_stage_model.decode(x0 / 0.18215)
    image.square().mean().backward()
    assert rows.grad is not None and rows.grad.abs().sum() > 0
    assert torch.isfinite(image).all()


def test_generated_checkpoint_is_detected_as_sd15(sd15_checkpoint):
    import nodes as comfy_nodes

    name = sd15_checkpoint.name
    import folder_paths

    folder_paths.add_model_folder_path("checkpoints", str(sd15_checkpoint.parent))
    model, clip, vae = comfy_nodes.CheckpointLoaderSimple().load_checkpoint(name)[:3]
    assert type(model.model.model_config).__name__ == "SD15"
    assert model.model.diffusion_model.model_channels == 320
    tokens = clip.tokenize("a red circle")
    cond = clip.encode_from_tokens(tokens)
    assert cond.shape == (1, 77, 768)
    assert vae.latent_channels == 4


def test_server_runs_a_real_workflow_and_loads_the_pack(comfy_server, sd15_checkpoint):
    workflow = copy.deepcopy(SMOKE_WORKFLOW)
    workflow["1"]["inputs"]["ckpt_name"] = sd15_checkpoint.name
    entry = comfy_server.run(workflow, timeout=300)
    assert entry["status"]["status_str"] == "success", entry["status"]
    images = entry["outputs"]["7"]["images"]
    assert len(images) == 1
    written = comfy_server.output_dir / images[0].get("subfolder", "") / images[0]["filename"]
    assert written.is_file() and written.stat().st_size > 0

    log = comfy_server.log_tail(200_000)
    assert "IMPORT FAILED" not in log, log
    assert "dpo_diff" in log  # listed among the custom nodes ComfyUI imported
