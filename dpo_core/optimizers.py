"""The optimizers GPO can run on the slot logits: one registry, each entry with what it is."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import torch

OptimizerName = Literal["rmsprop", "adam", "sgd"]


@dataclass(frozen=True)
class OptimizerKind:
    description: str
    # (logit leaves, learning rate, momentum) -> optimizer
    make: Callable[[list[torch.Tensor], float, float], torch.optim.Optimizer]


OPTIMIZERS: dict[OptimizerName, OptimizerKind] = {
    "rmsprop": OptimizerKind(
        "RMSprop with momentum, the reference's choice",
        lambda p, lr, momentum: torch.optim.RMSprop(p, lr=lr, momentum=momentum),
    ),
    "adam": OptimizerKind("Adam (ignores momentum)", lambda p, lr, _m: torch.optim.Adam(p, lr=lr)),
    "sgd": OptimizerKind(
        "SGD with momentum", lambda p, lr, momentum: torch.optim.SGD(p, lr=lr, momentum=momentum)
    ),
}
