"""Waiting for a server's Route to change: the table's source says which server changed, and
whoever waits for that server (a player held while it wakes) looks again."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from craftplane_router.routes import Key, Route
from craftplane_router.table import RouteTable


class RouteChanges:
    def __init__(self, table: RouteTable) -> None:
        self._table = table
        self._waiting: dict[Key, set[asyncio.Event]] = {}

    def changed(self, key: Key) -> None:
        for event in self._waiting.get(key, ()):
            event.set()

    def changed_all(self) -> None:
        """After a fresh list (or a namespace change): any server may have changed."""
        for events in self._waiting.values():
            for event in events:
                event.set()

    @property
    def waiting(self) -> int:
        return sum(len(events) for events in self._waiting.values())

    async def wait_for(
        self, key: Key, wanted: Callable[[Route], bool], timeout: float
    ) -> Route | None:
        """The server's Route once ``wanted`` holds for it, or None after ``timeout`` seconds."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        event = asyncio.Event()
        waiting = self._waiting.setdefault(key, set())
        waiting.add(event)
        try:
            while True:
                route = self._table.route(key)
                if route is not None and wanted(route):
                    return route
                remaining = deadline - loop.time()
                if remaining <= 0:
                    return None
                event.clear()
                try:
                    async with asyncio.timeout(remaining):
                        await event.wait()
                except TimeoutError:
                    return None
        finally:
            waiting.discard(event)
            if not waiting:
                self._waiting.pop(key, None)
