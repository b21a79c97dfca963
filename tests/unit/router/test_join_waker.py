"""Waking on join, over real sockets with a fake API server: the router asks for the wake (two
annotations, the player's name from the Login Start), then holds the player until the server
runs or tells them when to rejoin, by how long its last wake took; a ping never wakes."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest
from mcproto.packets.login.login import LoginDisconnect
from mcproto.packets.status.status import StatusResponse

from craftplane.kube import KubeError
from craftplane.testing.wait import until
from craftplane_router import answers, handshake, login_start
from craftplane_router.app import Router
from craftplane_router.join_waker import JoinWaker
from craftplane_router.metrics import RouterMetrics
from craftplane_router.route_changes import RouteChanges
from craftplane_router.routes import Entry, Route, State
from craftplane_router.settings import RouterSettings
from craftplane_router.table import RouteTable
from tests.unit.router.factories import entry, route
from tests.unit.router.netfakes import (
    LOGIN_MAP,
    STATUS_MAP,
    STATUS_REQUEST,
    Packets,
    backend,
    connect,
    login_hello,
    status_hello,
)

pytestmark = pytest.mark.unit

NOW = datetime(2025, 1, 1, 12, 0, 0, tzinfo=UTC)
HOST = "lobby.example.com"
HELLO = login_hello(HOST)
LOGIN = login_start.encode("Steve")


class FakeKube:
    """The API server, as far as the waker uses it: merge patches, recorded (or refused)."""

    def __init__(self, error: Exception | None = None) -> None:
        self.patches: list[tuple[str, str, str, dict[str, Any]]] = []
        self.error = error

    async def merge_patch(
        self, kind: str, namespace: str | None, name: str, patch: dict[str, Any]
    ) -> dict[str, Any]:
        self.patches.append((kind, namespace or "", name, patch))
        if self.error is not None:
            raise self.error
        return {}


def lobby(state: State = State.SLEEPING, port: int = 1, **fields: Any) -> Entry:
    return entry(replace(route("lobby", state, port=port), **fields), HOST)


@contextlib.asynccontextmanager
async def waking(
    *entries: Entry, kube: FakeKube, **options: Any
) -> AsyncIterator[tuple[Router, RouteTable, RouteChanges]]:
    table = RouteTable(entries, namespaces={e.route.namespace for e in entries})
    changes = RouteChanges(table)
    metrics = RouterMetrics()
    waker = JoinWaker(kube, changes, metrics, clock=lambda: NOW, **options)
    router = Router(RouterSettings(host="127.0.0.1", port=0), table, waker=waker, metrics=metrics)
    await router.start()
    try:
        yield router, table, changes
    finally:
        await router.stop(grace=0)


async def disconnect_reason(router: Router, *chunks: bytes) -> str:
    reader, writer = await connect(router)
    for chunk in chunks:
        writer.write(chunk)
    packet = await Packets(reader).next(LOGIN_MAP)
    writer.close()
    assert isinstance(packet, LoginDisconnect)
    text: str = packet.reason.as_dict()["text"]
    return text


def wakes(router: Router, result: str) -> float:
    labels = {"namespace": "tenant-acme", "server": "lobby", "result": result}
    return router.metrics.value("craftplane_router_wake_requests_total", labels)


WAKE_PATCH = {
    "metadata": {
        "annotations": {
            "craftplane.io/wake-requested-at": "2025-01-01T12:00:00Z",
            "craftplane.io/wake-requested-by": "join:Steve",
        }
    }
}


async def test_a_server_that_starts_quickly_holds_the_player_and_forwards_the_login() -> None:
    received = bytearray()

    async def server(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while len(received) < len(HELLO + LOGIN):
            chunk = await reader.read(4096)
            if not chunk:
                return
            received.extend(chunk)
        writer.write(answers.login_disconnect("welcome back"))
        await writer.drain()

    kube = FakeKube()
    async with backend(server) as port:
        asleep = lobby(port=port, start_seconds=8)
        async with waking(asleep, kube=kube) as (router, table, changes):
            reader, writer = await connect(router)
            writer.write(HELLO + LOGIN)
            await until(lambda: kube.patches)
            assert kube.patches == [("MinecraftServer", "tenant-acme", "lobby", WAKE_PATCH)]
            assert changes.waiting == 1  # held, not answered
            # The operator wakes it; the watch brings the Running server into the table.
            table.put(lobby(State.RUNNING, port=port, start_seconds=8))
            changes.changed(("tenant-acme", "lobby"))
            packet = await Packets(reader).next(LOGIN_MAP)
            writer.close()
            assert isinstance(packet, LoginDisconnect)
            assert packet.reason.as_dict() == {"text": "welcome back"}
            assert bytes(received) == HELLO + LOGIN  # exactly what the client sent
            assert wakes(router, "requested") == 1


@pytest.mark.parametrize(
    ("start_seconds", "told"),
    [
        (None, "lobby is starting — rejoin in about 60 s"),  # never measured: assume long
        (45, "lobby is starting — rejoin in about 45 s"),
        (21, "lobby is starting — rejoin in about 25 s"),  # rounded up to 5 s
        (20, "lobby is starting — rejoin in about 20 s"),  # "took less than 20 s" holds: not 20
    ],
)
async def test_a_slow_or_unknown_start_tells_the_player_to_rejoin_at_once(
    start_seconds: int | None, told: str
) -> None:
    kube = FakeKube()
    async with waking(lobby(start_seconds=start_seconds), kube=kube) as (router, _, changes):
        assert await disconnect_reason(router, HELLO + LOGIN) == told
        assert len(kube.patches) == 1 and changes.waiting == 0
        assert wakes(router, "requested") == 1


async def test_a_hold_is_bounded_then_the_player_is_told_to_rejoin() -> None:
    kube = FakeKube()
    asleep = lobby(start_seconds=15)
    async with waking(asleep, kube=kube, hold_for=0.2) as (router, _, changes):
        began = time.monotonic()
        text = await disconnect_reason(router, HELLO + LOGIN)
        assert text == "lobby is starting — rejoin in about 15 s"  # 15 s less the wait, rounded
        assert time.monotonic() - began < 3
        assert changes.waiting == 0


async def test_a_server_already_waking_is_not_asked_again_but_still_holds_the_player() -> None:
    kube = FakeKube()
    async with waking(lobby(State.WAKING, start_seconds=3), kube=kube, hold_for=0.2) as (
        router,
        _,
        _,
    ):
        text = await disconnect_reason(router, HELLO + LOGIN)
        assert text == "lobby is starting — rejoin in about 5 s"
        assert kube.patches == []
        assert wakes(router, "already_waking") == 1


async def test_a_refused_request_is_said_and_counted() -> None:
    kube = FakeKube(KubeError(403, "forbidden"))
    async with waking(lobby(start_seconds=3), kube=kube) as (router, _, _):
        text = await disconnect_reason(router, HELLO + LOGIN)
        assert text == "lobby could not be woken right now; try again in a moment"
        assert wakes(router, "failed") == 1


async def test_a_server_joins_no_longer_wake_is_not_asked() -> None:
    kube = FakeKube()
    async with waking(lobby(wakeable=False), kube=kube) as (router, _, _):
        text = await disconnect_reason(router, HELLO + LOGIN)
        assert "no longer wakes it" in text
        assert kube.patches == []


async def test_a_status_ping_never_wakes_and_shows_the_sleeping_motd() -> None:
    kube = FakeKube()
    async with waking(lobby(), kube=kube) as (router, _, _):
        reader, writer = await connect(router)
        writer.write(status_hello(HOST) + STATUS_REQUEST)
        response = await Packets(reader).next(STATUS_MAP)
        writer.close()
        assert isinstance(response, StatusResponse)
        assert response.data["description"] == {"text": "§7Sleeping — join to wake it"}
        assert kube.patches == []


async def test_a_ping_while_it_wakes_says_it_is_starting() -> None:
    kube = FakeKube()
    async with waking(lobby(State.WAKING), kube=kube) as (router, _, _):
        reader, writer = await connect(router)
        writer.write(status_hello(HOST) + STATUS_REQUEST)
        response = await Packets(reader).next(STATUS_MAP)
        writer.close()
        assert isinstance(response, StatusResponse)
        assert response.data["description"] == {"text": "§elobby§r is starting"}
        assert kube.patches == []


async def test_the_login_start_may_come_later_and_its_name_is_cleaned() -> None:
    kube = FakeKube()
    async with waking(lobby(), kube=kube) as (router, _, _):
        reader, writer = await connect(router)
        writer.write(HELLO)
        await writer.drain()
        await asyncio.sleep(0.05)  # a separate segment, most likely; the result is the same
        writer.write(login_start.encode("§cSt eve\n"))
        packet = await Packets(reader).next(LOGIN_MAP)
        writer.close()
        assert isinstance(packet, LoginDisconnect)
        (_, _, _, patch) = kube.patches[0]
        assert patch["metadata"]["annotations"]["craftplane.io/wake-requested-by"] == "join:cSteve"


async def test_a_login_without_a_login_start_wakes_nothing() -> None:
    kube = FakeKube()
    async with waking(lobby(), kube=kube) as (router, _, _):
        reader, writer = await connect(router)
        writer.write(HELLO + answers.framed_raw(b"\x05junk"))  # not a Login Start
        packet = await Packets(reader).next(LOGIN_MAP)
        writer.close()
        assert isinstance(packet, LoginDisconnect)
        assert kube.patches == []
        labels = {"namespace": "tenant-acme", "server": "lobby", "result": "no_login_start"}
        assert router.metrics.value("craftplane_router_connections_total", labels) == 1


# -- the pure parts ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "name"),
    [
        (login_start.encode("Steve"), "Steve"),
        (login_start.encode("Alex_99", uuid=b""), "Alex_99"),  # before 1.19: the name only
        (login_start.encode("Steve")[:5], None),  # more to come
        (b"", None),
        (login_start.encode("a" * 40), "a" * 16),
        (login_start.encode("§§§"), "unknown"),
    ],
)
def test_the_player_name_of_a_login_start(data: bytes, name: str | None) -> None:
    assert login_start.player(data) == name


@pytest.mark.parametrize(
    "data",
    [
        answers.framed_raw(b"\x01\x05Steve"),  # another packet
        answers.framed_raw(b"\x00\x10Ste"),  # a name longer than its packet
        b"\xff" * 6,  # no length prefix
    ],
)
def test_what_is_no_login_start_is_refused(data: bytes) -> None:
    with pytest.raises(handshake.HandshakeError):
        login_start.player(data)


async def test_waiting_for_a_route_ends_when_it_changes_or_at_the_timeout() -> None:
    table = RouteTable([lobby()], namespaces={"tenant-acme"})
    changes = RouteChanges(table)
    key = ("tenant-acme", "lobby")

    def running(r: Route) -> bool:
        return r.state is State.RUNNING

    assert await changes.wait_for(key, running, 0.05) is None
    waiter = asyncio.create_task(changes.wait_for(key, running, 5))
    await until(lambda: changes.waiting == 1)
    table.put(lobby(State.WAKING))
    changes.changed(key)
    await asyncio.sleep(0)
    assert not waiter.done()  # changed, but not to what it waits for
    table.put(lobby(State.RUNNING))
    changes.changed_all()
    found = await asyncio.wait_for(waiter, 5)
    assert found is not None and found.state is State.RUNNING
    assert changes.waiting == 0
    assert await changes.wait_for(key, running, 0) is not None  # already so: no wait


async def test_the_table_source_tells_the_waiting_of_a_change() -> None:
    from craftplane_router.table_source import TableSource
    from tests.unit.router.factories import server

    table = RouteTable([lobby()], namespaces={"tenant-acme"})
    changes = RouteChanges(table)
    source = TableSource(None, table, changes=changes)  # type: ignore[arg-type]
    waiter = asyncio.create_task(
        changes.wait_for(("tenant-acme", "lobby"), lambda r: r.state is State.RUNNING, 5)
    )
    await until(lambda: changes.waiting == 1)
    source.server_changed("MODIFIED", server("lobby", hostnames=[HOST]))
    found = await asyncio.wait_for(waiter, 5)
    assert found is not None and found.state is State.RUNNING
