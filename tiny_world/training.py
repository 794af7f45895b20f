"""Small helpers shared by the trainers: reproducibility, initialisation, argument parsing."""

from __future__ import annotations

import argparse
import logging
import math
import random

import torch

log = logging.getLogger(__name__)


def setup(seed: int, threads: int) -> None:
    """Seed Python and torch, and cap torch's CPU threads (the machine may be shared)."""
    random.seed(seed)
    torch.manual_seed(seed)
    torch.set_num_threads(threads)


def parser(description: str, minutes: float) -> argparse.ArgumentParser:
    """The trainers' common command line: seed, thread count, time budget."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--seed", type=int, default=0, help="seed of data, initialisation and order")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    p.add_argument(
        "--minutes", type=float, default=minutes, help="wall-clock budget; training stops then"
    )
    p.add_argument("--max-steps", type=int, default=100_000, help="stop after this many steps")
    return p


def init_for_training(module: torch.nn.Module, seed: int) -> None:
    """Torch-default-like initialisation: ComfyUI's layers skip torch's own (Kaiming-uniform
    weights, fan-in biases, norms at one/zero)."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, sub in module.named_modules():
            weight = getattr(sub, "weight", None)
            bias = getattr(sub, "bias", None)
            if not isinstance(weight, torch.nn.Parameter):
                continue
            if isinstance(sub, (torch.nn.GroupNorm, torch.nn.LayerNorm)):
                weight.fill_(1.0)
                if isinstance(bias, torch.nn.Parameter):
                    bias.zero_()
                continue
            if weight.ndim < 2:
                continue
            fan_in = weight[0].numel()
            bound = 1.0 / math.sqrt(fan_in)
            # Kaiming-uniform with a = sqrt(5), as torch's Conv/Linear default
            weight.copy_((torch.rand(weight.shape, generator=gen) * 2 - 1) * bound)
            if isinstance(bias, torch.nn.Parameter):
                bias.copy_((torch.rand(bias.shape, generator=gen) * 2 - 1) * bound)
            log.debug("initialised %s", name)


def cosine_lr(step: int, total: int, peak: float, warmup: int = 100) -> float:
    """Linear warm-up, then cosine decay to a tenth of ``peak`` at ``total``."""
    if step < warmup:
        return peak * (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return peak * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))


def last_step(max_steps: int, stop_at: int | None) -> int:
    """Where a run stops: the end of its schedule (``max_steps``), or earlier at ``stop_at``
    (``--stop-at``: a cut-off run repeated exactly; the schedule stays that of max_steps)."""
    return max_steps if stop_at is None else min(stop_at, max_steps)


def checkpoint_path(name: str):
    """Where a trainer keeps its resumable state (outside the shipped weights)."""
    from .dataset import CACHE_DIR

    return CACHE_DIR / "checkpoints" / f"{name}.pt"


def save_checkpoint(name: str, state: dict) -> None:
    """Write a trainer's state atomically (a cut-off run never leaves half a file)."""
    path = checkpoint_path(name)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    torch.save(state, tmp)
    tmp.replace(path)
    log.info("checkpoint %s at step %s", path, state.get("step"))


def load_checkpoint(name: str) -> dict | None:
    path = checkpoint_path(name)
    if not path.is_file():
        return None
    log.info("resuming from %s", path)
    return torch.load(path, weights_only=True)  # tensors and plain values only: never unpickle


def rng_state(rng: random.Random, gen: torch.Generator) -> dict:
    return {"python": rng.getstate(), "torch": gen.get_state()}


def set_rng_state(state: dict, rng: random.Random, gen: torch.Generator) -> None:
    rng.setstate(state["python"])
    gen.set_state(state["torch"])
