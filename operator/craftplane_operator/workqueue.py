"""A de-duplicating work queue of servers to reconcile.

Many watch events for one server (its CR, StatefulSet, pod ...) collapse into one pending
reconcile; a server is never reconciled by two workers at once; a failed reconcile is retried
with exponential backoff. This is what makes the reconciler level-based: it is told *which*
server to look at, never *what* changed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from craftplane import logs
from craftplane.supervise import Backoff, Supervised, stop_all
from craftplane_operator import metrics

log = logs.get_logger(__name__)

Handler = Callable[[str], Awaitable[None]]


class WorkQueue:
    def __init__(self, handler: Handler, *, workers: int = 8, max_backoff: float = 60.0) -> None:
        self._handler = handler
        self._workers = workers
        self._backoff = Backoff(initial=0.5, maximum=max_backoff)
        self._queue: asyncio.Queue[str] = asyncio.Queue()
        self._pending: set[str] = set()
        self._active: set[str] = set()
        self._dirty: set[str] = set()
        self._failures: dict[str, int] = {}
        self._workers_running: list[Supervised] = []
        self._timers: set[asyncio.TimerHandle] = set()

    def add(self, key: str) -> None:
        if key in self._active:
            self._dirty.add(key)
            return
        if key in self._pending:
            return
        self._pending.add(key)
        self._queue.put_nowait(key)
        metrics.QUEUE_DEPTH.set(len(self._pending))

    def add_after(self, key: str, delay: float) -> None:
        loop = asyncio.get_running_loop()
        handle: asyncio.TimerHandle

        def fire() -> None:
            self._timers.discard(handle)
            self.add(key)

        handle = loop.call_later(delay, fire)
        self._timers.add(handle)

    def start(self) -> None:
        self._workers_running = [
            Supervised(self._work, name=f"reconcile-worker-{i}", log=log)
            for i in range(self._workers)
        ]

    async def stop(self) -> None:
        for handle in self._timers:
            handle.cancel()
        await stop_all(self._workers_running)

    def __len__(self) -> int:
        return len(self._pending)

    async def _work(self) -> None:
        while True:
            key = await self._queue.get()
            self._pending.discard(key)
            self._active.add(key)
            metrics.QUEUE_DEPTH.set(len(self._pending))
            try:
                await self._handler(key)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - one server's failure must not stop others
                failures = self._failures.get(key, 0) + 1
                self._failures[key] = failures
                delay = self._backoff.delay(failures)
                metrics.RECONCILE_ERRORS.inc()
                log.warning(
                    "reconcile of %s failed (attempt %d): %s; retrying in %.1fs",
                    key,
                    failures,
                    exc,
                    delay,
                    extra={"server": key},
                )
                self.add_after(key, delay)
            else:
                self._failures.pop(key, None)
            finally:
                self._active.discard(key)
                if key in self._dirty:
                    self._dirty.discard(key)
                    self.add(key)
