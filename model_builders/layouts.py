"""Named model layouts shared by the tests, the benchmarks and the model generators.

All are overrides of SD1.5's layouts in ``model_builders/sd1.py`` (built with ComfyUI's own
classes) or open_clip CLIP configs.
"""

from __future__ import annotations

# The smallest UNet that ComfyUI still detects as SD1.5 (detection keys on width 320 and
# context 768); with the full CLIP-L and VAE it makes the generated SD1.5-format checkpoint.
DETECTABLE_SD15_UNET: dict = {
    "model_channels": 320,
    "num_res_blocks": [1],
    "channel_mult": [1],
    "transformer_depth": [1],
    "transformer_depth_output": [1, 1],
    "transformer_depth_middle": 1,
    "context_dim": 768,
}

# The full four-level SD1.5 UNet (860M parameters): an empty override (the GPU benchmark's model).
SD15_FULL_UNET: dict = {}

# A small SD15 UNet (one level, width 32) with a matching small CLIP text model (width 64)
# and a narrow VAE: forward + backward through all three in milliseconds.
TINY_UNET: dict = {
    "model_channels": 32,
    "num_res_blocks": [1],
    "channel_mult": [1],
    "transformer_depth": [1],
    "transformer_depth_output": [1, 1],
    "context_dim": 64,
    "num_heads": 2,
}
TINY_TEXT: dict = {
    "hidden_size": 64,
    "intermediate_size": 128,
    "num_hidden_layers": 2,
    "num_attention_heads": 2,
    "projection_dim": 64,
}
TINY_VAE: dict = {"ch": 32, "ch_mult": [1, 2, 2, 2], "num_res_blocks": 1}

# A tiny open_clip CLIP (the evaluator of tests and of demos on random checkpoints).
TINY_EVALUATOR: dict = {
    "embed_dim": 32,
    "vision_cfg": {"image_size": 32, "layers": 2, "width": 64, "patch_size": 8, "head_width": 32},
    "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 64, "heads": 2, "layers": 2},
}
