"""Train the world's VAE (SD's KL-f8 latent layout, ComfyUI's VAE class) on rendered scenes.

    python -m tiny_world.train_vae --seed 0

After training the encoder's mean is rescaled (exactly, through quant_conv/post_quant_conv)
so that latents times SD1.5's latent scale 0.18215 have unit standard deviation, as SD's do.
"""

from __future__ import annotations

import logging
import random
import time

import torch

SD15_LATENT_SCALE = 0.18215  # ComfyUI's SD15 latent format

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


def main(argv: list[str]) -> None:
    from .dataset import render_dataset
    from .models import build_vae, load_weights, save_weights, weight_path
    from .training import cosine_lr, init_for_training, parser, setup

    p = parser("train the tiny world's VAE", minutes=5.0)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument(
        "--crop", type=int, default=32, help="train on random crops (fully convolutional)"
    )
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--resume", action="store_true", help="continue from the saved weights")
    p.add_argument(
        "--latent-noise",
        type=float,
        default=0.1,
        help="relative to latent std; negative: sample the posterior instead",
    )
    p.add_argument("--kl", type=float, default=1e-6, help="KL weight (SD used 1e-6)")
    args = p.parse_args(argv)
    setup(args.seed, args.threads)

    data = render_dataset(args.seed, 16384)
    if args.resume:
        vae = build_vae(load_weights(weight_path("vae")))
        ae = vae.first_stage_model.float().train()
    else:
        vae = build_vae(seed=args.seed)
        ae = vae.first_stage_model.float().train()
        init_for_training(ae, args.seed)
    opt = torch.optim.AdamW(ae.parameters(), lr=args.lr, weight_decay=0.0)
    rng = random.Random(args.seed)
    budget = args.minutes * 60.0
    start = time.monotonic()
    expected = args.max_steps
    step = 0
    while step < args.max_steps and time.monotonic() - start < budget:
        if step == 50:  # estimate how many steps fit the budget, for the schedule
            expected = min(args.max_steps, int(50 * budget / (time.monotonic() - start)))
        for group in opt.param_groups:
            group["lr"] = cosine_lr(step, expected, args.lr)
        index = torch.tensor([rng.randrange(len(data)) for _ in range(args.batch)])
        top, left = (rng.randrange(0, 64 - args.crop + 1, 8) for _ in range(2))
        images = data.floats(index)[..., top : top + args.crop, left : left + args.crop]
        mean, logvar = encode_moments(ae, images)
        # a fixed, small latent noise instead of the posterior's: with SD's tiny KL weight the
        # posterior noise drowns the signal for thousands of steps, which a CPU cannot afford
        if args.latent_noise < 0:  # the posterior's own noise, as SD trained its VAE
            z = mean + torch.randn_like(mean) * torch.exp(0.5 * logvar)
        else:
            z = mean + torch.randn_like(mean) * args.latent_noise * mean.detach().std()
        recon = ae.decoder(ae.post_quant_conv(z))  # (B, 3, 64, 64) in [-1, 1]
        target = images * 2.0 - 1.0
        rec_loss = (recon - target).abs().mean() + (recon - target).square().mean()
        kl = 0.5 * (mean.square() + logvar.exp() - 1.0 - logvar).sum(dim=(1, 2, 3)).mean()
        loss = rec_loss + args.kl * kl
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if step % 50 == 0:
            log.info(
                "step %d  rec %.4f  kl %.1f  (%.0f s)",
                step,
                rec_loss.item(),
                kl.item(),
                time.monotonic() - start,
            )
        step += 1

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
        "done: %d steps in %.0f s; latent std x scale %.3f; L1 error %.4f",
        step,
        time.monotonic() - start,
        mean.std().item() * SD15_LATENT_SCALE,
        err,
    )
    save_weights(ae.state_dict(), weight_path("vae"))


if __name__ == "__main__":
    from tiny_world.cli import run_in_pack

    run_in_pack("train_vae")
