"""Fan-out of changes to this replica's WebSocket clients.

Each client has an outbox of its own (outbox.py): changes it was not sent yet coalesce there,
one pending frame per server or object, so a client that reads at any steady rate keeps up
however fast changes come, and never slows the others. A client is dropped (close 4008: it
reconnects and gets a fresh snapshot) only when it stops reading: a send to it waited
``stall_seconds`` for its buffers to drain, or more distinct servers and objects are pending
for it than ``queue_size``. A client's view remembers the order of the newest state it was sent
per server, so a late or out-of-order event never makes it go back.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Hashable, Iterable
from dataclasses import dataclass, field
from typing import Any, Final

from craftplane import logs
from craftplane_gateway import metrics
from craftplane_gateway.frames import Delta
from craftplane_gateway.outbox import Order, Outbox, OutboxFull, Pending

log = logs.get_logger(__name__)

SLOW_CLIENT_CLOSE: Final = 4008
# Distinct servers and objects with unsent changes one client may hold (not events: changes
# to one server coalesce), and how long one send may wait for a client that does not read.
QUEUE_SIZE: Final = 10_000
STALL_SECONDS: Final = 30.0


@dataclass(eq=False)
class Client:
    id: int
    tenant: str
    queue: Outbox
    servers: frozenset[str] | None = None  # None: every server of the tenant
    view: dict[str, Order] = field(default_factory=dict)
    slow: asyncio.Event = field(default_factory=asyncio.Event)
    synced: bool = False  # holds a snapshot (what CatchUp compares the projection with)

    def wants(self, name: str) -> bool:
        return self.servers is None or name in self.servers

    def remember(self, uid: str, order: Order) -> bool:
        """True if a state of this order is new to the client (and remember it)."""
        seen = self.view.get(uid)
        if seen is not None and order < seen:
            return False
        self.view[uid] = order
        return True

    def latest(self, uid: str) -> Order | None:
        """The newest state of server ``uid`` the client was sent or has pending."""
        seen, pending = self.view.get(uid), self.queue.order_of(uid)
        if seen is None or pending is None:
            return seen if pending is None else pending
        return max(seen, pending)

    def frame_for(self, pending: Pending) -> dict[str, Any] | None:
        """What to send for a pending change now (after any snapshot the client was sent),
        remembering the state sent; None when the client no longer wants it or has newer."""
        if not self.wants(pending.name):
            return None
        if pending.uid is None or pending.order is None:
            return pending.frame_after(None)
        frame = pending.frame_after(self.view.get(pending.uid))
        if frame is not None:
            self.view[pending.uid] = pending.order
        return frame

    def drop(self, why: str) -> None:
        """Mark the client too slow: its session closes it with 4008."""
        if self.slow.is_set():
            return
        log.warning(
            "dropping slow WebSocket client: %s",
            why,
            extra={"client": self.id, "tenant": self.tenant},
        )
        metrics.WS_DROPPED.inc()
        self.slow.set()


class Hub:
    def __init__(self, queue_size: int = QUEUE_SIZE, stall_seconds: float = STALL_SECONDS) -> None:
        self._queue_size = queue_size
        self.stall_seconds = stall_seconds
        self._clients: dict[int, Client] = {}
        self._ids = itertools.count(1)

    def __len__(self) -> int:
        return len(self._clients)

    def register(self, tenant: str) -> Client:
        client = Client(next(self._ids), tenant, Outbox(self._queue_size))
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

    def publish_note(self, tenant: str, name: str, frame: dict[str, Any], *, key: Hashable) -> int:
        """Queue a frame that changes no server state (a timeline entry of the gateway's own,
        e.g. who ran a console command; a backup's latest state) for every interested client
        of the tenant: it has no order to keep, so it is sent whatever the client's view
        holds; a newer frame of the same ``key`` not yet sent replaces it."""
        sent = 0
        for client in self.clients(tenant):
            if client.slow.is_set() or not client.wants(name):
                continue
            try:
                client.queue.put_note(key, name, frame)
            except OutboxFull as exc:
                client.drop(str(exc))
                continue
            sent += 1
        return sent

    def send_to(self, client: Client, delta: Delta) -> bool:
        """Queue a change for one client; a client holding too many is dropped."""
        try:
            client.queue.put_state(delta.name, delta.uid, delta.order, delta.frame)
        except OutboxFull as exc:
            client.drop(str(exc))
            return False
        return True
