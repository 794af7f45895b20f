"""KSampler's inputs (with the image size) as the backend takes them, checked against ComfyUI's
lists of samplers and schedulers."""

from __future__ import annotations

from dataclasses import dataclass

import comfy.samplers

# ComfyUI's samplers (comfy.samplers.SAMPLER_NAMES), each in one of two explicit sets, checked
# against ComfyUI's list by a test. Stochastic ones draw fresh noise while sampling from one
# generator for the whole batch, so a batch of several images would not reproduce single
# KSampler runs: they run one image at a time. (euler, heun and dpm_2 draw noise only with
# s_churn > 0, which KSampler never sets; dpm_fast/dpm_adaptive only with eta > 0.)
STOCHASTIC_SAMPLERS = frozenset({
    "euler_ancestral", "euler_ancestral_cfg_pp", "exp_heun_2_x0_sde", "dpm_2_ancestral",
    "dpmpp_2s_ancestral", "dpmpp_2s_ancestral_cfg_pp", "dpmpp_sde", "dpmpp_sde_gpu",
    "dpmpp_2m_sde", "dpmpp_2m_sde_gpu", "dpmpp_2m_sde_heun", "dpmpp_2m_sde_heun_gpu",
    "dpmpp_3m_sde", "dpmpp_3m_sde_gpu", "ddpm", "lcm", "res_multistep_ancestral",
    "res_multistep_ancestral_cfg_pp", "er_sde", "seeds_2", "seeds_3", "sa_solver",
    "sa_solver_pece",
})  # fmt: skip
DETERMINISTIC_SAMPLERS = frozenset({
    "euler", "euler_cfg_pp", "heun", "heunpp2", "exp_heun_2_x0", "dpm_2", "lms", "dpm_fast",
    "dpm_adaptive", "dpmpp_2m", "dpmpp_2m_cfg_pp", "ipndm", "ipndm_v", "deis", "res_multistep",
    "res_multistep_cfg_pp", "gradient_estimation", "gradient_estimation_cfg_pp", "ddim",
    "uni_pc", "uni_pc_bh2",
})  # fmt: skip


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
        """False for samplers that draw noise while sampling; a sampler this pack has not
        classified (a newer ComfyUI's, or a custom node's) counts as stochastic: one image at
        a time is always right, only slower."""
        return self.sampler_name in DETERMINISTIC_SAMPLERS
