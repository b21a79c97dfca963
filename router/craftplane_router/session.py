"""A routed connection's data path: both directions at once, until both have ended (EOF each
way), either fails, or nothing has moved for ``idle`` seconds; then both sockets are closed."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Callable, Coroutine
from enum import StrEnum
from typing import Any, Final

from craftplane_router.copying import splice_copy
from craftplane_router.pumping import ended, linked
from craftplane_router.traffic import TO_CLIENT, TO_SERVER, Traffic

# How often a long connection's byte counts reach the metrics (and the idle check looks).
TICK_SECONDS: Final = 10.0


class SpliceMode(StrEnum):
    STREAM = "stream"
    SPLICE = "splice"


class End(StrEnum):
    CLOSED = "closed"  # EOF both ways
    IDLE = "idle"
    ERROR = "error"  # a reset, a broken pipe: see the session's ``error``


async def _idle(traffic: Traffic, idle: float, tick: Callable[[], None]) -> None:
    """Returns once nothing has moved for ``idle`` seconds."""
    while True:
        remaining = idle - traffic.idle_for()
        if remaining <= 0:
            return
        await asyncio.sleep(min(remaining, TICK_SECONDS))
        tick()


class Session:
    def __init__(
        self,
        client: socket.socket,
        server: socket.socket,
        traffic: Traffic,
        *,
        mode: SpliceMode,
        idle: float,
        tick: Callable[[], None] = lambda: None,
    ) -> None:
        self._client = client
        self._server = server
        self._traffic = traffic
        self._mode = mode
        self._idle = idle
        self._tick = tick
        self.error: BaseException | None = None

    async def run(self) -> End:
        if self._mode is SpliceMode.SPLICE:
            copies = [
                splice_copy(self._client, self._server, self._traffic, TO_SERVER),
                splice_copy(self._server, self._client, self._traffic, TO_CLIENT),
            ]
            return await self._supervise(copies, self._close_sockets)
        pumps = await linked(self._client, self._server, self._traffic)

        def close(clean: bool) -> None:
            for pump in pumps:
                if pump.transport is None:
                    continue
                if clean:
                    pump.transport.close()
                else:
                    pump.transport.abort()

        return await self._supervise([ended(pump) for pump in pumps], close)

    def _close_sockets(self, clean: bool) -> None:
        del clean  # a raw socket closes the same either way
        self._client.close()
        self._server.close()

    async def _supervise(
        self, copies: list[Coroutine[Any, Any, None]], close: Callable[[bool], None]
    ) -> End:
        pending = {asyncio.ensure_future(copy) for copy in copies}
        watcher = asyncio.ensure_future(_idle(self._traffic, self._idle, self._tick))
        tasks = [*pending, watcher]
        end = End.CLOSED
        try:
            while pending and end is End.CLOSED:
                done, _ = await asyncio.wait(
                    {*pending, watcher}, return_when=asyncio.FIRST_COMPLETED
                )
                if watcher in done:
                    end = End.IDLE
                for task in done & pending:
                    pending.discard(task)
                    if task.exception() is not None:
                        self.error = task.exception()
                        end = End.ERROR
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            close(end is End.CLOSED)
        if isinstance(self.error, Exception) and not isinstance(self.error, OSError):
            raise self.error  # a bug, not a network event: the caller logs its traceback
        return end
