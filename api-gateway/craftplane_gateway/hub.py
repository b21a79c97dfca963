"""Fan-out of changes to this replica's WebSocket clients.

Each client has a bounded queue; a client that falls behind is dropped (it reconnects and gets
a fresh snapshot) so that it never slows the others. A client's view remembers the order of the
newest state it was sent per server, so a late or out-of-order event never makes it go back.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from craftplane import logs
from craftplane_gateway import metrics
from craftplane_gateway.frames import Delta

log = logs.get_logger(__name__)

SLOW_CLIENT_CLOSE = 4008


@dataclass(eq=False)
class Client:
    id: int
    tenant: str
    queue: asyncio.Queue[dict[str, Any]]
    servers: frozenset[str] | None = None  # None: every server of the tenant
    view: dict[str, tuple[int, float]] = field(default_factory=dict)
    slow: asyncio.Event = field(default_factory=asyncio.Event)
    synced: bool = False  # holds a snapshot (what CatchUp compares the projection with)

    def wants(self, name: str) -> bool:
        return self.servers is None or name in self.servers

    def remember(self, uid: str, order: tuple[int, float]) -> bool:
        """True if a state of this order is new to the client (and remember it)."""
        seen = self.view.get(uid)
        if seen is not None and order < seen:
            return False
        self.view[uid] = order
        return True


class Hub:
    def __init__(self, queue_size: int = 256) -> None:
        self._queue_size = queue_size
        self._clients: dict[int, Client] = {}
        self._ids = itertools.count(1)

    def __len__(self) -> int:
        return len(self._clients)

    def register(self, tenant: str) -> Client:
        client = Client(next(self._ids), tenant, asyncio.Queue(self._queue_size))
        self._clients[client.id] = client
        metrics.WS_CLIENTS.set(len(self._clients))
        return client

    def unregister(self, client: Client) -> None:
        self._clients.pop(client.id, None)
        metrics.WS_CLIENTS.set(len(self._clients))

    def clients(self, tenant: str | None = None) -> Iterable[Client]:
        return [c for c in self._clients.values() if tenant is None or c.tenant == tenant]

    def publish(self, delta: Delta) -> int:
        """Queue a change for every interested client of its tenant. The order check happens
        when the client's sender takes it, after any snapshot the client was sent."""
        sent = 0
        for client in self.clients(delta.tenant):
            if client.slow.is_set() or not client.wants(delta.name):
                continue
            sent += self.send_to(client, delta)
        return sent

    def publish_note(self, tenant: str, name: str, frame: dict[str, Any]) -> int:
        """Queue a frame that changes no server state (a timeline entry of the gateway's own,
        e.g. who ran a console command) for every interested client of the tenant: it has no
        order to keep, so it is sent as it comes, whatever the client's view holds."""
        sent = 0
        for client in self.clients(tenant):
            if client.slow.is_set() or not client.wants(name):
                continue
            sent += self._put(client, {"uid": None, "order": None, "frame": frame})
        return sent

    def send_to(self, client: Client, delta: Delta) -> bool:
        """Queue a change for one client; a client whose queue is full is dropped."""
        return self._put(client, {"uid": delta.uid, "order": delta.order, "frame": delta.frame})

    def _put(self, client: Client, item: dict[str, Any]) -> bool:
        try:
            client.queue.put_nowait(item)
            return True
        except asyncio.QueueFull:
            log.warning(
                "dropping slow WebSocket client",
                extra={"client": client.id, "tenant": client.tenant},
            )
            metrics.WS_DROPPED.inc()
            client.slow.set()
            return False
