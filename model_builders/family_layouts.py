"""Small SD 2.x and SDXL layouts (plain data, importable without ComfyUI), the counterparts of
``layouts.TINY_*`` for the tests and benchmarks of those families.

SDXL keeps its fixed widths: clip_l 768 and clip_g 1280 side by side make the 2048-wide context,
clip_g's 1280-wide pooled output feeds the 2816-channel ADM input; only depths, heads and MLP
widths shrink. Both encoders keep 3 layers because SDXL (and SD 2.x) read the penultimate one.
"""

from __future__ import annotations

# One UNet level of width 64, one transformer block. 64, not 32: ComfyUI's UNet normalises in
# 32 groups, and with one channel per group the normalisation after each ResBlock's embedding
# input cancels it exactly, so timestep and SDXL's ADM inputs (pooled text, sizes) would have
# no effect at all.
SMALL_UNET: dict = {
    "model_channels": 64,
    "num_res_blocks": [1],
    "channel_mult": [1],
    "transformer_depth": [1],
    "transformer_depth_output": [1, 1],
    "transformer_depth_middle": 1,
    "num_heads": 2,
    "num_head_channels": -1,
}

# clip_l / clip_g of SDXL at their real widths, three layers, a narrow MLP.
SMALL_SDXL_TEXT: dict = {"num_hidden_layers": 3, "intermediate_size": 256, "num_attention_heads": 2}

# SD 2.x: OpenCLIP-H's kind (gelu, pads with 0, penultimate layer) at width 64; the UNet's
# context follows it.
SMALL_SD2_TEXT: dict = {
    "hidden_size": 64,
    "intermediate_size": 128,
    "num_hidden_layers": 3,
    "num_attention_heads": 2,
}
SMALL_SD2_UNET: dict = {**SMALL_UNET, "context_dim": 64}
