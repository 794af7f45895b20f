"""A tiny, seeded, deterministic implementation of the DiffusionBackend and ImageTextScorer
protocols, for fast tests: a word-level tokenizer, a one-block causal text encoder, a
cross-attention denoiser in sigma form with classifier-free guidance and a small decoder."""

from __future__ import annotations

import re
import zlib
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from dpo_core.shortcut import euler_step
from dpo_core.space import SearchSpace, Slot
from dpo_core.text_windows import concat_conditionings

torch.set_num_threads(1)  # tiny models: threads only add overhead on small CPUs

VOCAB = (
    ", . a an the of photo painting picture portrait cat dog bird horse car house tree sky sea "
    "red blue green yellow black white bright dark blurry sharp ugly beautiful lowres detailed "
    "ice cream very old young small big deformed noisy clean happy sad cold warm night day "
    "watermark text cartoon realistic"
).split()
PAD, BOS, EOS, UNK = 0, 1, 2, 3
SPECIALS = 4


@dataclass(frozen=True)
class TinyConfig:
    width: int = 16  # token embedding and context width
    context_length: int = 16
    channels: int = 4  # latent channels
    latent_size: int = 8  # latents are (channels, latent_size, latent_size); images twice that
    features: int = 16  # denoiser hidden width
    steps: int = 10
    sigma_max: float = 10.0
    sigma_min: float = 0.1
    cfg: float = 3.0
    seed: int = 0


