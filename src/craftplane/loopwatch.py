"""Noticing a stalled event loop, and what stalled it.

A coroutine that blocks (a synchronous call, a long CPU-bound step) stops every request and
socket of the process at once, and from outside that looks like a slow network. A thread
beside the loop watches a heartbeat the loop writes; when it is older than ``threshold`` the
thread logs the loop thread's current stack (the code that is holding it), once per stall,
and again how long the stall lasted when the loop runs again.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import threading
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Final

from craftplane import logs

log = logs.get_logger(__name__)

MAX_FRAMES: Final = 12


def pressure() -> str:
    """The kernel's pressure figures (share of the last 10 s some task waited for CPU, I/O,
    memory): whether a stall was the machine's rather than this process's own code."""
    shown = []
    for resource in ("cpu", "io", "memory"):
        try:
            first = Path(f"/proc/pressure/{resource}").read_text().split("\n", 1)[0]
        except OSError:
            continue
        avg10 = next((f for f in first.split() if f.startswith("avg10=")), "")
        shown.append(f"{resource} {avg10.removeprefix('avg10=')}%")
    return ", ".join(shown) or "unknown"


def thread_cpu_seconds(thread_id: int) -> float | None:
    """CPU time thread ``thread_id`` (a ``threading.get_ident()``) has used, where the platform
    can tell."""
    try:
        return time.clock_gettime(time.pthread_getcpuclockid(thread_id))
    except (AttributeError, OSError):
        return None


def stack_of(thread_id: int, limit: int = MAX_FRAMES) -> str:
    """The innermost ``limit`` frames of thread ``thread_id``, as a traceback reads them."""
    frame = sys._current_frames().get(thread_id)
    if frame is None:
        return "(thread gone)"
    return "".join(traceback.format_stack(frame)[-limit:])


class LoopWatch:
    def __init__(
        self,
        name: str,
        *,
        threshold: float = 2.0,
        period: float = 0.25,
        clock: Callable[[], float] = time.monotonic,
        logger: logging.Logger = log,
    ) -> None:
        self._name = name
        self._threshold = threshold
        self._period = period
        self._clock = clock
        self._log = logger
        self._beat = clock()
        self._beat_cpu: float | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._handle: asyncio.TimerHandle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread = 0
        self.stalls = 0
        self._stalled_since: float | None = None

    def start(self) -> None:
        """Start watching the running loop (call from inside it)."""
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        self._beat = self._clock()
        self._handle = self._loop.call_later(self._period, self._heartbeat)
        self._thread = threading.Thread(target=self._watch, name=f"loopwatch-{self._name}")
        self._thread.daemon = True
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._handle is not None:
            self._handle.cancel()
        if self._thread is not None:
            self._thread.join(timeout=2 * self._period + 1)

    def _heartbeat(self) -> None:
        self._beat = self._clock()
        self._beat_cpu = time.thread_time()
        assert self._loop is not None
        self._handle = self._loop.call_later(self._period, self._heartbeat)

    def check(self) -> None:
        """One look at the heartbeat (the watching thread calls this every ``period``)."""
        now = self._clock()
        late = now - self._beat
        if late >= self._threshold:
            if self._stalled_since is None:
                self._stalled_since = self._beat
                self.stalls += 1
                self._log.warning(
                    "%s event loop stalled for %.1fs (%s of it on CPU; pressure: %s); "
                    "it is running:\n%s",
                    self._name,
                    late,
                    self._cpu_used(),
                    pressure(),
                    stack_of(self._loop_thread),
                    extra={"component": self._name, "stalled_seconds": round(late, 1)},
                )
        elif self._stalled_since is not None:
            lasted = self._beat - self._stalled_since
            self._stalled_since = None
            self._log.warning(
                "%s event loop ran again after %.1fs",
                self._name,
                lasted,
                extra={"component": self._name, "stalled_seconds": round(lasted, 1)},
            )

    def _cpu_used(self) -> str:
        # Most of the stall on CPU: the loop's own code held it. Little: the process was not
        # scheduled or waited in a system call (the machine, not the code).
        now = thread_cpu_seconds(self._loop_thread)
        if now is None or self._beat_cpu is None:
            return "unknown"
        return f"{now - self._beat_cpu:.2f}s"

    def _watch(self) -> None:
        while not self._stop.wait(self._period):
            self.check()
