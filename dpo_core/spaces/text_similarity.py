"""Ranking with the text encoder the user loaded: how similar two prompts are to it.

``TextSimilarity`` wraps an "embed texts" callable, ``texts -> (N, D)`` tensor (the nodes build
it from the connected CLIP: the pooled output of its text encoder, so no other model is
downloaded or loaded). Embeddings are L2-normalised and kept per text, so a prompt's variants
are encoded once per build. Three uses:

- **senses** (``sense_bonus``): each sense's gloss written into the prompt after the word
  (``"... long dark hair (a covering for the body ...)"``) against the prompt itself; the
  senses whose gloss keeps the sentence closest get a bonus;
- **candidates** (``candidate_bonus``): the prompt with the word replaced by each candidate
  against the prompt. In negative mode a closer sentence means a candidate closer in kind
  (WordNet's rules have already removed the words that mean the same);
- **attacks** (``keep_meaning``): a rewrite is kept only if its cosine to the original prompt
  is at least a threshold (the reference kept rewrites at a sentence-embedding cosine >= 0.9).

Bonuses are standardised similarities: ``(s - mean) / max(std, MIN_SPREAD)``, clipped to
``[-MAX_Z, MAX_Z]`` and multiplied by a weight. The floor on the spread keeps an encoder that
hardly tells the options apart (a small or untrained one) from reordering them on noise; the
clip keeps the encoder a tie-breaker next to WordNet's structure, never the judge.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence

import torch

EmbedTexts = Callable[[Sequence[str]], torch.Tensor]  # texts -> (len(texts), D)
KeepRewrite = Callable[[str, str], bool]  # (original prompt, rewritten prompt) -> keep it?

MIN_SPREAD = 0.01  # cosine spread below which differences count as noise
MAX_Z = 1.5
SENSE_WEIGHT = 0.5  # in units of rank_senses' score (one context word found in a gloss = 1):
# the largest swing between two senses is 2 * MAX_Z * SENSE_WEIGHT = 1.5, a near tie only
CANDIDATE_WEIGHT = 1.0  # in places of the structural order within a tier
# Attack mode: a rewrite is kept at a cosine of at least this to the original prompt (see
# docs/search_spaces.md, "Meaning filter", for how it was chosen on the development prompts).
DEFAULT_MEANING_THRESHOLD = 0.9
GLOSS_WORDS = 12  # the first words of a gloss are enough, and keep the text in 77 tokens
_PROBE = "a photo of a cat sitting on a red sofa"


class TextSimilarity:
    """Cosine similarities between texts under one text encoder, with embeddings cached."""

    def __init__(self, embed: EmbedTexts, name: str = "text encoder") -> None:
        self._embed = embed
        self.name = name
        self._vectors: dict[str, torch.Tensor] = {}
        self._fingerprint: str | None = None

    def vectors(self, texts: Sequence[str]) -> torch.Tensor:
        """``(len(texts), D)`` unit vectors (new texts are encoded in one batch)."""
        missing = [t for t in dict.fromkeys(texts) if t not in self._vectors]
        if missing:
            with torch.no_grad():
                found = self._embed(missing)
            if found.ndim != 2 or found.shape[0] != len(missing):
                raise ValueError(
                    f"the embed function returned shape {tuple(found.shape)} for "
                    f"{len(missing)} texts; expected ({len(missing)}, D)"
                )
            found = torch.nn.functional.normalize(found.detach().float().cpu(), dim=-1)
            self._vectors.update(zip(missing, found, strict=True))
        return torch.stack([self._vectors[t] for t in texts])

    def similarities(self, reference: str, texts: Sequence[str]) -> list[float]:
        """Cosine of each text to ``reference``."""
        if not texts:
            return []
        vectors = self.vectors([reference, *texts])
        return (vectors[1:] @ vectors[0]).tolist()

    def fingerprint(self) -> str:
        """A short id of the encoder's behaviour (its embedding of a fixed probe sentence), so
        that spaces ranked by different encoders are cached apart."""
        if self._fingerprint is None:
            probe = self.vectors([_PROBE])[0]
            rounded = torch.round(probe * 1000).to(torch.int32).numpy().tobytes()
            self._fingerprint = hashlib.sha256(rounded).hexdigest()[:16]
        return self._fingerprint


def standardize(values: Sequence[float], weight: float) -> list[float]:
    """``weight * clip((v - mean) / max(std, MIN_SPREAD), -MAX_Z, MAX_Z)`` for each value."""
    if len(values) < 2:
        return [0.0 for _ in values]
    mean = sum(values) / len(values)
    std = (sum((v - mean) ** 2 for v in values) / len(values)) ** 0.5
    spread = max(std, MIN_SPREAD)
    return [weight * max(-MAX_Z, min(MAX_Z, (v - mean) / spread)) for v in values]


def replace_span(prompt: str, start: int, end: int, text: str) -> str:
    """The prompt with ``prompt[start:end]`` replaced by ``text``."""
    return prompt[:start] + text + prompt[end:]


def sense_bonus(
    similarity: TextSimilarity, prompt: str, start: int, end: int, glosses: Sequence[str]
) -> list[float]:
    """Bonus per sense: the prompt with the word followed by the sense's gloss, vs the prompt."""
    word = prompt[start:end]
    texts = [
        replace_span(prompt, start, end, f"{word} ({' '.join(g.split()[:GLOSS_WORDS])})")
        for g in glosses
    ]
    return standardize(similarity.similarities(prompt, texts), SENSE_WEIGHT)


def candidate_bonus(
    similarity: TextSimilarity, prompt: str, start: int, end: int, candidates: Sequence[str]
) -> list[float]:
    """Bonus per candidate: the prompt with the word replaced by it, vs the prompt."""
    texts = [replace_span(prompt, start, end, c) for c in candidates]
    return standardize(similarity.similarities(prompt, texts), CANDIDATE_WEIGHT)


def keep_meaning(similarity: TextSimilarity, threshold: float) -> KeepRewrite:
    """``keep(original, rewritten)``: the rewrite's cosine to the original is >= threshold."""

    def keep(original: str, rewritten: str) -> bool:
        return similarity.similarities(original, [rewritten])[0] >= threshold

    return keep
