"""What one WebSocket client has yet to be sent, coalesced per server.

A client that reads more slowly than changes come (a create burst: several events for each of
a thousand servers in a minute) is not behind on *events* but on *servers*: it needs each
server's latest state, not every state it went through. So a client holds at most one pending
frame per server (every change it was not sent yet merged into it, newer fields over older) and
one per other object (a timeline entry of the gateway's, a backup, a restore: the latest
replaces the one before). Its memory is bounded by how many servers and objects it sees, not by
how long it lags; a client that reads at any steady rate is never dropped for it.

Frames go out in the order their key first became pending (a server that keeps changing is not
pushed back behind the others), each with its latest state; a state older than one already
pending or sent never goes out after it. An event frame that stands for several changes says
how many (``coalesced``): the timeline entries between are in GET /servers/{name}/events.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any

from craftplane_gateway import metrics

Order = tuple[int, float]

# Present in every delta of a server: never left out as older than what the client has.
IDENTITY = frozenset({"name", "namespace", "uid"})


@dataclass(eq=False)
class Pending:
    """One key's unsent change: a server's state (``order`` set) or a note (``order`` None)."""

    name: str  # the server the frame concerns (what a subscription is by)
    uid: str | None
    order: Order | None
    frame: dict[str, Any]
    changes: int = 1
    # Per field of frame["server"], the order of the change that set it; None while one
    # change made the frame (every field has ``order``).
    fields: dict[str, Order] | None = None

    def merge_state(self, order: Order, frame: dict[str, Any]) -> bool:
        """Fold a newer state of the same server in; False (nothing changed) for an older one.
        The frames are shared with other clients: merged into new dicts, never mutated."""
        assert self.order is not None
        if order < self.order:
            return False
        server = dict(self.frame["server"])
        if self.fields is None:
            self.fields = dict.fromkeys(server, self.order)
        for key, value in frame["server"].items():
            server[key] = value
            self.fields[key] = order
        self.frame = {**frame, "server": server}
        self.order = order
        self.changes += 1
        return True

    def replace(self, frame: dict[str, Any]) -> None:
        """A note's newer frame (a backup's latest state, the latest timeline entry)."""
        self.frame = frame
        self.changes += 1

    def frame_after(self, seen: Order | None) -> dict[str, Any] | None:
        """The frame for a client that holds the state of order ``seen`` of this server (None:
        none); None when it holds this state or a newer one. Fields last set by a change older
        than ``seen`` are left out: the client's copy (from a snapshot) is newer."""
        frame = self.frame
        if self.order is not None and seen is not None:
            if self.order < seen:
                return None
            fields = self.fields
            if fields is not None and any(at < seen for at in fields.values()):
                server = {
                    key: value
                    for key, value in frame["server"].items()
                    if key in IDENTITY or fields[key] >= seen
                }
                frame = {**frame, "server": server}
        if self.changes > 1 and frame.get("type") == "event":
            frame = {**frame, "coalesced": self.changes}
        return frame


class OutboxFull(Exception):
    """More distinct keys pending than a client may hold: the client is to be dropped."""


class Outbox:
    """A client's pending frames, one per key, oldest key first."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._pending: OrderedDict[Hashable, Pending] = OrderedDict()
        self._ready = asyncio.Event()
        self.coalesced = 0  # changes folded into a pending frame instead of queued

    def __len__(self) -> int:
        return len(self._pending)

    def qsize(self) -> int:
        return len(self._pending)

    def empty(self) -> bool:
        return not self._pending

    def order_of(self, uid: str) -> Order | None:
        """The order of the state pending for server ``uid``, if any."""
        pending = self._pending.get(("server", uid))
        return None if pending is None else pending.order

    def put_state(self, name: str, uid: str, order: Order, frame: dict[str, Any]) -> None:
        """A server's state change (OutboxFull past the limit)."""
        key = ("server", uid)
        pending = self._pending.get(key)
        if pending is not None:
            if pending.merge_state(order, frame):
                self._coalesced()
            return
        self._add(key, Pending(name=name, uid=uid, order=order, frame=frame))

    def put_note(self, key: Hashable, name: str, frame: dict[str, Any]) -> None:
        """A frame that changes no server state; a newer one of the same key replaces it."""
        pending = self._pending.get(("note", key))
        if pending is not None:
            pending.replace(frame)
            self._coalesced()
            return
        self._add(("note", key), Pending(name=name, uid=None, order=None, frame=frame))

    def _coalesced(self) -> None:
        self.coalesced += 1
        metrics.WS_COALESCED.inc()

    def _add(self, key: Hashable, pending: Pending) -> None:
        if len(self._pending) >= self._limit:
            raise OutboxFull(f"{len(self._pending)} servers and objects with unsent changes")
        self._pending[key] = pending
        self._ready.set()

    def get_nowait(self) -> Pending:
        """The oldest pending frame (asyncio.QueueEmpty when there is none)."""
        if not self._pending:
            raise asyncio.QueueEmpty
        _, pending = self._pending.popitem(last=False)
        if not self._pending:
            self._ready.clear()
        return pending

    async def get(self) -> Pending:
        while not self._pending:
            await self._ready.wait()
        return self.get_nowait()
