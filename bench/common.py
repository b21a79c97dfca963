"""Shared pieces of the benchmarks: percentiles, process sampling, the sandbox."""

from __future__ import annotations

import asyncio
import math
import time
from dataclasses import dataclass, field

import psutil


def percentile(values: list[float], pct: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = max(0, math.ceil(pct / 100 * len(ordered)) - 1)
    return ordered[index]


@dataclass
class ProcessSampler:
    """Peak RSS and CPU seconds of a process (and its children), sampled in the background."""

    pid: int
    interval: float = 0.25
    peak_rss: int = 0
    cpu_start: float = 0.0
    cpu_end: float = 0.0
    _task: asyncio.Task[None] | None = field(default=None, repr=False)

    def _cpu(self) -> float:
        proc = psutil.Process(self.pid)
        times = proc.cpu_times()
        return float(times.user + times.system)

    def start(self) -> None:
        self.cpu_start = self._cpu()
        self._task = asyncio.create_task(self._loop())

    async def _loop(self) -> None:
        proc = psutil.Process(self.pid)
        while True:
            try:
                self.peak_rss = max(self.peak_rss, proc.memory_info().rss)
            except psutil.NoSuchProcess:
                return  # the process under test exited; the run reports that itself
            await asyncio.sleep(self.interval)

    async def stop(self) -> None:
        try:
            self.cpu_end = self._cpu()
        except psutil.NoSuchProcess:
            self.cpu_end = self.cpu_start
        if self._task:
            self._task.cancel()

    @property
    def cpu_seconds(self) -> float:
        return self.cpu_end - self.cpu_start


class Stopwatch:
    def __init__(self) -> None:
        self.start = time.monotonic()

    def elapsed(self) -> float:
        return time.monotonic() - self.start
