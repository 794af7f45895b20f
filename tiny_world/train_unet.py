"""Train the world's SD1.5-architecture UNet in ComfyUI's own parametrisation.

    python -m tiny_world.train_unet --seed 0      (after train_vae)

The text encoder (SD1's CLIP class, small config, SD1 tokenizer) stays frozen at its seeded
random weights: its output still carries every token, and the UNet's cross-attention learns
to read it. Conditioning is made exactly as ComfyUI's CLIPTextEncode makes it, once per
distinct caption; 10% of the captions are dropped to "" so that classifier-free guidance
works, and with ``--partial-captions P`` a share P of them is replaced by a comma-joined list of
one to five of the image's attributes ("green", "big, on the left, black background";
``world.partial_caption``), so that a negative prompt of contrasting words means "images with
those attributes" to the model. ``--resume`` fine-tunes the shipped UNet instead of starting
from a fresh initialisation:

    python -m tiny_world.train_unet --seed 0 --resume --partial-captions 0.3 --lr 3e-4
 Latents are the VAE encoder's means scaled with ComfyUI's SD15 latent format; the loss
is SD's epsilon MSE computed from ``apply_model``'s denoised output (x = x0 + sigma * eps).
"""

from __future__ import annotations

import copy
import logging
import random
import time

import torch

log = logging.getLogger(__name__)

CAPTION_DROPOUT = 0.1  # share of captions replaced by "" (the unconditional branch of CFG)
PARTIAL_CAPTIONS = 0.3  # default share of captions replaced by a partial, attribute-list caption


def encode_captions(clip, captions: list[str]) -> dict[str, torch.Tensor]:
    """Conditioning ``(77, D)`` of each distinct caption, as CLIPTextEncode computes it."""
    out = {}
    with torch.no_grad():
        for text in sorted(set(captions) | {""}):
            out[text] = clip.encode_from_tokens(clip.tokenize(text))[0].float()
    return out


def encode_latents(vae, model, images: torch.Tensor, chunk: int = 256) -> torch.Tensor:
    """uint8 images ``(N, 3, 64, 64)`` -> scaled latents ``(N, 4, 8, 8)`` (encoder means)."""
    from .train_vae import encode_moments

    ae = vae.first_stage_model.eval()
    parts = []
    with torch.no_grad():
        for start in range(0, images.shape[0], chunk):
            mean, _ = encode_moments(ae, images[start : start + chunk].float() / 255.0)
            parts.append(model.model.process_latent_in(mean))
    return torch.cat(parts)


def main(argv: list[str]) -> None:
    from . import world
    from .dataset import render_dataset
    from .models import build_clip, build_model, build_vae, load_weights, save_weights, weight_path
    from .training import cosine_lr, init_for_training, parser, setup

    p = parser("train the tiny world's UNet", minutes=16.0)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--images", type=int, default=6144, help="training images encoded to latents")
    p.add_argument("--ema", type=float, default=0.998, help="EMA decay of the saved weights")
    p.add_argument(
        "--partial-captions",
        type=float,
        default=PARTIAL_CAPTIONS,
        help="share of captions replaced by a list of some of the image's attributes",
    )
    p.add_argument(
        "--resume", action="store_true", help="fine-tune the shipped UNet (weights/unet)"
    )
    p.add_argument("--warmup", type=int, default=200, help="learning-rate warm-up steps")
    args = p.parse_args(argv)
    setup(args.seed, args.threads)
    start = time.monotonic()

    if not args.resume:
        # frozen text encoder: seeded weights, stored in fp16 and read back, as shipped
        seeded = build_clip(seed=args.seed + 1).cond_stage_model.clip_l.transformer
        save_weights(seeded.state_dict(), weight_path("text_encoder"))  # ComfyUI's load_sd layout
    clip = build_clip(load_weights(weight_path("text_encoder")))
    vae = build_vae(load_weights(weight_path("vae")))
    if args.resume:
        model = build_model(load_weights(weight_path("unet")))
        log.info("resuming from %s", weight_path("unet"))
    else:
        model = build_model(seed=args.seed)
    base = model.model  # comfy.model_base.BaseModel (SD15)
    unet = base.diffusion_model.float().requires_grad_(True)
    if not args.resume:
        init_for_training(unet, args.seed)
        with torch.no_grad():  # start as "predict no noise", as SD's zero-initialised output conv
            unet.out[-1].weight.zero_()
            unet.out[-1].bias.zero_()

    data = render_dataset(args.seed, 16384)
    n = min(args.images, len(data))
    conds = encode_captions(clip, data.captions[:n])
    latents = encode_latents(vae, model, data.images[:n])
    names = world.ATTRIBUTE_VALUES
    scenes = [
        world.Scene(**{a: names[a][int(data.labels[a][i])] for a in world.ATTRIBUTES})
        for i in range(n)
    ]
    log.info(
        "%d latents (std %.3f), %d distinct captions, prepared in %.0f s",
        n,
        latents.std().item(),
        len(conds),
        time.monotonic() - start,
    )

    sigmas = base.model_sampling.sigmas.float()  # (1000,) ComfyUI's discrete SD schedule
    ema = copy.deepcopy(unet).requires_grad_(False)
    unet.train()
    opt = torch.optim.AdamW(unet.parameters(), lr=args.lr, weight_decay=0.01)
    rng = random.Random(args.seed + 3)
    gen = torch.Generator().manual_seed(args.seed + 3)
    budget, t0, step, expected = args.minutes * 60.0, time.monotonic(), 0, args.max_steps
    encoding = 0.0  # seconds spent encoding new partial captions (mostly in the first steps)
    while step < args.max_steps and time.monotonic() - t0 < budget:
        if step == 50:  # the step count the budget allows, from the first 50 training steps
            spent = max(1.0, time.monotonic() - t0 - encoding)
            expected = min(args.max_steps, int(50 * (budget - encoding) / spent))
            log.info("learning-rate schedule over %d steps", expected)
        for group in opt.param_groups:
            group["lr"] = cosine_lr(step, expected, args.lr, warmup=args.warmup)
        index = [rng.randrange(n) for _ in range(args.batch)]
        texts = []
        for i in index:
            u = rng.random()
            if u < CAPTION_DROPOUT:
                texts.append("")
            elif u < CAPTION_DROPOUT + args.partial_captions:
                texts.append(world.partial_caption(scenes[i], rng))
            else:
                texts.append(data.captions[i])
        tick = time.monotonic()
        for text in set(texts) - conds.keys():  # partial captions: a finite set, encoded once
            conds.update(encode_captions(clip, [text]))
        encoding += time.monotonic() - tick
        cond = torch.stack([conds[t] for t in texts])  # (B, 77, D)
        x0 = latents[index]  # (B, 4, 8, 8)
        sigma = sigmas[torch.randint(0, len(sigmas), (args.batch,), generator=gen)]
        noise = torch.randn(x0.shape, generator=gen)
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
        if step % 100 == 0:
            log.info(
                "step %d  loss %.4f  lr %.2e  (%.0f s)",
                step,
                loss.item(),
                opt.param_groups[0]["lr"],
                time.monotonic() - t0,
            )
        step += 1
    log.info(
        "done: %d steps in %.0f s (%.0f s in all), %d distinct captions",
        step,
        time.monotonic() - t0,
        time.monotonic() - start,
        len(conds),
    )
    save_weights(ema.state_dict(), weight_path("unet"))


if __name__ == "__main__":
    from tiny_world.cli import run_in_pack

    run_in_pack("train_unet")
