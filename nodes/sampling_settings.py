"""KSampler's inputs (with the image size) as the backend takes them, checked against ComfyUI's
lists of samplers and schedulers."""

from __future__ import annotations

from dataclasses import dataclass

import comfy.samplers

# Samplers that draw fresh noise during sampling from one generator for the whole batch: a
# batch of several images would not reproduce single KSampler runs, so they run one by one.
_STOCHASTIC_MARKERS = ("ancestral", "sde", "lcm", "restart", "er_sde", "seeds_")



@dataclass(frozen=True)
class SamplingSettings:
    """KSampler's inputs, with the image size."""

    steps: int = 20
    cfg: float = 7.5
    sampler_name: str = "euler"
    scheduler: str = "normal"
    width: int = 512
    height: int = 512

    def __post_init__(self) -> None:
        if self.steps < 2:
            raise ValueError(f"expected at least 2 sampling steps, got {self.steps}")
        if self.sampler_name not in comfy.samplers.SAMPLER_NAMES:
            raise ValueError(f"unknown sampler {self.sampler_name!r}")
        if self.scheduler not in comfy.samplers.SCHEDULER_NAMES:
            raise ValueError(f"unknown scheduler {self.scheduler!r}")
        if self.width % 8 or self.height % 8 or min(self.width, self.height) < 8:
            raise ValueError(
                f"expected width and height as multiples of 8, got {self.width}x{self.height}"
            )

    @property
    def deterministic(self) -> bool:
        return not any(m in self.sampler_name for m in _STOCHASTIC_MARKERS)
