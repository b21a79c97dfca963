"""Background loops that must not die quietly.

An asyncio task that raises is only reported when it is garbage-collected, if ever; a loop that
publishes events or renews a lease would then simply stop. `keep_running` logs the failure with
its traceback and starts the loop again after a pause.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any

LoopFactory = Callable[[], Coroutine[Any, Any, None]]


class Supervised:
    """A named loop restarted whenever it raises, until `cancel()`; returning ends it."""

    def __init__(
        self, factory: LoopFactory, *, name: str, log: logging.Logger, restart_after: float = 1.0
    ) -> None:
        self._factory = factory
        self._name = name
        self._log = log
        self._restart_after = restart_after
        self._cancelled = False
        self.restarts = 0
        self._task = self._spawn()

    def _spawn(self) -> asyncio.Task[None]:
        task = asyncio.create_task(self._factory(), name=self._name)
        task.add_done_callback(self._on_done)
        return task

    def _on_done(self, task: asyncio.Task[None]) -> None:
        if self._cancelled or task.cancelled():
            return
        exc = task.exception()
        if exc is None:
            return
        self._log.error(
            "%s failed (%s); restarting it in %.1fs",
            self._name,
            exc,
            self._restart_after,
            exc_info=exc,
        )
        self.restarts += 1
        asyncio.get_running_loop().call_later(self._restart_after, self._restart)

    def _restart(self) -> None:
        if not self._cancelled:
            self._task = self._spawn()

    def cancel(self) -> None:
        self._cancelled = True
        self._task.cancel()

    async def finished(self) -> None:
        """Until the current run of the loop has ended (and its done-callback has run)."""
        await asyncio.gather(self._task, return_exceptions=True)
        await asyncio.sleep(0)

    async def stop(self) -> None:
        self.cancel()
        await self.finished()
