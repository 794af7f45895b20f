"""Image-text scorers on open_clip models loaded from LOCAL checkpoint files (no downloads).

CLIP preprocessing is done in torch (resize of the shorter side, centre crop, normalisation) so
the score stays differentiable with respect to the image. HPSv2 is an open_clip ViT-H-14 with
human-preference weights: the same class, another registry entry. ``EVALUATOR_KINDS`` is every
kind the Evaluator Loader offers (these open_clip architectures, a transformers CLIP file, an
open_clip model with its config in the file), each with its description, its loader and the
test of whether a file's weights fit it.
"""

from __future__ import annotations

import json
import logging
import pickle
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

log = logging.getLogger(__name__)

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)  # OpenAI CLIP normalisation (also HPSv2's)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


@dataclass(frozen=True)
class ScorerSpec:
    """A scorer kind the user can pick: an open_clip architecture and what weights it expects."""

    architecture: str  # open_clip model name
    description: str
    patch_embedding: tuple[int, ...]  # shape of visual.conv1.weight: tells the kinds apart


SCORERS: dict[str, ScorerSpec] = {
    "clip-vit-b-32": ScorerSpec(
        "ViT-B-32-quickgelu",
        "OpenAI CLIP ViT-B/32 (the paper's main metric), open_clip weights",
        (768, 3, 32, 32),
    ),
    "clip-vit-l-14": ScorerSpec(
        "ViT-L-14-quickgelu", "OpenAI CLIP ViT-L/14, open_clip weights", (1024, 3, 14, 14)
    ),
    "hpsv2": ScorerSpec(
        "ViT-H-14", "HPS v2: open_clip ViT-H-14 fine-tuned on human preferences", (1280, 3, 14, 14)
    ),
}
HF_CLIP_KIND = "transformers CLIP"  # a Hugging Face CLIPModel file; architecture from shapes
EMBEDDED_KIND = "embedded config"  # an open_clip model whose config is stored in the file
CONFIG_KEY = "open_clip_config"  # the safetensors metadata key of that config
HF_PATCH_KEY = "vision_model.embeddings.patch_embedding.weight"  # only transformers CLIP has it


class WeightsFileError(ValueError):
    """An evaluator file that cannot be used; the message names the file, what is wrong and,
    where it can be told, which kinds fit."""


def kinds_that_fit(state: dict[str, torch.Tensor]) -> list[str]:
    """The evaluator kinds whose architecture matches these weights' telling shapes."""
    return [kind for kind, spec in EVALUATOR_KINDS.items() if spec.fits(state)]


def _fit_hint(state: dict[str, torch.Tensor]) -> str:
    kinds = kinds_that_fit(state)
    if kinds:
        return f"kinds that fit: {', '.join(kinds)}"
    return (
        f"it fits none of {', '.join(SCORERS)} or {HF_CLIP_KIND}; an open_clip model of another "
        f"size needs its config stored in the file ({EMBEDDED_KIND})"
    )


def load_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """Weights from a ``.safetensors`` or torch file; unwraps ``state_dict``/``model`` and
    strips a ``module.`` prefix (training checkpoints such as HPSv2's). Torch files are read
    with ``weights_only=True`` (tensors, never pickled code); any failure is one
    ``WeightsFileError`` that names the file."""
    path = Path(path)
    if not path.is_file():
        raise WeightsFileError(f"expected a checkpoint file, got {str(path)!r} (not found)")
    name = path.name
    if path.stat().st_size == 0:
        raise WeightsFileError(f"evaluator file {name} is empty (0 bytes); download it again")
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        try:
            state: Any = load_file(str(path))
        except Exception as err:  # safetensors raises its own error type for every defect
            raise WeightsFileError(
                f"evaluator file {name} is not a readable safetensors file ({err}); it may be "
                "truncated or another kind of file: download it again"
            ) from None
    else:
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except EOFError:
            raise WeightsFileError(
                f"evaluator file {name} ends early (truncated); download it again"
            ) from None
        except pickle.UnpicklingError:
            # torch's own message suggests loading unsafely; that advice is never passed on
            raise WeightsFileError(
                f"evaluator file {name} holds more than tensors (pickled objects), and only "
                "tensors are loaded, never code; use a .safetensors copy of these weights"
            ) from None
        except (RuntimeError, OSError, ValueError):
            raise WeightsFileError(
                f"evaluator file {name} is not a torch weights file (corrupt or truncated); "
                "download it again"
            ) from None
    for key in ("state_dict", "model"):
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
    if not isinstance(state, dict) or not state:
        raise WeightsFileError(
            f"evaluator file {name} holds no weights (expected a dict of tensors, got "
            f"{type(state).__name__})"
        )
    tensors = {str(k).removeprefix("module."): v for k, v in state.items()
               if isinstance(v, torch.Tensor)}  # fmt: skip
    if not tensors:
        raise WeightsFileError(f"evaluator file {name} holds no tensors")
    return tensors


