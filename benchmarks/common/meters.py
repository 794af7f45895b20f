"""Measuring: wall time, process memory (RSS and its peak), tensors saved for backward."""

from __future__ import annotations

import re
import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any


def rss_kib() -> int:
    """Current resident set size of this process (KiB)."""
    return _status_field("VmRSS")


def peak_rss_kib() -> int:
    """Peak resident set size since the last ``reset_peak_rss`` (KiB)."""
    return _status_field("VmHWM")


def reset_peak_rss() -> bool:
    """Reset the kernel's peak-RSS mark to the current RSS; False where that is not allowed."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def _status_field(name: str) -> int:
    text = Path("/proc/self/status").read_text()
    match = re.search(rf"^{name}:\s+(\d+)\s+kB", text, re.MULTILINE)
    if match is None:
        raise RuntimeError(f"expected {name} in /proc/self/status (Linux only)")
    return int(match.group(1))


class SavedTensorMeter:
    """Bytes of distinct tensors autograd saves for backward inside the context, not counting
    the given parameters (weights are there anyway). All saved tensors live until backward, so
    the total at the end of the forward pass is their peak."""

    def __init__(self, exclude: Sequence[Any] = ()) -> None:
        self.exclude = {t.untyped_storage().data_ptr() for t in exclude}
        self.storages: dict[int, int] = {}

    def _pack(self, tensor: Any) -> Any:
        storage = tensor.untyped_storage()
        key = storage.data_ptr()
        if key not in self.exclude and key not in self.storages:
            self.storages[key] = storage.nbytes()
        return tensor

    def __enter__(self) -> SavedTensorMeter:
        import torch

        self._hooks = torch.autograd.graph.saved_tensors_hooks(self._pack, lambda t: t)
        self._hooks.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._hooks.__exit__(*exc)

    @property
    def total_bytes(self) -> int:
        return sum(self.storages.values())


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values)) if values else float("nan")


def spread(values: Sequence[float]) -> float:
    """Sample standard deviation (0 for fewer than two values)."""
    return float(statistics.stdev(values)) if len(values) > 1 else 0.0
