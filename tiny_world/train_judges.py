"""Train the world's judges: the attribute classifier and the CLIP evaluator (open_clip).

    python -m tiny_world.train_judges --seed 0      (after train_vae; --resume continues)

Both train on training combinations only. The classifier sees rendered images and the VAE's
reconstructions of them (what decoded samples look like), lightly softened; the evaluator is
trained contrastively with *hard negatives*: for every image one caption that is wrong in one
way (one attribute changed, an absent defect named, a present defect left out), so that it
tells apart what the classifier tells apart. Neither shares anything with the diffusion
model's text encoder.
"""

from __future__ import annotations

import json
import logging
import random
import time

import torch
from torch import nn

log = logging.getLogger(__name__)
RECONSTRUCTIONS = 1024  # training images passed through the VAE for the judges


def reconstructions(data, count: int) -> torch.Tensor:
    """The VAE's reconstructions of the first ``count`` training images (uint8, cached)."""
    from .dataset import CACHE_DIR, DATA_VERSION
    from .models import build_vae, load_weights, weight_path
    from .train_vae import encode_moments

    path = CACHE_DIR / f"recon_v{DATA_VERSION}_n{count}.pt"
    vae_file = weight_path("vae")
    if path.is_file() and path.stat().st_mtime > vae_file.stat().st_mtime:
        return torch.load(path, weights_only=True)
    ae = build_vae(load_weights(vae_file)).first_stage_model.float().eval()
    out = torch.empty(count, *data.images.shape[1:], dtype=torch.uint8)
    with torch.no_grad():
        for start in range(0, count, 64):
            images = data.floats(torch.arange(start, min(count, start + 64)))
            mean, _ = encode_moments(ae, images)
            recon = (ae.decoder(ae.post_quant_conv(mean)).clamp(-1, 1) + 1) / 2
            out[start : start + images.shape[0]] = (recon * 255).round().to(torch.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(out, path)
    return out


def judge_batch(data, recon: torch.Tensor, index: list[int], gen: torch.Generator, rng):
    """Images of ``index``: half of those with a reconstruction use it, then softened."""
    from .judges import soften

    images = data.floats(torch.tensor(index))
    for row, i in enumerate(index):
        if i < recon.shape[0] and rng.random() < 0.5:
            images[row] = recon[i].float() / 255.0
    return soften(images, gen)


def train_classifier(data, recon, seed: int, seconds: float, max_steps: int, state, batch=64):
    """Cross-entropy on every head; returns (classifier, step, done)."""
    from .judges import AttributeClassifier
    from .training import cosine_lr, rng_state, set_rng_state

    torch.manual_seed(seed)
    model = AttributeClassifier().train()
    opt = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=1e-4)
    rng, gen = random.Random(seed), torch.Generator().manual_seed(seed)
    step = 0
    if state is not None:
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["opt"])
        set_rng_state(state["rng"], rng, gen)
        step = state["step"]
    start = time.monotonic()
    while step < max_steps and time.monotonic() - start < seconds:
        for group in opt.param_groups:
            group["lr"] = cosine_lr(step, max_steps, 2e-3, warmup=30)
        index = [rng.randrange(len(data)) for _ in range(batch)]
        logits = model(judge_batch(data, recon, index, gen, rng))
        ix = torch.tensor(index)
        loss = sum(nn.functional.cross_entropy(logits[n], data.labels[n][ix]) for n in logits)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        step += 1
        if step % 50 == 0:
            log.info(
                "classifier step %d  loss %.4f  (%.0f s)",
                step,
                loss.item(),
                time.monotonic() - start,
            )
    snapshot = {
        "model": model.state_dict(),
        "opt": opt.state_dict(),
        "rng": rng_state(rng, gen),
        "step": step,
    }
    return model.eval(), snapshot


