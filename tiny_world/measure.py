"""Judge generated images of the world, sampled through the pack's one ComfyUI backend.

Every image the quality report and the benchmarks look at is made by ``ComfyBackend`` (the
search's own path, which equals ComfyUI's KSampler for the same seed), one image per
(prompt, negative prompt, seed), and judged by both judges: the attribute classifier's
labels and the evaluator's spherical loss against the prompt. Verdicts are cached per triple,
so a report that needs the same image twice renders it once.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import torch

from . import world

CFG = 6.0  # as the tiny-world workflow ships it (workflows/DPO-Diff tiny world (CPU, no downloads).json)
STEPS = 20
SAMPLER = ("euler", "normal")


@dataclass(frozen=True)
class Verdict:
    """What the judges say about one generated image."""

    prompt: str
    negative: str
    seed: int
    labels: dict[str, str]  # classifier head -> predicted value
    confidence: float  # the lowest top-class probability over the colour and shape heads
    loss: float  # the evaluator's spherical loss against the prompt (lower: closer)

    @property
    def stated(self) -> dict[str, str]:
        return world.parse_caption(self.prompt)

    @property
    def wrong_attributes(self) -> dict[str, str]:
        """Stated attributes the image gets wrong: attribute -> the value it shows."""
        return {k: self.labels[k] for k, v in self.stated.items() if self.labels[k] != v}

    @property
    def unwanted(self) -> frozenset[str]:
        """Defects the image shows and the prompt does not name."""
        shown = frozenset(d for d in world.DEFECTS if self.labels[d] == "present")
        return shown - world.named_defects(self.prompt)

    @property
    def exact(self) -> bool:
        """Every stated attribute right and no unwanted defect."""
        return not self.wrong_attributes and not self.unwanted

    @property
    def accuracy(self) -> float:
        """Share right of the stated attributes and of the "no defect" requirement."""
        total = len(self.stated) + 1
        return (total - len(self.wrong_attributes) - (1 if self.unwanted else 0)) / total

    @property
    def broken(self) -> bool:
        """The classifier cannot tell the colour or the shape (a scrambled picture)."""
        return self.confidence < 0.5


def make_backend(loaded, steps: int = STEPS, cfg: float = CFG):
    """The pack's ComfyBackend on the loaded world, 64x64, euler/normal."""
    from ..nodes.comfy_backend import ComfyBackend
    from ..nodes.sampling_settings import SamplingSettings

    settings = SamplingSettings(
        steps, cfg, SAMPLER[0], SAMPLER[1], world.IMAGE_SIZE, world.IMAGE_SIZE
    )
    return ComfyBackend(loaded.model, loaded.clip, loaded.vae, settings)


class Judge:
    """Renders (prompt, negative, seed) triples through the backend and judges them."""

    def __init__(self, loaded, backend, batch_size: int = 32) -> None:
        self.loaded = loaded
        self.backend = backend
        self.batch_size = batch_size
        self.cache: dict[tuple[str, str, int], Verdict] = {}
        self.rendered = 0
        self._text_embeddings: dict[str, torch.Tensor] = {}

    def images(self, triples: Sequence[tuple[str, str, int]]) -> torch.Tensor:
        """The images of ``triples`` ``(N, 3, 64, 64)`` (not cached)."""
        from dpo_core.evaluation import generate_images

        return generate_images(
            self.backend, [t[0] for t in triples], [t[1] for t in triples],
            [t[2] for t in triples], self.batch_size,
        )  # fmt: skip

    def _prompt_embedding(self, prompt: str) -> torch.Tensor:
        if prompt not in self._text_embeddings:
            self._text_embeddings[prompt] = self.loaded.evaluator.embed_texts([prompt])
        return self._text_embeddings[prompt]

    def verdicts_of(
        self, triples: Sequence[tuple[str, str, int]], images: torch.Tensor
    ) -> list[Verdict]:
        from dpo_core.losses import objective

        from .judges import HEADS

        with torch.no_grad():
            logits = self.loaded.classifier(images.float())
            probs = {k: v.softmax(-1) for k, v in logits.items()}
            embeddings = self.loaded.evaluator.embed_images(images)
            targets = torch.cat([self._prompt_embedding(t[0]) for t in triples])
            losses = objective(embeddings, targets, "negative")
        out = []
        for i, (prompt, negative, seed) in enumerate(triples):
            labels = {k: HEADS[k][int(probs[k][i].argmax())] for k in probs}
            confidence = min(float(probs[k][i].max()) for k in ("colour", "shape"))
            out.append(Verdict(prompt, negative, seed, labels, confidence, float(losses[i])))
        return out

    def __call__(self, triples: Iterable[tuple[str, str, int]]) -> list[Verdict]:
        triples = [(p, n, int(s)) for p, n, s in triples]
        missing = list(dict.fromkeys(t for t in triples if t not in self.cache))
        for lo in range(0, len(missing), 4 * self.batch_size):
            chunk = missing[lo : lo + 4 * self.batch_size]
            for verdict in self.verdicts_of(chunk, self.images(chunk)):
                self.cache[(verdict.prompt, verdict.negative, verdict.seed)] = verdict
            self.rendered += len(chunk)
        return [self.cache[t] for t in triples]


