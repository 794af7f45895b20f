"""Train the world's judges: the attribute classifier and the CLIP evaluator (open_clip).

    python -m tiny_world.train_judges --seed 0

Both train on rendered training combinations only, with blur and noise so that they also read
decoded images; neither shares anything with the diffusion model's text encoder.
"""

from __future__ import annotations

import json
import logging
import random
import time

import torch
from torch import nn

log = logging.getLogger(__name__)


def train_classifier(data, seed: int, seconds: float, max_steps: int, batch: int = 64):
    """Cross-entropy on every attribute head; returns the classifier in eval mode."""
    from .judges import AttributeClassifier, degrade
    from .training import cosine_lr

    torch.manual_seed(seed)
    model = AttributeClassifier().train()
    opt = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=1e-4)
    rng, gen = random.Random(seed), torch.Generator().manual_seed(seed)
    start, step, expected = time.monotonic(), 0, max_steps
    while step < max_steps and time.monotonic() - start < seconds:
        if step == 30:
            expected = min(max_steps, int(30 * seconds / (time.monotonic() - start)))
        for group in opt.param_groups:
            group["lr"] = cosine_lr(step, expected, 2e-3, warmup=30)
        index = torch.tensor([rng.randrange(len(data)) for _ in range(batch)])
        logits = model(degrade(data.floats(index), gen))
        loss = sum(nn.functional.cross_entropy(logits[n], data.labels[n][index]) for n in logits)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if step % 50 == 0:
            log.info(
                "classifier step %d  loss %.4f  (%.0f s)",
                step,
                loss.item(),
                time.monotonic() - start,
            )
        step += 1
    log.info("classifier: %d steps in %.0f s", step, time.monotonic() - start)
    return model.eval()


def train_evaluator(data, config: dict, seed: int, seconds: float, max_steps: int, batch: int = 64):
    """CLIP's contrastive loss, with every true caption in the batch as a target (captions of
    the world repeat, so a batch often holds several true captions per image)."""
    import open_clip
    from open_clip.tokenizer import SimpleTokenizer

    from dpo_core.scorers import CLIP_MEAN, CLIP_STD

    from . import world
    from .judges import caption_match_matrix, degrade
    from .training import cosine_lr

    torch.manual_seed(seed)
    model = open_clip.CLIP(**config).train()
    tokenizer = SimpleTokenizer(context_length=config["text_cfg"]["context_length"])
    mean, std = torch.tensor(CLIP_MEAN).view(1, 3, 1, 1), torch.tensor(CLIP_STD).view(1, 3, 1, 1)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.05)
    rng, gen = random.Random(seed + 7), torch.Generator().manual_seed(seed + 7)
    scene_of = world.split_scenes()[0]
    train_scenes = {tuple(s.labels().values()): s for s in scene_of}
    start, step, expected = time.monotonic(), 0, max_steps
    while step < max_steps and time.monotonic() - start < seconds:
        if step == 20:
            expected = min(max_steps, int(20 * seconds / (time.monotonic() - start)))
        for group in opt.param_groups:
            group["lr"] = cosine_lr(step, expected, 1e-3, warmup=50)
        index = [rng.randrange(len(data)) for _ in range(batch)]
        scenes = [
            train_scenes[tuple(int(data.labels[n][i]) for n in world.ATTRIBUTES)] for i in index
        ]
        captions = [data.captions[i] for i in index]
        images = (degrade(data.floats(torch.tensor(index)), gen) - mean) / std
        image_features = nn.functional.normalize(model.encode_image(images), dim=-1)
        text_features = nn.functional.normalize(model.encode_text(tokenizer(captions)), dim=-1)
        logits = model.logit_scale.exp().clamp(max=100) * image_features @ text_features.T
        targets = caption_match_matrix(scenes, captions).float()
        loss_i = -(targets / targets.sum(1, keepdim=True) * logits.log_softmax(1)).sum(1).mean()
        loss_t = (
            -(targets.T / targets.T.sum(1, keepdim=True) * logits.T.log_softmax(1)).sum(1).mean()
        )
        loss = (loss_i + loss_t) / 2
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if step % 25 == 0:
            log.info(
                "evaluator step %d  loss %.4f  scale %.1f  (%.0f s)",
                step,
                loss.item(),
                model.logit_scale.exp().item(),
                time.monotonic() - start,
            )
        step += 1
    log.info("evaluator: %d steps in %.0f s", step, time.monotonic() - start)
    return model.eval()


def main(argv: list[str]) -> None:
    from .dataset import render_dataset
    from .models import EVALUATOR_CONFIG, save_weights, weight_path
    from .training import parser, setup

    p = parser("train the tiny world's attribute classifier and CLIP evaluator", minutes=7.0)
    p.add_argument("--classifier-share", type=float, default=0.3, help="share of the budget")
    args = p.parse_args(argv)
    setup(args.seed, args.threads)
    data = render_dataset(args.seed, 16384)
    budget = args.minutes * 60.0

    classifier = train_classifier(data, args.seed, budget * args.classifier_share, args.max_steps)
    save_weights(classifier.state_dict(), weight_path("classifier"))

    evaluator = train_evaluator(
        data, EVALUATOR_CONFIG, args.seed, budget * (1 - args.classifier_share), args.max_steps
    )
    save_weights(evaluator.state_dict(), weight_path("evaluator"))
    weight_path("evaluator_config").write_text(json.dumps(EVALUATOR_CONFIG, indent=2) + "\n")


if __name__ == "__main__":
    from tiny_world.cli import run_in_pack

    run_in_pack("train_judges")