class OpenClipScorer(torch.nn.Module):
    """``ImageTextScorer`` on an open_clip CLIP model."""

    model: Any  # open_clip.CLIP (typed loosely: open_clip is imported lazily)
    mean: torch.Tensor  # (1, 3, 1, 1) normalisation buffers
    std: torch.Tensor

    def __init__(
        self,
        model: Any,
        name: str,
        image_size: int,
        mean: Sequence[float] = CLIP_MEAN,
        std: Sequence[float] = CLIP_STD,
    ) -> None:
        super().__init__()
        from open_clip.tokenizer import SimpleTokenizer

        self.model = model.eval().requires_grad_(False)
        self.name = name
        self.image_size = int(image_size)
        self.tokenizer = SimpleTokenizer(context_length=int(model.context_length))
        self.register_buffer("mean", torch.tensor(mean).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(std).view(1, 3, 1, 1), persistent=False)

    @classmethod
    def from_checkpoint(
        cls,
        architecture: str,
        checkpoint: str | Path | None,
        *,
        model_config: dict[str, Any] | None = None,
        name: str | None = None,
        device: str | torch.device = "cpu",
        dtype: torch.dtype = torch.float32,
    ) -> OpenClipScorer:
        """Build ``architecture`` (or ``model_config``, open_clip's CLIP config dict) with random
        weights, then load ``checkpoint``; ``None`` keeps the random weights (tests only)."""
        import open_clip

        state = None if checkpoint is None else load_state_dict(checkpoint)
        label = Path(checkpoint).name if checkpoint is not None else "random weights"
        if model_config is not None:
            try:
                model = open_clip.CLIP(**model_config)
            except (TypeError, ValueError, KeyError, AttributeError) as err:
                raise WeightsFileError(
                    f"evaluator file {label}: its embedded open_clip config does not describe "
                    f"a CLIP model ({type(err).__name__}: {err})"
                ) from None
        else:
            model = open_clip.create_model(architecture, pretrained=None, pretrained_text=False)
        if state is not None:
            expected = model.state_dict()
            wrong = [k for k, v in expected.items() if k in state and state[k].shape != v.shape]
            missing = [k for k in expected if k not in state and not k.endswith("position_ids")]
            if wrong or missing:
                example = (f"e.g. {wrong[0]} is {tuple(state[wrong[0]].shape)} in the file, "
                           f"{tuple(expected[wrong[0]].shape)} expected" if wrong
                           else f"e.g. {missing[0]}")  # fmt: skip
                raise WeightsFileError(
                    f"evaluator file {label} does not hold {name or architecture} weights: "
                    f"{len(wrong)} tensors have other shapes and {len(missing)} are missing "
                    f"({example}); {_fit_hint(state)}"
                )
            unexpected = [k for k in state if k not in expected]
            model.load_state_dict(state, strict=False)
            if unexpected:
                log.warning("ignored %d unexpected tensors in %s", len(unexpected), label)
        size = model.visual.image_size
        size = size[0] if isinstance(size, (tuple, list)) else size
        cfg = getattr(model.visual, "preprocess_cfg", None) or {}
        scorer = cls(
            model,
            name or architecture,
            size,
            cfg.get("mean", CLIP_MEAN),
            cfg.get("std", CLIP_STD),
        )
        return scorer.to(device=device, dtype=dtype)

    def preprocess(self, images: torch.Tensor) -> torch.Tensor:
        """CLIP preprocessing in torch: shorter side to ``image_size`` (bicubic, antialiased),
        centre crop, normalise. ``images`` (B, 3, H, W) in [0, 1]."""
        if images.ndim != 4 or images.shape[1] != 3:
            raise ValueError(f"expected images of shape (B, 3, H, W), got {tuple(images.shape)}")
        images = images.to(device=self.mean.device, dtype=self.mean.dtype)
        h, w = images.shape[-2:]
        scale = self.image_size / min(h, w)
        size = (max(self.image_size, round(h * scale)), max(self.image_size, round(w * scale)))
        if size != (h, w):
            images = torch.nn.functional.interpolate(
                images, size=size, mode="bicubic", align_corners=False, antialias=True
            )
        top = (size[0] - self.image_size) // 2
        left = (size[1] - self.image_size) // 2
        images = images[..., top : top + self.image_size, left : left + self.image_size]
        return (images - self.mean) / self.std

    def embed_images(self, images: torch.Tensor) -> torch.Tensor:
        return self.model.encode_image(self.preprocess(images))

    def embed_texts(self, texts: Sequence[str]) -> torch.Tensor:
        tokens = self.tokenizer(list(texts)).to(self.mean.device)
        with torch.no_grad():
            return self.model.encode_text(tokens)


