"""A WebSocket client that reads steadily, more slowly than a burst of changes comes, is never
dropped and ends with every server's latest state; one that stops reading is dropped (4008)
with bounded memory (the session's real sender, the real hub, a fake socket)."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.routing import WebSocketRoute
from starlette.testclient import TestClient

from craftplane import tokens
from craftplane.contracts.events import Event, EventType, ServerRef
from craftplane.contracts.status import Phase
from craftplane_gateway import auth, ws_frames
from craftplane_gateway.db.revocations import DenyList
from craftplane_gateway.frames import Delta, delta_from_event
from craftplane_gateway.hub import SLOW_CLIENT_CLOSE, Hub
from craftplane_gateway.revocations import Revocations
from craftplane_gateway.routes import ws
from craftplane_gateway.tenants import TenantNamespaces
from tests.unit.gateway.fakes import FakeNamespaces

pytestmark = pytest.mark.unit

TENANT = "acme"
KEY = "k" * 48
T0 = datetime(2026, 1, 1, tzinfo=UTC)
SERVERS = 1000
# What one create makes the operator publish, in order.
LIFE = (
    (EventType.SERVER_CREATED, None),
    (EventType.SERVER_STATUS_CHANGED, Phase.STARTING),
    (EventType.K8S_STARTING, Phase.STARTING),
    (EventType.K8S_RUNNING, Phase.RUNNING),
)
BURST_RATE = 200.0  # events/s: 1,000 creates' 4,000 events in 20 s
READ_RATE = 30.0  # frames/s the client reads


class Reader:
    """A socket whose client reads one frame when the test says so (``read_one``)."""

    def __init__(self) -> None:
        self.frames: list[dict[str, Any]] = []
        self.waiting = False  # a send is waiting for the client to read
        self._turn = asyncio.Event()
        self._read = asyncio.Event()

    async def send_text(self, text: str) -> None:
        self.waiting = True
        await self._turn.wait()
        self._turn.clear()
        self.waiting = False
        self.frames.append(json.loads(text))
        self._read.set()

    async def read_one(self) -> None:
        self._read.clear()
        self._turn.set()
        await asyncio.wait_for(self._read.wait(), timeout=5)


class Deaf:
    """A socket whose client never reads: every send waits for room that never comes."""

    async def send_text(self, text: str) -> None:
        await asyncio.Event().wait()


def burst() -> Iterator[Delta]:
    """Every server's life, interleaved as a create burst makes it: server i is created at
    i / 50 s and moves on every 2 s (so 4,000 events in about 26 s)."""
    timed = []
    for i in range(SERVERS):
        name = f"mc-{i:05d}"
        ref = ServerRef(uid=f"u-{name}", namespace=f"tenant-{TENANT}", name=name, tenant=TENANT)
        for step, (kind, phase) in enumerate(LIFE):
            at = T0 + timedelta(seconds=i / 50 + 2 * step)
            timed.append((at, Event(type=kind, server=ref, phase=phase, revision=str(10 + step),
                                    time=at, address=f"10.0.{i % 250}.{step}" if step else None)))  # fmt: skip
    for _, event in sorted(timed, key=lambda pair: pair[0]):
        delta = delta_from_event(event)
        assert delta is not None
        yield delta


def session(sock: Any, hub: Hub) -> ws.Session:
    gw = SimpleNamespace(hub=hub, settings=SimpleNamespace(), db=SimpleNamespace(get=lambda: None))
    who = auth.Principal(tenant=TENANT, namespace=f"tenant-{TENANT}")
    client = hub.register(TENANT)
    client.synced = True
    s = ws.Session(sock, gw, client, who)  # type: ignore[arg-type]
    s.subscribed.set()  # subscribed to every server of an empty tenant: the snapshot was []
    return s


def merged(frames: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The servers as a dashboard holds them: every event frame's fields merged by name."""
    servers: dict[str, dict[str, Any]] = {}
    for f in frames:
        if f["type"] == "event":
            servers.setdefault(f["server"]["name"], {}).update(f["server"])
    return servers