class TinyBackend(torch.nn.Module):
    """Implements ``dpo_core.protocols.DiffusionBackend`` with a few thousand parameters."""

    def __init__(self, config: TinyConfig = TinyConfig(), dtype: torch.dtype = torch.float32):
        super().__init__()
        self.config = config
        self.bos_id, self.eos_id, self.pad_id = BOS, EOS, PAD
        self.context_length = config.context_length
        self.words = {w: SPECIALS + i for i, w in enumerate(VOCAB)}
        g = torch.Generator().manual_seed(config.seed)
        d, f, c = config.width, config.features, config.channels

        def param(*shape: int, scale: float) -> torch.nn.Parameter:
            return torch.nn.Parameter(torch.randn(*shape, generator=g) * scale)

        self.token_table = param(SPECIALS + len(VOCAB), d, scale=1.0)
        self.positions = param(config.context_length, d, scale=0.3)
        self.wq, self.wk, self.wv, self.wo = (param(d, d, scale=d**-0.5) for _ in range(4))
        self.mlp_in, self.mlp_out = param(d, 2 * d, scale=d**-0.5), param(2 * d, d, scale=0.3)
        self.conv_in = param(f, c, scale=0.5)
        self.q_x, self.k_ctx, self.v_ctx = (
            param(f, f, scale=0.3),
            param(d, f, scale=0.3),
            param(d, f, scale=0.5),
        )
        self.pool_ctx = param(d, f, scale=0.5)
        self.sigma_embed = param(f, scale=0.3)
        self.conv_out = param(c, f, scale=0.5)
        self.dec_hidden, self.dec_out = param(8, c, scale=0.7), param(3, 8, scale=0.7)
        self.requires_grad_(False)
        self.to(dtype)
        self.dtype = dtype
        self._sigmas = torch.cat(
            [
                torch.exp(
                    torch.linspace(
                        torch.tensor(config.sigma_max).log(),
                        torch.tensor(config.sigma_min).log(),
                        config.steps,
                        dtype=torch.float64,
                    )
                ),
                torch.zeros(1, dtype=torch.float64),
            ]
        ).to(dtype)

    # --- text side -------------------------------------------------------------------------
    def tokenize(self, text: str) -> list[int]:
        pieces = re.findall(r"[a-z0-9]+|[^\sa-z0-9]", text.lower())
        return [self.words.get(p, UNK) for p in pieces]

    def window_sizes(self, text: str) -> list[int]:
        """A long text is cut into windows of ``context_length - 2`` tokens (plain cuts; the
        ComfyUI backend keeps ComfyUI's word boundaries)."""
        n, size = len(self.tokenize(text)), self.context_length - 2
        return [min(size, n - lo) for lo in range(0, n, size)] or [0]

    def sequence_ids(self, text: str) -> list[int]:
        """``[BOS] tokens [EOS] pad...`` of every window, concatenated."""
        ids, out = self.tokenize(text), []
        for size in self.window_sizes(text):
            window = [BOS, *ids[:size], EOS]
            ids = ids[size:]
            out += window + [PAD] * (self.context_length - len(window))
        return out

    def token_embeddings(self, ids: torch.Tensor) -> torch.Tensor:
        return self.token_table[ids]

    def encode_embeddings(self, embeddings: torch.Tensor) -> torch.Tensor:
        h = embeddings + self.positions  # (B, T, D)
        z = _norm(h)
        q, k, v = z @ self.wq, z @ self.wk, z @ self.wv
        scores = q @ k.transpose(1, 2) / h.shape[-1] ** 0.5  # (B, T, T), causal like CLIP
        t = h.shape[1]
        causal = torch.ones(t, t, dtype=torch.bool, device=h.device).triu(1)
        scores = scores.masked_fill(causal, float("-inf"))
        h = h + torch.softmax(scores, dim=-1) @ v @ self.wo
        h = h + torch.tanh(_norm(h) @ self.mlp_in) @ self.mlp_out
        return _norm(h)

    def encode_text(self, texts: Sequence[str]) -> torch.Tensor:
        out = []
        with torch.no_grad():
            for text in texts:
                ids = torch.tensor(self.sequence_ids(text), dtype=torch.long)
                windows = self.encode_embeddings(
                    self.token_embeddings(ids.view(-1, self.context_length))
                )
                out.append(windows.reshape(1, -1, windows.shape[-1]))
        return concat_conditionings(out)

    # --- diffusion side --------------------------------------------------------------------
    @property
    def sigmas(self) -> torch.Tensor:
        return self._sigmas

    def noise(self, seeds: Sequence[int]) -> torch.Tensor:
        c, s = self.config.channels, self.config.latent_size
        out = [
            torch.randn(
                c, s, s, generator=torch.Generator().manual_seed(int(seed)), dtype=torch.float64
            )
            for seed in seeds
        ]
        return torch.stack(out).to(self.dtype)

    def model(self, x: torch.Tensor, sigma: float, context: torch.Tensor) -> torch.Tensor:
        """x0 estimate, EDM-style preconditioning around a cross-attention block."""
        c_in = (sigma**2 + 1) ** -0.5
        b, c, hgt, wid = x.shape
        h = torch.einsum("fc,bcn->bnf", self.conv_in, (x * c_in).reshape(b, c, -1))  # (B, N, F)
        q = h @ self.q_x
        k, v = context @ self.k_ctx, context @ self.v_ctx  # (B, T, F)
        attn = torch.softmax(q @ k.transpose(1, 2) / q.shape[-1] ** 0.5, dim=-1) @ v
        pooled = (context.mean(dim=1) @ self.pool_ctx)[:, None]  # (B, 1, F)
        h = torch.tanh(h + attn + pooled + float(torch.tensor(sigma).log()) * self.sigma_embed)
        out = torch.einsum("cf,bnf->bcn", self.conv_out, h).reshape(b, c, hgt, wid)
        c_skip = 1.0 / (sigma**2 + 1)
        c_out = sigma * (sigma**2 + 1) ** -0.5
        return c_skip * x + c_out * out

    def denoise(
        self, x: torch.Tensor, sigma: float, positive: torch.Tensor, negative: torch.Tensor
    ) -> torch.Tensor:
        context = concat_conditionings([positive, negative])
        both = self.model(torch.cat([x, x]), float(sigma), context)
        pos, neg = both.chunk(2)
        return neg + self.config.cfg * (pos - neg)

    def initial_latent(self, noise: torch.Tensor) -> torch.Tensor:
        return noise * self.sigmas[0]

    def sample(
        self,
        noise: torch.Tensor,
        positive: torch.Tensor,
        negative: torch.Tensor,
        end_step: int,
        seeds: Sequence[int] | None = None,  # deterministic sampler: unused
    ) -> torch.Tensor:
        sigmas = self.sigmas
        x = self.initial_latent(noise)
        with torch.no_grad():
            for i in range(end_step):
                x0 = self.denoise(x, float(sigmas[i]), positive, negative)
                x = euler_step(x, x0, float(sigmas[i]), float(sigmas[i + 1]))
        return x

    def decode(self, latents: torch.Tensor) -> torch.Tensor:
        h = torch.tanh(torch.einsum("hc,bcxy->bhxy", self.dec_hidden, latents))
        rgb = torch.einsum("oh,bhxy->boxy", self.dec_out, h)
        return torch.sigmoid(torch.nn.functional.interpolate(rgb, scale_factor=2.0))


