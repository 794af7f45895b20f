"""A patched MODEL on the gradient path: what is honoured, and what is refused by name.

KSampler applies a MODEL's patches (its ``model_options``) while sampling; the search's scoring
goes through KSampler's own code, so it always sees them. The gradient path calls
``apply_model`` itself, so each patch must be applied there too, or the gradient would be that
of another model than the one scored:

* ``sampler_cfg_function`` (RescaleCFG, CFG variants) is honoured: ComfyUI's ``cfg_function``
  combines the two predictions, so the guided estimate is KSampler's;
* patches that need ComfyUI's conditioning objects or rewrite the UNet's forward (post-/pre-CFG
  functions such as PAG's, attention and block patches such as FreeU's, model wrappers) are
  refused, with a message that names them, before any gradient is taken.
"""

from __future__ import annotations

from typing import Any

import comfy.samplers
import torch

_LISTS = ("sampler_pre_cfg_function", "sampler_post_cfg_function")
_SINGLE = ("sampler_calc_cond_batch_function", "model_function_wrapper")


def _name(fn: Any) -> str:
    inner = getattr(fn, "__func__", fn)
    return getattr(inner, "__qualname__", None) or type(fn).__name__


def unsupported_patches(model_options: dict) -> list[str]:
    """The patches of ``model_options`` the gradient path cannot apply, each as
    ``"kind (function name)"``; empty when every patch is honoured."""
    found = [f"{key} ({_name(fn)})" for key in _LISTS for fn in model_options.get(key) or ()]
    found += [f"{key} ({_name(model_options[key])})" for key in _SINGLE if key in model_options]
    transformer = model_options.get("transformer_options") or {}
    for kind, table in (transformer.get("patches") or {}).items():
        found += [f"transformer patch {kind} ({_name(fn)})" for fn in table or ()]
    for kind, table in (transformer.get("patches_replace") or {}).items():
        if table:
            found.append(f"transformer replacement {kind} ({', '.join(map(str, table))})")
    for kind, table in (transformer.get("wrappers") or {}).items():
        if any(table.values()) if isinstance(table, dict) else table:
            found.append(f"wrapper {kind}")
    return found


def check_gradient_patches(model: Any) -> None:
    """ValueError naming every patch of the MODEL that the gradient path would leave out."""
    found = unsupported_patches(model.model_options)
    if found:
        raise ValueError(
            "the MODEL is patched with " + "; ".join(found) + ". DPO-Diff's gradient path "
            "cannot apply these, so its gradient would be that of an unpatched model. Connect "
            "the MODEL from before the patching node to the DPO nodes and patch the MODEL of "
            "your final KSampler instead (RescaleCFG-style sampler_cfg_function patches are "
            "honoured)."
        )


def guided(model: Any, cond: torch.Tensor, uncond: torch.Tensor, cfg: float, x: torch.Tensor,
           sigma: torch.Tensor) -> torch.Tensor:  # fmt: skip
    """The classifier-free-guided x0 estimate, as KSampler combines the two predictions:
    through the MODEL's ``sampler_cfg_function`` when it has one, plain CFG otherwise."""
    options = model.model_options
    if "sampler_cfg_function" not in options:
        return uncond + cfg * (cond - uncond)
    return comfy.samplers.cfg_function(model.model, cond, uncond, cfg, x, sigma,
                                       model_options=options)  # fmt: skip