async def test_a_client_reading_30_frames_a_second_keeps_up_with_a_burst_of_creates() -> None:
    hub = Hub()
    sock = Reader()
    s = session(sock, hub)
    sender = asyncio.create_task(s.sender())
    published: list[Delta] = []
    credit, most_pending = 0.0, 0
    try:
        for delta in burst():
            hub.publish(delta)
            published.append(delta)
            most_pending = max(most_pending, s.client.queue.qsize())
            credit += READ_RATE / BURST_RATE
            while credit >= 1:  # the client reads at its own steady pace meanwhile
                credit -= 1
                await sock.read_one()
            assert not s.client.slow.is_set(), f"dropped after {len(published)} events"
        while sock.waiting or s.client.queue.qsize():  # then reads what is left
            await sock.read_one()
    finally:
        sender.cancel()
    assert not s.client.slow.is_set()
    expected = merged([d.frame for d in published])  # every event, applied in order
    assert merged(sock.frames) == expected
    assert {server["status"] for server in expected.values()} == {"running"}
    assert most_pending <= SERVERS  # bounded by servers, not by events
    assert len(sock.frames) < len(published)  # it read fewer frames than there were events
    # Never a state older than one already shown: per server, events in publish order.
    rank = {d.frame["event"]["id"]: k for k, d in enumerate(published)}
    shown: dict[str, int] = {}
    for f in sock.frames:
        at = rank[f["event"]["id"]]
        assert at > shown.get(f["server"]["uid"], -1)
        shown[f["server"]["uid"]] = at
    # A frame standing for several changes says how many (the dashboard re-reads the timeline).
    counted = sum(f.get("coalesced", 1) for f in sock.frames)
    assert counted == len(published)


async def test_a_burst_delivered_at_once_leaves_one_frame_per_server() -> None:
    # The live feed drains in one go what NATS delivered while the loop was busy (and catch-up
    # and drift publish hundreds of rows at once): the sender gets no turn in between.
    hub = Hub()
    sock = Reader()
    s = session(sock, hub)
    sender = asyncio.create_task(s.sender())
    published = list(burst())
    try:
        for delta in published:
            hub.publish(delta)
        assert not s.client.slow.is_set() and s.client.queue.qsize() == SERVERS
        while sock.waiting or s.client.queue.qsize():
            await sock.read_one()
    finally:
        sender.cancel()
    assert len(sock.frames) == SERVERS
    assert {f.get("coalesced") for f in sock.frames} == {len(LIFE)}
    for f in sock.frames[:10]:
        assert isinstance(ws_frames.SERVER_FRAME.validate_python(f), ws_frames.EventFrame)
    assert merged(sock.frames) == merged([d.frame for d in published])


async def test_a_client_that_stops_reading_is_dropped_with_bounded_memory() -> None:
    hub = Hub(stall_seconds=0.05)
    s = session(Deaf(), hub)
    tasks = [asyncio.create_task(s.sender()), asyncio.create_task(s.stall_watch())]
    try:
        for delta in burst():
            hub.publish(delta)
            assert len(s.client.queue) <= SERVERS
        await asyncio.wait_for(s.client.slow.wait(), timeout=5)  # the endpoint closes it 4008
        assert s.sending_since is not None  # the send it was dropped for is still waiting
    finally:
        for task in tasks:
            task.cancel()
    held = len(s.client.queue)
    delta = next(burst())
    hub.publish(delta)  # a dropped client is sent nothing more
    assert len(s.client.queue) == held


# -- through the endpoint: the close code -------------------------------------------------


class NoRows:
    @contextlib.asynccontextmanager
    async def acquire(self, **_: Any) -> AsyncIterator[NoRows]:
        yield self

    async def fetch(self, *_: Any) -> list[Any]:
        return []


def test_a_dropped_client_is_closed_with_4008() -> None:
    revocations = Revocations(lambda: None)
    revocations.install(DenyList())
    hub = Hub(queue_size=16)
    gw = SimpleNamespace(
        settings=SimpleNamespace(
            token_key=KEY, allowed_origins=[], metrics_frame_seconds=3600,
            ws_max_frame_bytes=64 * 1024, token_max_lifetime=tokens.MAX_LIFETIME,
        ),
        db=SimpleNamespace(get=lambda: NoRows()),
        hub=hub,
        revocations=revocations,
        tenants=TenantNamespaces(FakeNamespaces().tenant(TENANT)),  # type: ignore[arg-type]
    )  # fmt: skip

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[dict[str, Any]]:
        yield {"gw": gw}

    def overflow() -> None:
        # In one step of the app's loop: more distinct servers than the client may hold.
        for delta in list(burst())[:17]:
            hub.publish(delta)

    app = Starlette(routes=[WebSocketRoute("/ws", ws.endpoint)], lifespan=lifespan)
    with TestClient(app) as client, client.websocket_connect("/ws") as socket:
        socket.send_text(ws_frames.frame_json(ws_frames.AuthFrame(token=tokens.mint(TENANT, KEY))))
        assert socket.receive_json()["type"] == "ready"
        socket.send_text('{"type": "subscribe", "servers": "all"}')
        assert socket.receive_json()["type"] == "snapshot"
        assert client.portal is not None
        client.portal.call(overflow)
        while (message := socket.receive())["type"] == "websocket.send":
            pass  # what the sender sent before the drop
        assert message == {"type": "websocket.close", "code": SLOW_CLIENT_CLOSE,
                           "reason": ws.SLOW_REASON}  # fmt: skip
