"""Train the world's SD1.5-architecture UNet in ComfyUI's own parametrisation.

    python -m tiny_world.train_unet --seed 0 --max-steps 16000   (after train_vae; --resume)

The text encoder (SD1's CLIP class, small config, SD1 tokenizer) stays frozen at its seeded
random weights: its output still carries every token, and the UNet's cross-attention learns
to read it. Conditioning is made exactly as ComfyUI's CLIPTextEncode makes it, once per
distinct caption. The caption mix holds from the first step: ``--empty`` of the captions are
"" (the unconditional branch of classifier-free guidance), ``--partial`` are short lists of
phrases true of the image ("green", "big, on the left", "grainy", "blue, watermark";
``world.partial_caption``), so that a single word, as a negative prompt, means "images with
that", and the rest are full captions with random drops, which name a present defect only
now and then (``world.training_caption``): a prompt that names no defect still gets one
sometimes, and a negative prompt naming it can take it away.

Latents are the VAE encoder's means scaled with ComfyUI's SD15 latent format; the loss is SD's
epsilon MSE computed from ``apply_model``'s denoised output (x = x0 + sigma * eps). The saved
weights are an EMA of the training weights. ``--resume`` continues from the last checkpoint
(written every ``--checkpoint-every`` steps) with the same schedule and random streams.

The shipped UNet ends with ``--finetune --offset-noise 0.8``. On an 8x8 latent the mean of
the starting noise is large (at sigma 14.6 the mean of 64 values has a standard deviation of
1.8), and a model trained on plain noise learns to read the colour and the background from
it, since in training that mean carries the image's own. At sampling time it is random, so
those attributes followed the seed and not the prompt (background right 0.55 of the time).
Offset noise adds a per-channel constant to the training noise, which makes the noise's mean
say nothing about the image, so the model takes those attributes from the text (SD's offset
noise, needed here far more strongly than SD's 0.1 on a 64x64 latent).
"""

from __future__ import annotations

import copy
import logging
import random
import time

import torch

log = logging.getLogger(__name__)

EMPTY_CAPTIONS = 0.12  # share of "" captions
PARTIAL_CAPTIONS = 0.35  # share of partial, phrase-list captions
CHECKPOINT = "unet"
FINETUNE_CHECKPOINT = "unet_finetune"


def encode_captions(clip, captions) -> dict[str, torch.Tensor]:
    """Conditioning ``(77, D)`` of each distinct caption, as CLIPTextEncode computes it."""
    out = {}
    with torch.no_grad():
        for text in sorted(set(captions) | {""}):
            out[text] = clip.encode_from_tokens(clip.tokenize(text))[0].float()
    return out


def encode_latents(vae, model, images: torch.Tensor, chunk: int = 64) -> torch.Tensor:
    """uint8 images ``(N, 3, 64, 64)`` -> model-space latents ``(N, 4, 8, 8)`` (encoder means)."""
    from .train_vae import encode_moments

    ae = vae.first_stage_model.eval()
    parts = []
    with torch.no_grad():
        for start in range(0, images.shape[0], chunk):
            mean, _ = encode_moments(ae, images[start : start + chunk].float() / 255.0)
            parts.append(model.model.process_latent_in(mean))
    return torch.cat(parts)


def cached_latents(vae, model, data, n: int) -> torch.Tensor:
    """Latents of the first ``n`` training images, cached next to the dataset (keyed on the
    VAE file, so a retrained VAE re-encodes)."""
    from .dataset import CACHE_DIR, DATA_VERSION
    from .models import weight_path

    path = CACHE_DIR / f"latents_v{DATA_VERSION}_n{n}.pt"
    if path.is_file() and path.stat().st_mtime > weight_path("vae").stat().st_mtime:
        return torch.load(path, weights_only=True)
    latents = encode_latents(vae, model, data.images[:n])
    torch.save(latents, path)
    return latents


def choose_caption(
    scene, defects, full: str, rng: random.Random, empty: float, partial: float
) -> str:
    from . import world

    u = rng.random()
    if u < empty:
        return ""
    if u < empty + partial:
        return world.partial_caption(scene, rng, defects)
    return full