def train_evaluator(
    data,
    recon,
    config: dict,
    seed: int,
    seconds: float,
    max_steps: int,
    state,
    batch=64,
    checkpoint=None,
    stop_at: int | None = None,
    twins: float = 0.0,
):
    """CLIP's contrastive loss, every true caption in the batch a target (captions of the world
    repeat), plus one hard-negative caption per image as an extra column for that image.

    With ``twins`` > 0 that share of the batch is made of freshly rendered *twins* of the other
    images (``judges.twin_scene``: the same scene without or with a defect, or one attribute
    changed). Then the plain caption of a clean image has its defective twin as a competitor
    in the text-to-image direction, which is the comparison the search asks of the evaluator
    (is the clean image closer to the prompt than the defective one?)."""
    import open_clip
    from open_clip.tokenizer import SimpleTokenizer

    from dpo_core.scorers import CLIP_MEAN, CLIP_STD

    from . import world
    from .judges import caption_match_matrix, hard_negative_caption, soften, twin_scene
    from .training import cosine_lr, last_step, rng_state, set_rng_state

    torch.manual_seed(seed)
    model = open_clip.CLIP(**config).train()
    tokenizer = SimpleTokenizer(context_length=config["text_cfg"]["context_length"])
    mean, std = torch.tensor(CLIP_MEAN).view(1, 3, 1, 1), torch.tensor(CLIP_STD).view(1, 3, 1, 1)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.05)
    rng, gen = random.Random(seed + 7), torch.Generator().manual_seed(seed + 7)
    step = 0
    if state is not None:
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["opt"])
        set_rng_state(state["rng"], rng, gen)
        step = state["step"]
    start = time.monotonic()

    def snapshot() -> dict:
        return {
            "model": model.state_dict(),
            "opt": opt.state_dict(),
            "rng": rng_state(rng, gen),
            "step": step,
        }

    stop = last_step(max_steps, stop_at)
    training = set(world.split_scenes()[0])
    n_twins = int(round(batch * twins))
    while step < stop and time.monotonic() - start < seconds:
        for group in opt.param_groups:
            group["lr"] = cosine_lr(step, max_steps, 1e-3, warmup=50)
        index = [rng.randrange(len(data)) for _ in range(batch - n_twins)]
        scenes = [data.scene(i) for i in index]
        defects = [data.defects(i) for i in index]
        pairs = [twin_scene(scenes[k], defects[k], training, rng) for k in range(n_twins)]
        scenes += [s for s, _ in pairs]
        defects += [d for _, d in pairs]
        # the evaluator's captions name every defect the image has: a caption naming none
        # means a clean image, which is what the search's prompt asks for
        captions = [world.caption(s, rng, 0.15, d, 1.0) for s, d in zip(scenes, defects)]
        hard = [hard_negative_caption(s, d, rng) for s, d in zip(scenes, defects)]
        images = judge_batch(data, recon, index, gen, rng)
        if n_twins:
            drawn = world.render(scenes[-n_twins:], rng.randrange(2**31), defects[-n_twins:])
            images = torch.cat([images, soften(drawn, gen)])
        images = (images - mean) / std
        image_features = nn.functional.normalize(model.encode_image(images), dim=-1)
        text_features = nn.functional.normalize(
            model.encode_text(tokenizer(captions + hard)), dim=-1
        )
        scale = model.logit_scale.exp().clamp(max=100)
        logits = scale * image_features @ text_features.T  # (B, 2B)
        targets = caption_match_matrix(scenes, defects, captions).float()
        hard_true = caption_match_matrix(scenes, defects, hard).float()  # rare: a no-op change
        full = torch.cat([targets, hard_true], 1)
        loss_i = -(full / full.sum(1, keepdim=True) * logits.log_softmax(1)).sum(1).mean()
        text_logits = logits[:, :batch].T
        loss_t = (
            -(targets.T / targets.T.sum(1, keepdim=True).clamp(min=1) * text_logits.log_softmax(1))
            .sum(1)
            .mean()
        )
        loss = (loss_i + loss_t) / 2
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        step += 1
        if step % 25 == 0:
            log.info(
                "evaluator step %d  loss %.4f  scale %.1f  (%.0f s)",
                step, loss.item(), scale.item(), time.monotonic() - start,
            )  # fmt: skip
        if checkpoint is not None and step % 100 == 0:
            checkpoint(snapshot())
    return model.eval(), snapshot()


def main(argv: list[str]) -> None:
    from .dataset import render_dataset
    from .models import EVALUATOR_CONFIG, save_weights, weight_path
    from .training import load_checkpoint, parser, save_checkpoint, setup

    p = parser("train the tiny world's attribute classifier and CLIP evaluator", minutes=600.0)
    p.add_argument("--classifier-steps", type=int, default=600)
    p.add_argument("--evaluator-steps", type=int, default=900)
    p.add_argument("--resume", action="store_true", help="continue from the last checkpoints")
    p.add_argument(
        "--evaluator-twins", type=float, default=0.0,
        help="share of each evaluator batch made of rendered twins of the other images (one "
        "defect toggled or one attribute changed; judges.twin_scene)",
    )  # fmt: skip
    p.add_argument(
        "--evaluator-stop-at", type=int, default=None,
        help="stop the evaluator at this step with a checkpoint, as a cut-off run would (its "
        "schedule stays that of --evaluator-steps); how the shipped recipe is reproduced",
    )  # fmt: skip
    args = p.parse_args(argv)
    setup(args.seed, args.threads)
    data = render_dataset(args.seed, 16384)
    recon = reconstructions(data, RECONSTRUCTIONS)
    budget, start = args.minutes * 60.0, time.monotonic()

    state = load_checkpoint("classifier") if args.resume else None
    if state is None or state["step"] < args.classifier_steps:
        classifier, snap = train_classifier(
            data, recon, args.seed, budget, args.classifier_steps, state
        )
        save_checkpoint("classifier", snap)
        if snap["step"] < args.classifier_steps:
            return  # out of time: rerun with --resume
        save_weights(classifier.state_dict(), weight_path("classifier"))

    state = load_checkpoint("evaluator") if args.resume else None
    left = budget - (time.monotonic() - start)
    evaluator, snap = train_evaluator(
        data, recon, EVALUATOR_CONFIG, args.seed, left, args.evaluator_steps, state,
        checkpoint=lambda s: save_checkpoint("evaluator", s), stop_at=args.evaluator_stop_at,
        twins=args.evaluator_twins,
    )  # fmt: skip
    save_checkpoint("evaluator", snap)
    save_weights(evaluator.state_dict(), weight_path("evaluator"))
    weight_path("evaluator_config").write_text(json.dumps(EVALUATOR_CONFIG, indent=2) + "\n")
    log.info("judges done: classifier and evaluator saved (%.0f s)", time.monotonic() - start)


if __name__ == "__main__":
    from tiny_world.cli import run_in_pack

    run_in_pack("train_judges")
