"""Train the world's VAE (SD's KL-f8 latent layout, ComfyUI's VAE class) on rendered scenes.

    python -m tiny_world.train_vae --seed 0 --max-steps 3000     (--resume continues a cut run)

Besides reconstruction, a *linear-preview* loss asks a 1x1 linear map of the latent (4 -> 3
channels) to reproduce the 8x-downsampled image, as a fixed 4x3 matrix reproduces SD's
previews: the latent is then close to linear in colour, so classifier-free guidance that
extrapolates away from one colour saturates the prompt's colour instead of walking the hue
wheel. The first 70% of the steps train on 32x32 crops (the VAE is fully convolutional), the
rest on whole images so that the group norms see full-image statistics.

After training the encoder's mean is rescaled (exactly, through quant_conv/post_quant_conv)
so that latents times SD1.5's latent scale 0.18215 have unit standard deviation, as SD's do.
"""

from __future__ import annotations

import logging
import random
import time

import torch
from torch import nn

SD15_LATENT_SCALE = 0.18215  # ComfyUI's SD15 latent format
CHECKPOINT = "vae"

log = logging.getLogger(__name__)


def encode_moments(autoencoder, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Images in [0, 1] -> the encoder's (mean, logvar), each ``(B, 4, h, w)``."""
    moments = autoencoder.quant_conv(autoencoder.encoder(images * 2.0 - 1.0))
    mean, logvar = moments.chunk(2, dim=1)
    return mean, logvar.clamp(-30.0, 20.0)


def rescale_latents(autoencoder, factor: float) -> None:
    """Multiply the encoder's mean by ``factor`` and undo it before the decoder (exact)."""
    with torch.no_grad():
        c = autoencoder.quant_conv.weight.shape[0] // 2
        autoencoder.quant_conv.weight[:c] *= factor
        autoencoder.quant_conv.bias[:c] *= factor
        autoencoder.post_quant_conv.weight /= factor


def linear_preview_r2(latents: torch.Tensor, images: torch.Tensor) -> float:
    """R^2 of the best affine map from latents ``(N, 4, h, w)`` to the images ``(N, 3, H, W)``
    average-pooled to ``h x w`` (how well a 4x3 preview matrix reproduces the picture)."""
    factor = images.shape[-1] // latents.shape[-1]
    target = nn.functional.avg_pool2d(images.float(), factor).movedim(1, -1).reshape(-1, 3)
    x = latents.float().movedim(1, -1).reshape(-1, latents.shape[1])
    x = torch.cat([x, torch.ones(x.shape[0], 1)], 1)
    solution = torch.linalg.lstsq(x, target).solution
    residual = (x @ solution - target).square().sum()
    total = (target - target.mean(0)).square().sum()
    return float(1 - residual / total)


def finetune_decoder(args) -> None:
    """Sharpen the decoder of the saved VAE: whole 64x64 images, reconstruction loss from the
    frozen encoder's (rescaled) latents with the same small latent noise; the latent space
    stays exactly as it is."""
    from .dataset import render_dataset
    from .models import build_vae, load_weights, save_weights, weight_path
    from .training import (
        cosine_lr,
        last_step,
        load_checkpoint,
        rng_state,
        save_checkpoint,
        set_rng_state,
    )

    name = CHECKPOINT + "_decoder"
    data = render_dataset(args.seed, 16384)
    ae = build_vae(load_weights(weight_path("vae"))).first_stage_model.float()
    ae.requires_grad_(False)
    params = [*ae.decoder.parameters(), *ae.post_quant_conv.parameters()]
    for q in params:
        q.requires_grad_(True)
    opt = torch.optim.AdamW(params, lr=args.lr, weight_decay=0.0)
    rng = random.Random(args.seed)
    gen = torch.Generator().manual_seed(args.seed)
    step = 0
    state = load_checkpoint(name) if args.resume else None
    if state is not None:
        ae.load_state_dict(state["model"])
        opt.load_state_dict(state["opt"])
        set_rng_state(state["rng"], rng, gen)
        step = state["step"]
    ae.encoder.eval()
    ae.decoder.train()
    budget, start = args.minutes * 60.0, time.monotonic()
    stop = last_step(args.max_steps, args.stop_at)
    while step < stop and time.monotonic() - start < budget:
        for group in opt.param_groups:
            group["lr"] = cosine_lr(step, args.max_steps, args.lr, warmup=20)
        index = torch.tensor([rng.randrange(len(data)) for _ in range(args.batch)])
        images = data.floats(index)
        with torch.no_grad():
            mean, _ = encode_moments(ae, images)
        noise = torch.randn(mean.shape, generator=gen)
        recon = ae.decoder(ae.post_quant_conv(mean + noise * args.latent_noise * mean.std()))
        target = images * 2.0 - 1.0
        loss = (recon - target).abs().mean() + (recon - target).square().mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        step += 1
        if step % 50 == 0:
            log.info(
                "decoder step %d  rec %.4f  (%.0f s)", step, loss.item(), time.monotonic() - start
            )
        if step % args.checkpoint_every == 0 or step == stop:
            save_checkpoint(
                name,
                {"model": ae.state_dict(), "opt": opt.state_dict(),
                 "rng": rng_state(rng, gen), "step": step},
            )  # fmt: skip
    ae.eval()
    with torch.no_grad():
        check = data.floats(torch.arange(256))
        mean, _ = encode_moments(ae, check)
        err = ((ae.decoder(ae.post_quant_conv(mean)) + 1) / 2 - check).abs().mean().item()
    log.info("decoder done: %d steps; L1 error %.4f", step, err)
    save_weights(ae.state_dict(), weight_path("vae"))


def main(argv: list[str]) -> None:
    from .dataset import render_dataset
    from .models import build_vae, save_weights, weight_path
    from .training import (
        cosine_lr,
        init_for_training,
        load_checkpoint,
        parser,
        rng_state,
        save_checkpoint,
        set_rng_state,
        setup,
    )

    p = parser("train the tiny world's VAE", minutes=600.0)
    p.add_argument("--batch", type=int, default=16, help="batch of 32x32 crops (half on full)")
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--preview", type=float, default=1.0, help="linear-preview loss weight")
    p.add_argument("--latent-noise", type=float, default=0.1, help="relative to latent std")
    p.add_argument("--kl", type=float, default=1e-6, help="KL weight (SD used 1e-6)")
    p.add_argument("--resume", action="store_true", help="continue from the last checkpoint")
    p.add_argument("--checkpoint-every", type=int, default=200)
    p.add_argument(
        "--stop-at", type=int, default=None,
        help="(--decoder-only) stop at this step with a checkpoint, as a cut-off run would (the "
        "schedule stays that of --max-steps); how the shipped recipe is reproduced",
    )  # fmt: skip
    p.add_argument(
        "--decoder-only",
        action="store_true",
        help="fine-tune the saved VAE's decoder on whole images, the encoder (and so the "
        "latent space the UNet learns) frozen",
    )
    args = p.parse_args(argv)
    setup(args.seed, args.threads)
    if args.decoder_only:
        finetune_decoder(args)
        return

    data = render_dataset(args.seed, 16384)
    vae = build_vae(seed=args.seed)
    ae = vae.first_stage_model.float().train()
    init_for_training(ae, args.seed)
    preview = nn.Conv2d(4, 3, 1)
    params = [*ae.parameters(), *preview.parameters()]
    opt = torch.optim.AdamW(params, lr=args.lr, weight_decay=0.0)
    rng = random.Random(args.seed)
    gen = torch.Generator().manual_seed(args.seed)
    step = 0
    state = load_checkpoint(CHECKPOINT) if args.resume else None
    if state is not None:
        ae.load_state_dict(state["model"])
        preview.load_state_dict(state["preview"])
        opt.load_state_dict(state["opt"])
        set_rng_state(state["rng"], rng, gen)
        step = state["step"]
    budget, start = args.minutes * 60.0, time.monotonic()
    full_from = int(0.7 * args.max_steps)
    while step < args.max_steps and time.monotonic() - start < budget:
        for group in opt.param_groups:
            group["lr"] = cosine_lr(step, args.max_steps, args.lr)
        crop = 32 if step < full_from else 64
        batch = args.batch if crop == 32 else max(1, args.batch // 2)
        index = torch.tensor([rng.randrange(len(data)) for _ in range(batch)])
        top, left = (rng.randrange(0, 64 - crop + 1, 8) for _ in range(2))
        images = data.floats(index)[..., top : top + crop, left : left + crop]
        mean, logvar = encode_moments(ae, images)
        # a fixed, small latent noise instead of the posterior's: with SD's tiny KL weight the
        # posterior noise drowns the signal for thousands of steps, which a CPU cannot afford
        noise = torch.randn(mean.shape, generator=gen)
        z = mean + noise * args.latent_noise * mean.detach().std()
        recon = ae.decoder(ae.post_quant_conv(z))  # (B, 3, h, w) in [-1, 1]
        target = images * 2.0 - 1.0
        rec_loss = (recon - target).abs().mean() + (recon - target).square().mean()
        preview_loss = (preview(mean) - nn.functional.avg_pool2d(target, 8)).square().mean()
        kl = 0.5 * (mean.square() + logvar.exp() - 1.0 - logvar).sum(dim=(1, 2, 3)).mean()
        loss = rec_loss + args.preview * preview_loss + args.kl * kl
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        step += 1
        if step % 50 == 0:
            log.info(
                "step %d  rec %.4f  preview %.4f  kl %.1f  (%.0f s)",
                step, rec_loss.item(), preview_loss.item(), kl.item(), time.monotonic() - start,
            )  # fmt: skip
        if step % args.checkpoint_every == 0 or step == args.max_steps:
            save_checkpoint(
                CHECKPOINT,
                {"model": ae.state_dict(), "preview": preview.state_dict(),
                 "opt": opt.state_dict(), "rng": rng_state(rng, gen), "step": step},
            )  # fmt: skip

    ae.eval()
    with torch.no_grad():
        check = data.floats(torch.arange(256))
        mean, _ = encode_moments(ae, check)
        factor = (1.0 / SD15_LATENT_SCALE) / mean.std().item()
        rescale_latents(ae, factor)
        mean, _ = encode_moments(ae, check)
        recon = ae.decoder(ae.post_quant_conv(mean))
        err = ((recon + 1) / 2 - check).abs().mean().item()
    log.info(
        "done: %d steps; latent std x scale %.3f; L1 error %.4f; linear-preview R^2 %.3f",
        step, mean.std().item() * SD15_LATENT_SCALE, err, linear_preview_r2(mean, check),
    )  # fmt: skip
    save_weights(ae.state_dict(), weight_path("vae"))


if __name__ == "__main__":
    from tiny_world.cli import run_in_pack

    run_in_pack("train_vae")
