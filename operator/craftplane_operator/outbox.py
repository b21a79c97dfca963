"""Events waiting for JetStream, per server, in order, bounded.

While NATS is unreachable the operator keeps reconciling; each server's events wait here.
A server keeps at most `per_server` pending events: when more arrive, the oldest are
superseded (the stream must end with each server's true state, not with every flicker).
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict, deque

from craftplane.contracts.events import AnyEvent
from craftplane_operator import metrics


def _key(event: AnyEvent) -> str:
    ref = event.server
    if not ref.name:
        return f"_sync/{event.id}"
    return f"{ref.namespace}/{ref.name}"


class Outbox:
    def __init__(self, per_server: int = 8) -> None:
        self._pending: OrderedDict[str, deque[AnyEvent]] = OrderedDict()
        self._per_server = per_server
        self._ready = asyncio.Event()
        self._size = 0

    def __len__(self) -> int:
        return self._size

    def put(self, event: AnyEvent) -> None:
        queue = self._pending.setdefault(_key(event), deque())
        if queue and queue[-1].id == event.id:
            return  # the same state again: nothing new to say
        if len(queue) >= self._per_server:
            queue.popleft()
            self._size -= 1
            metrics.EVENTS_DROPPED.inc()
        queue.append(event)
        self._size += 1
        metrics.OUTBOX_SIZE.set(self._size)
        self._ready.set()

    async def next(self) -> AnyEvent:
        """The oldest pending event (left in place until `done`)."""
        while not self._pending:
            self._ready.clear()
            await self._ready.wait()
        _, queue = next(iter(self._pending.items()))
        return queue[0]

    def done(self, event: AnyEvent) -> None:
        key = _key(event)
        queue = self._pending.get(key)
        if queue and queue[0].id == event.id:
            queue.popleft()
            self._size -= 1
            if not queue:
                del self._pending[key]
        metrics.OUTBOX_SIZE.set(self._size)