def load_scorer(
    kind: str,
    checkpoint: str | Path,
    *,
    device: str | torch.device = "cpu",
    dtype: torch.dtype = torch.float32,
) -> OpenClipScorer:
    """A scorer of a registered ``kind`` (see ``SCORERS``) with weights from a local file."""
    if kind not in SCORERS:
        raise ValueError(f"expected a scorer kind in {sorted(SCORERS)}, got {kind!r}")
    spec = SCORERS[kind]
    return OpenClipScorer.from_checkpoint(
        spec.architecture, checkpoint, name=kind, device=device, dtype=dtype
    )


def embedded_config(path: str | Path) -> dict | None:
    """The open_clip model config stored in a safetensors file's metadata, if any."""
    if not str(path).endswith(".safetensors"):
        return None
    from safetensors import safe_open

    name = Path(path).name
    if Path(path).is_file() and Path(path).stat().st_size == 0:
        raise WeightsFileError(f"evaluator file {name} is empty (0 bytes); download it again")
    try:
        with safe_open(str(path), "pt") as f:
            raw = (f.metadata() or {}).get(CONFIG_KEY)
    except Exception as err:  # safetensors raises its own error type for every defect
        raise WeightsFileError(
            f"evaluator file {name} is not a readable safetensors file ({err}); it may be "
            "truncated or another kind of file: download it again"
        ) from None
    if not raw:
        return None
    try:
        config = json.loads(raw)
    except (ValueError, RecursionError):
        raise WeightsFileError(
            f"evaluator file {name}: its embedded open_clip config ({CONFIG_KEY}) is not valid "
            "JSON; save the file again with its config, or pick the kind of its weights"
        ) from None
    if not isinstance(config, dict):
        raise WeightsFileError(
            f"evaluator file {name}: its embedded open_clip config ({CONFIG_KEY}) is not an "
            "object of CLIP settings; save the file again with its config"
        )
    return config


def _load_embedded(path: str | Path) -> OpenClipScorer:
    config = embedded_config(path)
    if config is None:
        fit = kinds_that_fit(load_state_dict(path))
        others = [k for k in EVALUATOR_KINDS if k != EMBEDDED_KIND]
        raise WeightsFileError(
            f"evaluator file {Path(path).name} has no embedded open_clip config; pick its "
            "kind in the evaluator loader ("
            + (f"kinds that fit: {', '.join(fit)}" if fit else f"one of {', '.join(others)}")
            + ")"
        )
    return OpenClipScorer.from_checkpoint("custom", path, model_config=config, name=Path(path).stem)


def _load_hf_clip(path: str | Path) -> OpenClipScorer:
    from .hf_clip import load_hf_clip_scorer  # it imports this module

    return load_hf_clip_scorer(path)


def _patch_embedding_is(shape: tuple[int, ...]) -> Callable[[dict[str, torch.Tensor]], bool]:
    def fits(state: dict[str, torch.Tensor]) -> bool:
        if HF_PATCH_KEY in state:
            return False
        conv = state.get("visual.conv1.weight")
        return isinstance(conv, torch.Tensor) and tuple(conv.shape) == shape

    return fits


@dataclass(frozen=True)
class EvaluatorKind:
    """A kind the Evaluator Loader offers: what its files hold, how one loads, and whether a
    file's weights fit it (told from their shapes; never for a config stored in the file)."""

    description: str
    load: Callable[[str | Path], OpenClipScorer]
    fits: Callable[[dict[str, torch.Tensor]], bool]


def _open_clip_kind(kind: str, spec: ScorerSpec) -> EvaluatorKind:
    return EvaluatorKind(
        spec.description,
        lambda path: load_scorer(kind, path),
        _patch_embedding_is(spec.patch_embedding),
    )


EVALUATOR_KINDS: dict[str, EvaluatorKind] = {
    **{kind: _open_clip_kind(kind, spec) for kind, spec in SCORERS.items()},
    HF_CLIP_KIND: EvaluatorKind(
        "a Hugging Face CLIPModel file (e.g. openai/clip-vit-base-patch32 model.safetensors)",
        _load_hf_clip,
        lambda state: HF_PATCH_KEY in state,
    ),
    EMBEDDED_KIND: EvaluatorKind(
        "an open_clip model whose config is stored in the file",
        _load_embedded,
        lambda state: False,
    ),
}


def load_evaluator(kind: str, path: str | Path) -> OpenClipScorer:
    """The evaluator of ``kind`` (a key of ``EVALUATOR_KINDS``) from a local weights file."""
    if kind not in EVALUATOR_KINDS:
        raise ValueError(f"expected an evaluator kind in {list(EVALUATOR_KINDS)}, got {kind!r}")
    return EVALUATOR_KINDS[kind].load(path)
