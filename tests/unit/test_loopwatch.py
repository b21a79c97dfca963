"""The stalled-loop watchdog: it names the code holding the loop, once per stall."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest

from craftplane.loopwatch import LoopWatch
from craftplane.testing.wait import until

pytestmark = pytest.mark.unit


def _hold_the_loop(seconds: float) -> None:
    time.sleep(seconds)  # a synchronous call inside a coroutine: what the watch is for


def _spin(seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        pass


def _cpu_of(message: str) -> float:
    return float(message.split("(", 1)[1].split("s of it", 1)[0])


async def test_a_blocking_call_is_reported_with_its_stack_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    logger = logging.getLogger("test.loopwatch")
    # Generous figures: the machine running this may be busy, and a late heartbeat under
    # load is a stall too (only the one naming the blocking call is asserted on).
    watch = LoopWatch("test", threshold=0.5, period=0.05, logger=logger)
    watch.start()
    try:
        with caplog.at_level(logging.WARNING, logger="test.loopwatch"):
            await asyncio.sleep(0.2)  # a loop that keeps running is not a stall
            assert watch.stalls == 0
            _hold_the_loop(1.5)
            await until(lambda: any("ran again" in r.getMessage() for r in caplog.records), 3)
    finally:
        watch.stop()
    messages = [r.getMessage() for r in caplog.records]
    stalled = [m for m in messages if "stalled" in m and "_hold_the_loop" in m]
    assert len(stalled) == 1, messages  # once per stall, not once per look
    # A sleep holds the loop without using CPU: the figure tells a wait from a computation.
    assert _cpu_of(stalled[0]) < 0.1, stalled[0]
    lasted = max(float(m.rsplit(" ", 1)[1].rstrip("s")) for m in messages if "ran again" in m)
    assert 1.0 <= lasted <= 2.5


def test_check_counts_a_stall_once_and_its_end() -> None:
    now = [100.0]
    records: list[str] = []

    class Capture(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record.getMessage())

    logger = logging.getLogger("test.loopwatch.clock")
    logger.addHandler(Capture())
    logger.propagate = False
    watch = LoopWatch("clock", threshold=2, clock=lambda: now[0], logger=logger)
    watch._beat = 100.0
    now[0] = 101.0
    watch.check()
    assert records == []
    now[0] = 103.0
    watch.check()
    now[0] = 104.0
    watch.check()
    assert watch.stalls == 1 and len(records) == 1
    watch._beat = 104.5  # the loop ran again
    now[0] = 104.6
    watch.check()
    assert records[-1].endswith("ran again after 4.5s")


async def test_a_computation_shows_its_cpu_time(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("test.loopwatch.cpu")
    watch = LoopWatch("cpu", threshold=0.5, period=0.05, logger=logger)
    watch.start()
    try:
        with caplog.at_level(logging.WARNING, logger="test.loopwatch.cpu"):
            await asyncio.sleep(0.1)
            _spin(1.5)
            await until(lambda: any("ran again" in r.getMessage() for r in caplog.records), 3)
    finally:
        watch.stop()
    stalled = next(r.getMessage() for r in caplog.records if "_spin" in r.getMessage())
    assert _cpu_of(stalled) >= 0.1, stalled  # the spin was on CPU for some of what was seen
