"""The two small interfaces the method talks to: a diffusion backend and an image-text scorer.

``dpo_core`` never imports ComfyUI. ``nodes/comfy_backend.py`` implements ``DiffusionBackend``
on ComfyUI's MODEL, CLIP and VAE; the tests implement it with a tiny torch model.

Conventions (k-diffusion form, as ComfyUI uses internally):
  * latents ``x`` are ``(B, C, h, w)``; ``x = x0 + sigma * eps``;
  * ``sigmas`` has ``steps + 1`` entries, decreasing, the last one 0;
  * conditioning is the text encoder's cross-attention context ``(B, T, D)``, ``T`` a multiple
    of the window (long texts span several windows); a positive and a negative conditioning
    may differ in length (``dpo_core.text_windows``); dpo_core only batches, slices and repeats
    it along the batch and token axes, so a backend may append channels of its own to every
    token row (the ComfyUI backend carries SDXL's pooled text output there);
  * images are ``(B, 3, H, W)`` floats in [0, 1].
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import torch


@runtime_checkable
class DiffusionBackend(Protocol):
    """What the method needs from a text-to-image diffusion model with fixed sampling settings."""

    # --- text side -------------------------------------------------------------------------
    bos_id: int  # start-of-text token id
    eos_id: int  # end-of-text token id (also written after the text)
    pad_id: int  # id that fills the sequence after the end token
    context_length: int  # positions per window, CLIP_CONTEXT_LENGTH (77) for CLIP

    def tokenize(self, text: str) -> list[int]:
        """BPE token ids of ``text`` without start/end tokens (the encoder's own tokenizer)."""
        ...

    def window_sizes(self, text: str) -> list[int]:
        """Text tokens of each ``context_length`` window when the host splits a long ``text``
        (one entry for a short text; the sizes sum to ``len(tokenize(text))``)."""
        ...

    def token_embeddings(self, ids: torch.Tensor) -> torch.Tensor:
        """Rows of the token-embedding table for ``ids`` (any shape) -> ``(*ids.shape, D)``."""
        ...

    def encode_embeddings(self, embeddings: torch.Tensor) -> torch.Tensor:
        """Run full token-embedding sequences ``(B, context_length, D)`` through the text encoder.

        Differentiable. Positional embeddings are added inside, as for token ids; the result is
        the conditioning ``(B, T, D_ctx)`` the UNet sees (clip skip etc. applied).
        """
        ...

    def encode_text(self, texts: Sequence[str]) -> torch.Tensor:
        """Encode plain texts exactly as the host application would (no gradient) -> ``(B, T, D)``;
        texts of different window counts are repeated to a common length
        (``text_windows.concat_conditionings``)."""
        ...

    # --- diffusion side --------------------------------------------------------------------
    @property
    def sigmas(self) -> torch.Tensor:
        """The sampling schedule, ``(steps + 1,)``, decreasing to 0."""
        ...

    def noise(self, seeds: Sequence[int]) -> torch.Tensor:
        """Initial noise for each seed, ``(B, C, h, w)``, unscaled (unit variance)."""
        ...

    def initial_latent(self, noise: torch.Tensor) -> torch.Tensor:
        """The latent at ``sigmas[0]`` for unit ``noise``, as the host's sampler starts from it
        (ComfyUI at full denoise: ``noise * sqrt(1 + sigma_max^2)``)."""
        ...

    def sample(
        self,
        noise: torch.Tensor,
        positive: torch.Tensor,
        negative: torch.Tensor,
        end_step: int,
        seeds: Sequence[int] | None = None,
    ) -> torch.Tensor:
        """Run the sampler without gradient from pure noise (step 0) to ``end_step``, a step
        index in ``1..steps``.

        Returns the latent at ``sigmas[end_step]`` (at ``end_step == steps`` that is the clean
        latent). ``seeds`` (one per image, those of ``noise``) seed samplers that draw fresh
        noise while sampling; deterministic samplers ignore them. (The method always starts
        from noise: the shortcut's prefix and full sampling both do.)
        """
        ...

    def denoise(
        self, x: torch.Tensor, sigma: float, positive: torch.Tensor, negative: torch.Tensor
    ) -> torch.Tensor:
        """Classifier-free-guided estimate of the clean latent x0 at ``sigma``. Differentiable."""
        ...

    def decode(self, latents: torch.Tensor) -> torch.Tensor:
        """Clean latents -> images ``(B, 3, H, W)`` in [0, 1]. Differentiable."""
        ...


@runtime_checkable
class ImageTextScorer(Protocol):
    """A judge of how well images match texts, e.g. a CLIP model or HPSv2."""

    name: str

    def embed_images(self, images: torch.Tensor) -> torch.Tensor:
        """Images ``(B, 3, H, W)`` in [0, 1] -> embeddings ``(B, E)``. Differentiable."""
        ...

    def embed_texts(self, texts: Sequence[str]) -> torch.Tensor:
        """Texts -> embeddings ``(B, E)`` (no gradient needed)."""
        ...
