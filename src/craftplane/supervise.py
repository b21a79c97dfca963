"""Background loops that must not die quietly, and I/O retried with backoff.

An asyncio task that raises is only reported when it is garbage-collected, if ever; a loop that
publishes events or renews a lease would then simply stop. Every background loop of the
operator and the gateway therefore runs as a `Supervised` task: a failure is logged with its
traceback and the loop starts again after a growing pause, and `stop()` waits until it has
ended. One-off I/O that must eventually succeed (connecting to NATS or the database) goes
through `retry`; both use the same `Backoff`.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any, TypeVar

LoopFactory = Callable[[], Coroutine[Any, Any, None]]
T = TypeVar("T")
Sleep = Callable[[float], Awaitable[None]]


@dataclass
class Backoff:
    """Delays that start at `initial` and grow by `factor` per failure up to `maximum`.

    `jitter` spreads each delay by up to that fraction either way, so that many clients
    failing together do not retry together.
    """

    initial: float = 0.5
    maximum: float = 10.0
    factor: float = 2.0
    jitter: float = 0.0
    failures: int = 0

    def delay(self, failures: int) -> float:
        """The pause after the `failures`-th consecutive failure (1 for the first)."""
        base = min(self.maximum, self.initial * self.factor ** max(failures - 1, 0))
        if self.jitter:
            base *= random.uniform(1 - self.jitter, 1 + self.jitter)
        return base

    def failed(self) -> float:
        """Count a failure; the pause before the next attempt."""
        self.failures += 1
        return self.delay(self.failures)

    def reset(self) -> None:
        self.failures = 0


async def retry(
    operation: Callable[[], Awaitable[T]],
    *,
    what: str,
    log: logging.Logger,
    errors: type[BaseException] | tuple[type[BaseException], ...] = Exception,
    backoff: Backoff | None = None,
    attempts: int | None = None,
    retryable: Callable[[BaseException], bool] | None = None,
    on_failure: Callable[[BaseException], None] | None = None,
    level: int = logging.WARNING,
    sleep: Sleep = asyncio.sleep,
) -> T:
    """`operation()`'s result, calling it again after a backoff pause while it raises `errors`.

    Gives up (re-raises) after `attempts` calls when given, or at once for an error that
    `retryable` refuses. Cancellation is never retried.
    """
    if attempts is not None and attempts < 1:
        raise ValueError("attempts must be at least 1")
    backoff = backoff or Backoff()
    while True:
        try:
            return await operation()
        except errors as exc:
            if isinstance(exc, asyncio.CancelledError):
                raise
            if retryable is not None and not retryable(exc):
                raise
            if attempts is not None and backoff.failures + 1 >= attempts:
                raise
            if on_failure is not None:
                on_failure(exc)
            delay = backoff.failed()
            log.log(
                level,
                "%s failed (attempt %d: %s); retrying in %.3fs",
                what,
                backoff.failures,
                exc,
                delay,
            )
            await sleep(delay)


def every(
    seconds: float,
    work: Callable[[], Awaitable[None]],
    *,
    what: str,
    log: logging.Logger,
    errors: type[Exception] | tuple[type[Exception], ...] = Exception,
    level: int = logging.WARNING,
    immediately: bool = False,
) -> LoopFactory:
    """A loop running `work` every `seconds` (first after one interval, unless `immediately`).

    A failure of `errors` is logged (`"<what>: <error>"`) and the next round comes as usual;
    anything else ends the loop, for its `Supervised` to report and restart.
    """

    async def loop() -> None:
        if not immediately:
            await asyncio.sleep(seconds)
        while True:
            try:
                await work()
            except errors as exc:
                log.log(level, "%s: %s", what, exc)
            await asyncio.sleep(seconds)

    return loop


class Supervised:
    """A named loop restarted whenever it raises, until `stop()`; returning ends it.

    Restarts back off from `restart_after` to `max_restart_after` while the loop keeps failing
    quickly; a run that lasted longer than `healthy_after` (by default `max_restart_after`)
    starts the backoff over (equal
    values give a constant pause). Failures are logged at `level`, with a traceback from ERROR
    up. With
    `restart=False` a failure is final: `on_crash` is told, and nothing runs again (for a loop
    whose restart would be unsafe, such as a lease renewal that must give up leadership).
    """

    def __init__(
        self,
        factory: LoopFactory,
        *,
        name: str,
        log: logging.Logger,
        restart_after: float = 1.0,
        max_restart_after: float = 30.0,
        restart: bool = True,
        on_crash: Callable[[BaseException], None] | None = None,
        level: int = logging.ERROR,
        healthy_after: float | None = None,
    ) -> None:
        self._factory = factory
        self._name = name
        self._log = log
        self._backoff = Backoff(initial=restart_after, maximum=max_restart_after)
        self._restart = restart
        self._on_crash = on_crash
        self._level = level
        self._healthy_after = max_restart_after if healthy_after is None else healthy_after
        self._cancelled = False
        self._timer: asyncio.TimerHandle | None = None
        self._restarted = asyncio.Event()
        self.restarts = 0
        self._task = self._spawn()

    @property
    def name(self) -> str:
        return self._name

    def _spawn(self) -> asyncio.Task[None]:
        self._started_at = asyncio.get_running_loop().time()
        task = asyncio.create_task(self._factory(), name=self._name)
        task.add_done_callback(self._on_done)
        return task

    def _on_done(self, task: asyncio.Task[None]) -> None:
        if self._cancelled or task.cancelled():
            return
        exc = task.exception()
        if exc is None:
            return
        if self._on_crash is not None:
            self._on_crash(exc)
        if not self._restart:
            self._log.error("%s failed (%s); not restarted", self._name, exc, exc_info=exc)
            return
        loop = asyncio.get_running_loop()
        if loop.time() - self._started_at > self._healthy_after:
            self._backoff.reset()
        delay = self._backoff.failed()
        self._log.log(
            self._level,
            "%s failed (%s); restarting it in %.1fs",
            self._name,
            exc,
            delay,
            # A loop whose failures are routine (level below ERROR) is not worth a traceback.
            exc_info=exc if self._level >= logging.ERROR else None,
        )
        self.restarts += 1
        self._timer = loop.call_later(delay, self._respawn)

    def _respawn(self) -> None:
        self._timer = None
        if not self._cancelled:
            self._task = self._spawn()
            self._restarted.set()

    def cancel(self) -> None:
        self._cancelled = True
        if self._timer is not None:
            self._timer.cancel()
        self._task.cancel()

    async def finished(self) -> None:
        """Until the current run of the loop has ended (and its done-callback has run)."""
        await asyncio.gather(self._task, return_exceptions=True)
        await asyncio.sleep(0)

    async def restarted(self) -> None:
        """Until the loop has been started again after a failure."""
        await self._restarted.wait()
        self._restarted.clear()

    async def stop(self) -> None:
        self.cancel()
        await self.finished()


async def stop_all(loops: list[Supervised]) -> None:
    """Stop every loop and wait until each has ended."""
    for loop in loops:
        loop.cancel()
    for loop in loops:
        await loop.finished()
