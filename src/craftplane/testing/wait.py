"""Wait on a condition with a timeout instead of sleeping and hoping."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


class ConditionTimeout(AssertionError):
    pass


def wait_for(
    probe: Callable[[], T | None],
    *,
    timeout: float,
    interval: float = 0.25,
    what: str = "condition",
) -> T:
    """Call probe until it returns something truthy; return it, or fail with the last value seen."""
    deadline = time.monotonic() + timeout
    last: T | None = None
    while True:
        last = probe()
        if last:
            return last
        if time.monotonic() >= deadline:
            raise ConditionTimeout(f"{what} not met within {timeout:.0f}s (last: {last!r})")
        time.sleep(interval)


async def async_wait_for(
    probe: Callable[[], Awaitable[T | None]],
    *,
    timeout: float,
    interval: float = 0.25,
    what: str = "condition",
) -> T:
    deadline = time.monotonic() + timeout
    last: T | None = None
    while True:
        last = await probe()
        if last:
            return last
        if time.monotonic() >= deadline:
            raise ConditionTimeout(f"{what} not met within {timeout:.0f}s (last: {last!r})")
        await asyncio.sleep(interval)


async def until(
    condition: Callable[[], object],
    timeout: float = 5.0,
    *,
    interval: float = 0.005,
    what: str = "condition",
) -> None:
    """Until ``condition()`` holds, while the event loop runs the code under test: for cheap
    in-process checks (a fake's calls, a queue, a counter), so polled often."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() >= deadline:
            raise ConditionTimeout(f"{what} not met within {timeout:g}s")
        await asyncio.sleep(interval)