def _norm(h: torch.Tensor) -> torch.Tensor:
    return torch.nn.functional.layer_norm(h, h.shape[-1:])


class TinyScorer(torch.nn.Module):
    """Implements ``ImageTextScorer``: pooled pixels through a fixed projection; texts map to
    planted ``targets`` when given, else to a vector seeded by the text."""

    name = "tiny"

    def __init__(self, width: int = 16, dtype: torch.dtype = torch.float32, seed: int = 1):
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.projection = torch.nn.Parameter(
            (torch.randn(48, width, generator=g) / 48**0.5).to(dtype), requires_grad=False
        )
        self.width, self.dtype = width, dtype
        self.targets: dict[str, torch.Tensor] = {}

    def embed_images(self, images: torch.Tensor) -> torch.Tensor:
        pooled = torch.nn.functional.adaptive_avg_pool2d(images, 4).flatten(1)  # (B, 48)
        return (pooled - 0.5) @ self.projection

    def embed_texts(self, texts: Sequence[str]) -> torch.Tensor:
        rows = []
        for text in texts:
            if text in self.targets:
                rows.append(self.targets[text].to(self.dtype))
            else:
                g = torch.Generator().manual_seed(zlib.crc32(text.encode()))
                rows.append(torch.randn(self.width, generator=g).to(self.dtype))
        return torch.stack(rows)


def negative_space(
    prompt: str = "a photo of a cat", sizes: Sequence[int] = (4, 4, 4)
) -> SearchSpace:
    """A negative-mode space over the tiny vocabulary, with multi-word candidates."""
    pool = [
        ("blurry", "very blurry", "lowres", "noisy", "deformed"),
        ("dark", "very dark", "black", "night", "cold"),
        ("ugly", "cartoon", "watermark", "text", "old"),
        ("red", "ice cream", "small", "sad", "big"),
        ("green", "yellow", "white", "sky", "sea"),
    ]
    slots = tuple(
        Slot(word=f"w{i}", candidates=("", *pool[i][: n - 1]), source="test")
        for i, n in enumerate(sizes)
    )
    return SearchSpace(prompt=prompt, mode="negative", slots=slots)


def positive_space() -> SearchSpace:
    """A positive-mode (attack) space: 'a photo of a red cat' with synonym-like options."""
    pieces = ("a ", "photo", " of a ", "red", " ", "cat")
    slots = (
        Slot(word="photo", candidates=("photo", "picture", "painting", "portrait"), piece=1),
        Slot(word="red", candidates=("red", "very dark", "black"), piece=3),
        Slot(word="cat", candidates=("cat", "dog", "small cat"), piece=5),
    )
    return SearchSpace(prompt="".join(pieces), mode="positive", slots=slots, pieces=pieces)
