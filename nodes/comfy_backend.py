"""dpo_core's DiffusionBackend on ComfyUI's own MODEL, CLIP and VAE.

* No-gradient sampling and evaluation go through ``comfy.sample.sample`` with KSampler's inputs
  (sampler, scheduler, steps, cfg), so the images the search scores are the images the user's
  KSampler makes for the same seed.
* The gradient path calls the same modules: ``BaseModel.apply_model`` (CFG combined on the
  denoised predictions, as ComfyUI's ``cfg_function`` does), the text encoders' layers walked
  out of place (``text_encoders``), and ``first_stage_model.decode``.
* SD 1.x, SD 2.x and SDXL (``model_family``): SD2's OpenCLIP-H, or SDXL's clip_l and clip_g
  side by side, behind one token table, so the relaxation mixes every encoder alike. SDXL's
  pooled output rides inside the conditioning tensor (``pooled_conditioning``) and reaches the
  UNet as ComfyUI passes it: ``pooled_output`` to the sampler, ``encode_adm`` on the gradient
  path, with the latent's size as for CLIPTextEncode's conditioning. v-prediction and SDXL's
  latent scale are the MODEL's (``apply_model``, ``process_latent_in``/``out``).
* ComfyUI runs every prompt under ``torch.inference_mode()``; weights loaded during a prompt are
  inference tensors, which autograd cannot save. ``normal_weights`` gives the gradient path
  ordinary copies of such tensors for the duration of a call, through
  ``torch.func.functional_call``: the modules themselves are never modified, so every other
  node keeps seeing exactly the model it had.

Latents exchanged with dpo_core are in the model's internal space (``process_latent_in``
applied, k-diffusion form ``x = x0 + sigma * eps``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import comfy.model_management
import comfy.sample
import comfy.samplers
import torch

from dpo_core.text_windows import CLIP_CONTEXT_LENGTH, concat_conditionings

from .clip_tokens import clip_token_ids, window_token_ids
from .inference_tensors import normal_weights
from .model_family import model_family
from .model_patches import check_gradient_patches, guided
from .pooled_conditioning import attach_pooled, comfy_conditioning, split_pooled
from .sampling_settings import SamplingSettings
from .text_encoders import TextEncoderStack


def _check_interrupt(*_args) -> None:
    """Sampler step callback: Cancel in the UI takes effect after the current model call."""
    comfy.model_management.throw_exception_if_processing_interrupted()


class ComfyBackend:
    """DiffusionBackend over a ModelPatcher, a ``comfy.sd.CLIP`` and a ``comfy.sd.VAE``."""

    context_length = CLIP_CONTEXT_LENGTH

    def __init__(self, model, clip, vae, settings: SamplingSettings) -> None:
        self.model = model
        self.clip = clip
        self.vae = vae
        self.settings = settings
        self.text = TextEncoderStack(clip)  # every text encoder behind one token table
        self.encoder = clip.cond_stage_model  # all of them
        self.bos_id, self.eos_id, self.pad_id = self.text.bos_id, self.text.eos_id, self.text.pad_id
        family = model_family(model)
        self._pooled = bool(family and family.pooled)  # SDXL's UNet reads the pooled text output
        comfy.model_management.load_models_gpu([model, clip.patcher, vae.patcher])
        self.device = model.load_device
        base = model.model
        self._unet = normal_weights(base)
        self._text = normal_weights(self.encoder)
        self._vae = normal_weights(vae.first_stage_model)
        with torch.inference_mode(False):
            sampler = comfy.samplers.KSampler(
                model, steps=settings.steps, device=self.device, sampler=settings.sampler_name,
                scheduler=settings.scheduler, denoise=1.0, model_options=model.model_options,
            )  # fmt: skip
            self._sigmas = sampler.sigmas.detach().float().cpu().clone()
        self._latent_channels = base.latent_format.latent_channels

    # --- text side -------------------------------------------------------------------------
    def tokenize(self, text: str) -> list[int]:
        """BPE ids of ``text`` as ComfyUI's tokenizer makes them, without start/end/padding."""
        return clip_token_ids(self.clip, text)

    def window_sizes(self, text: str) -> list[int]:
        """Text tokens in each window ComfyUI's tokenizer splits ``text`` into (it moves a word
        that does not fit to the next window and splits only very long words)."""
        return [len(window) for window in window_token_ids(self.clip, text)]

    def token_embeddings(self, ids: torch.Tensor) -> torch.Tensor:
        return self.text.table.to(ids.device)[ids]

    def encode_embeddings(self, embeddings: torch.Tensor) -> torch.Tensor:
        device = self.text.encoders[0].transformer.get_input_embeddings().weight.device
        context, pooled = self._text(
            self.text.encode, embeddings.to(device), self.clip.layer_idx, self._pooled
        )
        return (context if pooled is None else attach_pooled(context, pooled)).to(self.device)

    def encode_text(self, texts: Sequence[str]) -> torch.Tensor:
        conds = []
        for text in texts:
            context, pooled = self.clip.encode_from_tokens(self.clip.tokenize(text), True)
            conds.append(attach_pooled(context, pooled) if self._pooled else context)
        return concat_conditionings(conds).to(self.device, torch.float32)

    # --- diffusion side --------------------------------------------------------------------
    @property
    def sigmas(self) -> torch.Tensor:
        return self._sigmas

    def noise(self, seeds: Sequence[int]) -> torch.Tensor:
        shape = (1, self._latent_channels, self.settings.height // 8, self.settings.width // 8)
        empty = torch.zeros(shape)
        return torch.cat([comfy.sample.prepare_noise(empty, int(s)) for s in seeds])

    def initial_latent(self, noise: torch.Tensor) -> torch.Tensor:
        """Where KSampler starts at full denoise: ``noise_scaling`` of the model (for the usual
        models ``noise * sqrt(1 + sigma_max^2)``, not ``noise * sigma_max``)."""
        sampling = self.model.model.model_sampling
        sigma = self._sigmas[0]
        top = float(sampling.sigma_max)
        full = math.isclose(top, float(sigma), rel_tol=1e-5) or float(sigma) > top
        noise = noise.to(self.device, torch.float32)
        return sampling.noise_scaling(sigma.to(noise.device), noise, torch.zeros_like(noise), full)

    def sample(
        self,
        noise: torch.Tensor,
        positive: torch.Tensor,
        negative: torch.Tensor,
        end_step: int,
        seeds: Sequence[int] | None = None,
    ) -> torch.Tensor:
        steps = self.settings.steps
        if not 0 < end_step <= steps:
            raise ValueError(f"expected 0 < end_step <= {steps}, got {end_step}")
        if not self.settings.deterministic and len(noise) > 1:
            parts = [
                self.sample(
                    noise[i : i + 1],
                    positive[i : i + 1],
                    negative[i : i + 1],
                    end_step,
                    None if seeds is None else seeds[i : i + 1],
                )  # fmt: skip
                for i in range(len(noise))
            ]
            return torch.cat(parts)
        base = self.model.model
        # KSamplerAdvanced from step 0 (an empty latent plus the noise) to end_step
        out = comfy.sample.sample(
            self.model, noise, steps,
            self.settings.cfg, self.settings.sampler_name, self.settings.scheduler,
            comfy_conditioning(positive.detach(), self.text.width),
            comfy_conditioning(negative.detach(), self.text.width), torch.zeros_like(noise),
            denoise=1.0, disable_noise=False, start_step=0, last_step=end_step,
            force_full_denoise=end_step == steps, disable_pbar=True,
            seed=int(seeds[0]) if seeds else 0, callback=_check_interrupt,
        )  # fmt: skip
        return base.process_latent_in(out.to(self.device, torch.float32))

    def denoise(
        self, x: torch.Tensor, sigma: float, positive: torch.Tensor, negative: torch.Tensor
    ) -> torch.Tensor:
        comfy.model_management.throw_exception_if_processing_interrupted()
        check_gradient_patches(self.model)
        base = self.model.model
        n = x.shape[0]
        batch_x = torch.cat([x, x]).to(self.device)
        sigmas = torch.full((2 * n,), float(sigma), device=self.device)
        context = concat_conditionings([negative, positive]).to(self.device)
        context, pooled = split_pooled(context, self.text.width)
        extra = {}
        if pooled is not None:  # SDXL's ADM input: pooled text and the latent's size, as KSampler
            extra["y"] = base.encode_adm(
                pooled_output=pooled, width=x.shape[-1] * 8, height=x.shape[-2] * 8,
                device=self.device,
            )  # fmt: skip
        out = self._unet(base.apply_model, batch_x, sigmas, c_crossattn=context, **extra)
        uncond, cond = out[:n], out[n:]
        return guided(self.model, cond, uncond, self.settings.cfg, batch_x[:n], sigmas[:n])

    def decode(self, latents: torch.Tensor) -> torch.Tensor:
        first_stage = self.vae.first_stage_model
        z = self.model.model.process_latent_out(latents).to(self.vae.vae_dtype)
        pixels = self._vae(first_stage.decode, z.to(self.vae.device))
        return ((pixels.float() + 1.0) / 2.0).clamp(0.0, 1.0).to(latents.device)