def exact_rate(verdicts: Sequence[Verdict]) -> float:
    return sum(v.exact for v in verdicts) / max(1, len(verdicts))


def mean_ci(values: Sequence[float], level: float = 0.95) -> dict[str, float]:
    """Mean with a t-based confidence interval (normal beyond the table), n, std."""
    n = len(values)
    mean = statistics.fmean(values) if values else float("nan")
    std = statistics.stdev(values) if n > 1 else 0.0
    t = _t_quantile(n - 1) if n > 1 else float("nan")
    half = t * std / math.sqrt(n) if n > 1 else float("nan")
    return {"mean": mean, "ci_low": mean - half, "ci_high": mean + half, "std": std, "n": n}


def _t_quantile(df: int) -> float:
    """Two-sided 95% Student-t quantile."""
    table = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306,
             9: 2.262, 10: 2.228, 11: 2.201, 12: 2.179, 13: 2.160, 14: 2.145, 15: 2.131,
             16: 2.120, 17: 2.110, 18: 2.101, 19: 2.093, 20: 2.086, 21: 2.080, 22: 2.074,
             23: 2.069, 24: 2.064, 25: 2.060, 26: 2.056, 27: 2.052, 28: 2.048, 29: 2.045,
             30: 2.042, 40: 2.021, 60: 2.000, 120: 1.980}  # fmt: skip
    if df in table:
        return table[df]
    larger = [k for k in table if k > df]
    return table[min(larger)] if larger else 1.960


def spearman(x: Sequence[float], y: Sequence[float]) -> float:
    """Spearman rank correlation with average ranks for ties (nan when one side is constant)."""

    def ranks(v: Sequence[float]) -> list[float]:
        order = sorted(range(len(v)), key=lambda i: v[i])
        r = [0.0] * len(v)
        i = 0
        while i < len(order):
            j = i
            while j + 1 < len(order) and v[order[j + 1]] == v[order[i]]:
                j += 1
            for k in range(i, j + 1):
                r[order[k]] = (i + j) / 2
            i = j + 1
        return r

    rx, ry = ranks(x), ranks(y)
    if len(set(rx)) < 2 or len(set(ry)) < 2:
        return float("nan")
    mx, my = statistics.fmean(rx), statistics.fmean(ry)
    cov = sum((a - mx) * (b - my) for a, b in zip(rx, ry))
    sx = math.sqrt(sum((a - mx) ** 2 for a in rx))
    sy = math.sqrt(sum((b - my) ** 2 for b in ry))
    return cov / (sx * sy)


def value_phrase(attribute: str, value: str) -> str:
    """The word a negative prompt uses to name an attribute value or a defect."""
    if attribute in world.DEFECTS:
        return world.DEFECTS[attribute][0]
    return world.attribute_phrases(attribute, value)[0]


def select_prompts(captions: Sequence[str], count: int, offset: int = 0) -> list[str]:
    """``count`` captions evenly spread over ``captions``, the spread shifted by ``offset``."""
    count = min(count, len(captions))
    stride = len(captions) / count
    return [captions[(int(i * stride) + offset) % len(captions)] for i in range(count)]