def main(argv: list[str]) -> None:
    from .dataset import render_dataset
    from .models import build_clip, build_model, build_vae, load_weights, save_weights, weight_path
    from .training import (
        cosine_lr,
        init_for_training,
        last_step,
        load_checkpoint,
        parser,
        rng_state,
        save_checkpoint,
        set_rng_state,
        setup,
    )

    p = parser("train the tiny world's UNet", minutes=600.0)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--images", type=int, default=8192, help="training images encoded to latents")
    p.add_argument("--ema", type=float, default=0.999, help="EMA decay of the saved weights")
    p.add_argument("--empty", type=float, default=EMPTY_CAPTIONS, help='share of "" captions')
    p.add_argument(
        "--partial", type=float, default=PARTIAL_CAPTIONS, help="share of partial captions"
    )
    p.add_argument("--warmup", type=int, default=200, help="learning-rate warm-up steps")
    p.add_argument("--resume", action="store_true", help="continue from the last checkpoint")
    p.add_argument("--checkpoint-every", type=int, default=500)
    p.add_argument(
        "--offset-noise", type=float, default=0.0,
        help="add this times a per-image, per-channel constant N(0, 1) to the training noise, "
        "so that the noise's mean at the first step stops telling the model the background "
        "(SD's low-frequency leak, large on an 8x8 latent; tiny_world/QUALITY.md)",
    )  # fmt: skip
    p.add_argument(
        "--finetune", action="store_true",
        help="start from the saved UNet weights (tiny_world/weights/unet.safetensors, training "
        "and EMA copies alike) with a fresh optimizer and schedule, the text encoder kept; "
        "its checkpoint is separate from the from-scratch run's",
    )  # fmt: skip
    p.add_argument(
        "--stop-at", type=int, default=None,
        help="stop at this step with a checkpoint, as a cut-off run would (the schedule stays "
        "that of --max-steps); how the shipped recipe's first stage is reproduced",
    )  # fmt: skip
    args = p.parse_args(argv)
    stop = last_step(args.max_steps, args.stop_at)
    setup(args.seed, args.threads)
    start = time.monotonic()

    checkpoint = FINETUNE_CHECKPOINT if args.finetune else CHECKPOINT
    state = load_checkpoint(checkpoint) if args.resume else None
    if state is None and not args.finetune:
        # frozen text encoder: seeded weights, stored in fp16 and read back, as shipped
        seeded = build_clip(seed=args.seed + 1).cond_stage_model.clip_l.transformer
        save_weights(seeded.state_dict(), weight_path("text_encoder"))  # ComfyUI's load_sd layout
    clip = build_clip(load_weights(weight_path("text_encoder")))
    vae = build_vae(load_weights(weight_path("vae")))
    model = build_model(seed=args.seed)
    base = model.model  # comfy.model_base.BaseModel (SD15)
    unet = base.diffusion_model.float().requires_grad_(True)
    init_for_training(unet, args.seed)
    with torch.no_grad():  # start as "predict no noise", as SD's zero-initialised output conv
        unet.out[-1].weight.zero_()
        unet.out[-1].bias.zero_()
    if args.finetune:
        unet.load_state_dict(load_weights(weight_path("unet")))
    ema = copy.deepcopy(unet).requires_grad_(False)
    opt = torch.optim.AdamW(unet.parameters(), lr=args.lr, weight_decay=0.01)
    rng = random.Random(args.seed + 3)
    gen = torch.Generator().manual_seed(args.seed + 3)
    step = 0
    if state is not None:
        unet.load_state_dict(state["model"])
        ema.load_state_dict(state["ema"])
        opt.load_state_dict(state["opt"])
        set_rng_state(state["rng"], rng, gen)
        step = state["step"]

    data = render_dataset(args.seed, 16384)
    n = min(args.images, len(data))
    latents = cached_latents(vae, model, data, n)
    scenes = [data.scene(i) for i in range(n)]
    defects = [data.defects(i) for i in range(n)]
    conds = encode_captions(clip, data.captions[:n])
    log.info(
        "%d latents (std %.3f), %d captions, prepared in %.0f s",
        n, latents.std().item(), len(conds), time.monotonic() - start,
    )  # fmt: skip

    def snapshot() -> dict:
        return {
            "model": unet.state_dict(), "ema": ema.state_dict(), "opt": opt.state_dict(),
            "rng": rng_state(rng, gen), "step": step,
        }  # fmt: skip

    sigmas = base.model_sampling.sigmas.float()  # (1000,) ComfyUI's discrete SD schedule
    unet.train()
    budget, t0 = args.minutes * 60.0, time.monotonic()
    while step < stop and time.monotonic() - t0 < budget:
        for group in opt.param_groups:
            group["lr"] = cosine_lr(step, args.max_steps, args.lr, warmup=args.warmup)
        index = [rng.randrange(n) for _ in range(args.batch)]
        texts = [
            choose_caption(scenes[i], defects[i], data.captions[i], rng, args.empty, args.partial)
            for i in index
        ]
        for text in set(texts) - conds.keys():
            conds.update(encode_captions(clip, [text]))
        cond = torch.stack([conds[t] for t in texts])  # (B, 77, D)
        x0 = latents[index]  # (B, 4, 8, 8)
        sigma = sigmas[torch.randint(0, len(sigmas), (args.batch,), generator=gen)]
        noise = torch.randn(x0.shape, generator=gen)
        if args.offset_noise:
            offset = torch.randn(*x0.shape[:2], 1, 1, generator=gen)
            noise = noise + args.offset_noise * offset
        x = x0 + sigma.view(-1, 1, 1, 1) * noise
        denoised = base.apply_model(x, sigma, c_crossattn=cond)
        eps = (x - denoised) / sigma.view(-1, 1, 1, 1)
        loss = (eps - noise).square().mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(unet.parameters(), 1.0)
        opt.step()
        with torch.no_grad():
            decay = min(args.ema, (1 + step) / (10 + step))
            for e, w in zip(ema.parameters(), unet.parameters()):
                e.lerp_(w, 1 - decay)
        step += 1
        if step % 100 == 0:
            log.info(
                "step %d  loss %.4f  lr %.2e  (%.0f s, %d captions)",
                step, loss.item(), opt.param_groups[0]["lr"], time.monotonic() - t0, len(conds),
            )  # fmt: skip
        if step % args.checkpoint_every == 0:
            save_checkpoint(checkpoint, snapshot())
            save_weights(ema.state_dict(), weight_path("unet"))  # usable at every checkpoint
    save_checkpoint(checkpoint, snapshot())
    log.info("done: %d steps (%.0f s in all)", step, time.monotonic() - start)
    save_weights(ema.state_dict(), weight_path("unet"))


if __name__ == "__main__":
    from tiny_world.cli import run_in_pack

    run_in_pack("train_unet")
