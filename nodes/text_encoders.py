"""Every text encoder of a CLIP as one differentiable encoder over token-embedding rows.

The relaxation (``dpo_core.relaxation``) mixes rows of one token-embedding table. For a CLIP with
several encoders (SDXL: clip_l and clip_g) the table here is theirs side by side: row ``i`` is
``[E_l[i] | E_g[i]]``, so one mixing weight mixes the same candidate at the same position in
every encoder, and the gradient reaches the weights through all of them.

The encoders agree on the token ids (one BPE vocabulary, same start and end tokens) but not on
the padding: clip_l pads with the end token, clip_g and SD2's OpenCLIP-H with 0. When they
differ, the stack's ``pad_id`` is one extra row past the vocabulary holding each encoder's own
pad row, so a one-hot sequence is, in every encoder, exactly what its own tokenizer writes.

Each encoder is walked layer by layer with out-of-place residuals (ComfyUI's ``CLIPLayer`` adds
in place, which autograd cannot differentiate), read at the layer ComfyUI reads it (the
family's default, or clip skip from ``CLIPSetLastLayer``), with ComfyUI's pooled output: the
final-layer-normed state at the end token, projected where ComfyUI projects it.
"""

from __future__ import annotations

from typing import Any

import comfy.ops
import torch
from comfy.ldm.modules.attention import optimized_attention_for_device

from .model_family import Family, clip_family


def encoder_modules(clip, family: Family) -> list[Any]:  # comfy.sd1_clip.SDClipModel each
    inner = clip.cond_stage_model
    return [getattr(inner, name) for name in family.encoders]


def first_text_encoder(clip) -> Any:
    """The CLIP's first text encoder (SD1/SDXL: clip_l, SD2: clip_h); ValueError for a CLIP of
    another family."""
    family = clip_family(clip)
    if family is None:
        found = type(clip.cond_stage_model).__name__
        raise ValueError(f"expected the CLIP of an SD1.x, SD2.x or SDXL model, got {found}")
    return encoder_modules(clip, family)[0]


def read_layer(encoder: Any, clip_layer: int | None) -> tuple[str, int | None]:
    """("last", None) or ("hidden", index) as ``CLIP.encode_from_tokens`` sets it: the
    encoder's default options, then clip skip when set (``SDClipModel.set_clip_options``)."""
    layer, index = encoder.options_default[0], encoder.options_default[1]
    if clip_layer is not None:
        if abs(clip_layer) > encoder.num_layers:
            layer, index = "last", None
        else:
            layer, index = "hidden", clip_layer
    if layer not in ("last", "hidden"):
        raise ValueError(f"text-encoder output {layer!r} is not supported")
    return layer, index


def encode_rows(
    encoder: Any,
    embeddings: torch.Tensor,
    clip_layer: int | None,
    end_positions: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Token-embedding rows ``(B, T, D)`` of one encoder -> (hidden ``(B, T, D)``, pooled).

    ``end_positions`` (B,) are the end tokens' positions; with them the pooled output is
    computed as ComfyUI does (None otherwise, and the layers after the read one are skipped).
    """
    text_model = encoder.transformer.text_model
    positions = comfy.ops.cast_to(
        text_model.embeddings.position_embedding.weight, dtype=torch.float32,
        device=embeddings.device,
    )  # fmt: skip
    x = embeddings.float() + positions[: embeddings.shape[1]]
    n = x.shape[1]
    causal = torch.full((n, n), -torch.finfo(x.dtype).max, dtype=x.dtype, device=x.device).triu(1)
    attention = optimized_attention_for_device(x.device, mask=True, small_input=True)
    layer, index = read_layer(encoder, clip_layer)
    layers = text_model.encoder.layers
    read_at = len(layers) - 1 if layer == "last" else index % len(layers)  # type: ignore[operator]
    last = len(layers) - 1 if end_positions is not None else read_at
    hidden = x
    for i, block in enumerate(layers):
        if i > last:
            break
        x = x + block.self_attn(block.layer_norm1(x), causal, attention)
        x = x + block.mlp(block.layer_norm2(x))
        if i == read_at:
            hidden = x
    if layer == "last" or encoder.layer_norm_hidden_state:
        hidden = text_model.final_layer_norm(hidden)
    if end_positions is None:
        return hidden, None
    final = text_model.final_layer_norm(x)
    pooled = final[torch.arange(final.shape[0], device=final.device), end_positions.to(x.device)]
    if encoder.options_default[2]:  # return_projected_pooled
        pooled = encoder.transformer.text_projection(pooled)
    return hidden, pooled


class TextEncoderStack:
    """The CLIP's text encoders behind one token table (see the module doc).

    Build it outside inference mode (the table is an ordinary tensor copy). ``encode`` must run
    with the encoders' ordinary weights (``inference_tensors.normal_weights`` over
    ``clip.cond_stage_model``).
    """

    def __init__(self, clip) -> None:
        family = clip_family(clip)
        if family is None:
            found = type(clip.cond_stage_model).__name__
            raise ValueError(f"expected the CLIP of an SD1.x, SD2.x or SDXL model, got {found}")
        self.family = family
        self.clip = clip
        self.encoders = encoder_modules(clip, family)
        specials = [e.special_tokens for e in self.encoders]
        self.bos_id, self.eos_id = int(specials[0]["start"]), int(specials[0]["end"])
        if any((s["start"], s["end"]) != (self.bos_id, self.eos_id) for s in specials):
            raise ValueError("the CLIP's text encoders disagree on start/end tokens")
        pads = [int(s["pad"]) for s in specials]
        with torch.inference_mode(False), torch.no_grad():
            tables = [
                e.transformer.get_input_embeddings().weight.detach().float().cpu()
                for e in self.encoders
            ]
            self.widths = [t.shape[1] for t in tables]
            table = torch.cat(tables, dim=1)
            if len(set(pads)) == 1:
                self.pad_id = pads[0]
            else:  # one virtual row with each encoder's own pad row
                self.pad_id = table.shape[0]
                pad_row = torch.cat([t[p] for t, p in zip(tables, pads, strict=True)])
                table = torch.cat([table, pad_row[None]])
            self.table = table.clone()
        self._end_row = self.table[self.eos_id]
        self.token_key = family.encoders[0].removeprefix("clip_")  # its tokenizer's output key

    @property
    def width(self) -> int:
        return sum(self.widths)

    def end_positions(self, embeddings: torch.Tensor) -> torch.Tensor:
        """Where each sequence's end token is: its first row equal to the end token's row (the
        layout writes that row from the table; a mixed text row never equals it)."""
        is_end = (embeddings.detach() == self._end_row.to(embeddings)).all(dim=-1)
        if not bool(is_end.any(dim=-1).all()):
            raise ValueError("expected an end-token row in every sequence")
        return is_end.int().argmax(dim=-1)

    def encode(
        self, embeddings: torch.Tensor, clip_layer: int | None, with_pooled: bool
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Rows ``(B, T, sum(widths))`` -> (conditioning ``(B, T, sum(widths))``, pooled or None).

        The conditioning is the encoders' outputs side by side (SDXL: ``cat(l, g)``); the pooled
        output is the last encoder's (SDXL: clip_g's), as ComfyUI returns it.
        """
        ends = self.end_positions(embeddings) if with_pooled else None
        outputs, pooled = [], None
        for encoder, rows in zip(
            self.encoders, torch.split(embeddings, self.widths, dim=-1), strict=True
        ):
            hidden, pooled = encode_rows(encoder, rows, clip_layer, ends)
            outputs.append(hidden)
        return torch.cat(outputs, dim=-1), pooled
