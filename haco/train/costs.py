"""Run-time compute costs of a trial, the `cost/*` metrics of docs/design.md.

Static sizes (parameters, model memory, GFLOPs) come from haco.model.costs; this module
measures what needs the run: peak training memory (GPU: max allocated; CPU: peak RSS
growth over the process's size at the start, sampled by a thread), inference fps, and
the price of the wall time.
"""

from __future__ import annotations

import threading
from typing import Self

import psutil
import torch

RSS_SAMPLE_SECONDS = 0.05


class PeakMemory:
    """Context manager: peak training memory in MiB while the block runs."""

    def __init__(self, device: torch.device):
        self.device = device
        self.peak_mb = 0.0

    def __enter__(self) -> Self:
        if self.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(self.device)
            return self
        self._process = psutil.Process()
        self._start = self._process.memory_info().rss
        self._peak = self._start
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.wait(RSS_SAMPLE_SECONDS):
            self._peak = max(self._peak, self._process.memory_info().rss)

    def __exit__(self, *exc) -> None:
        if self.device.type == "cuda":
            self.peak_mb = torch.cuda.max_memory_allocated(self.device) / 2**20
            return
        self._stop.set()
        self._thread.join()
        self._peak = max(self._peak, self._process.memory_info().rss)
        self.peak_mb = (self._peak - self._start) / 2**20


def price(train_seconds: float, device: torch.device, costs_cfg) -> tuple[float, float]:
    """(device-hours, USD). A device is one GPU, or on a CPU the whole process."""
    hours = train_seconds / 3600
    rate = costs_cfg.usd_per_gpu_hour if device.type == "cuda" else costs_cfg.usd_per_cpu_hour
    return hours, hours * float(rate)
