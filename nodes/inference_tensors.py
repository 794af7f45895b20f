"""Gradients inside a ComfyUI prompt, without changing the models other nodes use.

ComfyUI runs every prompt under ``torch.inference_mode()``; weights loaded during a prompt are
inference tensors, which autograd cannot save for backward. ``normal_weights`` gives the
gradient path ordinary copies of such tensors for the duration of a call, through
``torch.func.functional_call``: the modules themselves are never modified.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

import torch

from dpo_core.scorers import OpenClipScorer


class _Call(torch.nn.Module):
    """Lets ``functional_call`` run an arbitrary method of ``inner`` with swapped tensors."""

    def __init__(self, inner: torch.nn.Module, fn: Callable) -> None:
        super().__init__()
        self.inner = inner
        self._fn = fn

    def forward(self, *args, **kwargs):
        return self._fn(*args, **kwargs)


class normal_weights:
    """Calls a module's method with ordinary copies of its inference-tensor weights.

    Copies are made once, lazily, and only of tensors that need it (none when the model was
    loaded outside inference mode); drop the object to free them.
    """

    def __init__(self, module: torch.nn.Module) -> None:
        self.module = module
        self._copies: dict[str, torch.Tensor] | None = None

    def _swapped(self) -> dict[str, torch.Tensor]:
        if self._copies is None:
            with torch.inference_mode(False):
                self._copies = {
                    f"inner.{name}": t.clone()
                    for name, t in [
                        *self.module.named_parameters(remove_duplicate=False),
                        *self.module.named_buffers(remove_duplicate=False),
                    ]
                    if t.is_inference()
                }
        return self._copies

    def __call__(self, fn: Callable, *args, **kwargs):
        copies = self._swapped()
        if not copies:
            return fn(*args, **kwargs)
        wrapper = _Call(self.module, fn)
        return torch.func.functional_call(wrapper, copies, args, kwargs, strict=False)


def own_evaluator_weights(evaluator: OpenClipScorer) -> OpenClipScorer:
    """Give an evaluator that was loaded during a prompt ordinary tensors, in place.

    Evaluators are our own objects (only this pack's nodes use them), so unlike ComfyUI's
    models they may be changed; the values stay the same.
    """
    with torch.inference_mode(False):
        for module in evaluator.modules():
            for name, p in list(module._parameters.items()):
                if p is not None and p.is_inference():
                    module._parameters[name] = torch.nn.Parameter(p.clone(), p.requires_grad)
            for name, b in list(module._buffers.items()):
                if b is not None and b.is_inference():
                    module._buffers[name] = b.clone()
    return evaluator


@contextlib.contextmanager
def gradient_mode() -> Iterator[None]:
    """Leave ComfyUI's inference mode and enable autograd, for the optimizer's own work."""
    with torch.inference_mode(False), torch.enable_grad():
        yield
