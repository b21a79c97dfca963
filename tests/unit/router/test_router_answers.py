"""The router answering for itself, over real sockets: status pings and login refusals for
servers it cannot forward to, and the connections it refuses before any handshake."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest
from mcproto.packets.login.login import LoginDisconnect
from mcproto.packets.status.ping import PingPong
from mcproto.packets.status.status import StatusResponse

from craftplane.testing.processes import free_port
from craftplane.testing.wait import until
from craftplane_router.routes import Route, State
from tests.unit.router import netfakes
from tests.unit.router.factories import entry, route
from tests.unit.router.netfakes import (
    LOGIN_MAP,
    LOGIN_START,
    STATUS_MAP,
    STATUS_REQUEST,
    Packets,
    connect,
    login_hello,
    ping,
    read_to_end,
    running,
    status_hello,
)

pytestmark = pytest.mark.unit


@pytest.fixture(autouse=True, params=["stream", "fast"])
def _path(request: pytest.FixtureRequest) -> Iterator[None]:
    """Each test with the Python router alone, and with the fast path handing these
    connections (none of them forwarded at once) to it."""
    netfakes.defaults.update(netfakes.data_path(request.param))
    try:
        yield
    finally:
        netfakes.defaults.clear()


STOPPED = entry(route("survival", State.STOPPED, players_max=20), "survival.example.com")
SLEEPING = entry(route("lobby", State.SLEEPING), "lobby.example.com")


async def _status(address: str, **settings: object) -> tuple[dict[str, object], int, bytes]:
    async with running(STOPPED, SLEEPING, **settings) as router:  # type: ignore[arg-type]
        reader, writer = await connect(router)
        writer.write(status_hello(address, protocol=765) + STATUS_REQUEST)
        packets = Packets(reader)
        response = await packets.next(STATUS_MAP)
        writer.write(ping(987654321))
        pong = await packets.next(STATUS_MAP)
        rest = await packets.rest()
        writer.close()
        assert isinstance(response, StatusResponse) and isinstance(pong, PingPong)
        return response.data, pong.payload, rest


async def test_a_status_ping_for_an_unknown_host_shows_a_readable_motd() -> None:
    data, payload, rest = await _status("Nowhere.Example.COM")
    assert data == {
        "version": {"name": "Craftplane", "protocol": 765},
        "players": {"max": 0, "online": 0},
        "description": {"text": "§cNo server at nowhere.example.com"},
    }
    assert payload == 987654321 and rest == b""


async def test_a_status_ping_for_a_stopped_server_says_so() -> None:
    data, _, _ = await _status("survival.example.com")
    assert data["description"] == {"text": "§esurvival§r is stopped"}
    assert data["players"] == {"max": 20, "online": 0}


async def test_a_sleeping_server_shows_the_sleeping_motd() -> None:
    data, _, _ = await _status("lobby.example.com", sleeping_motd="{server}: zzz")
    assert data["description"] == {"text": "lobby: zzz"}


async def test_the_status_request_may_come_with_the_handshake_or_after_it() -> None:
    async with running(STOPPED) as router:
        reader, writer = await connect(router)
        hello = status_hello("survival.example.com") + STATUS_REQUEST
        for byte in hello:  # one byte at a time: nothing assumes a packet per read
            writer.write(bytes([byte]))
            await writer.drain()
        assert isinstance(await Packets(reader).next(STATUS_MAP), StatusResponse)
        writer.close()


async def _login(router_entries: list[object], address: str, **settings: object) -> LoginDisconnect:
    async with running(*router_entries, **settings) as router:  # type: ignore[arg-type]
        reader, writer = await connect(router)
        writer.write(login_hello(address) + LOGIN_START)
        packets = Packets(reader)
        packet = await packets.next(LOGIN_MAP)
        assert await packets.rest() == b""  # then the router closes
        writer.close()
        assert isinstance(packet, LoginDisconnect)
        return packet


async def test_a_login_to_a_stopped_server_is_refused_with_the_reason() -> None:
    packet = await _login([STOPPED], "survival.example.com")
    assert packet.reason.as_dict() == {"text": "survival is stopped; its owner can start it"}


async def test_a_login_to_an_unknown_host_is_refused_with_the_reason() -> None:
    packet = await _login([STOPPED], "elsewhere.example.com")
    assert packet.reason.as_dict() == {
        "text": "There is no server at elsewhere.example.com. Check the address."
    }


async def test_a_login_to_a_sleeping_server_without_a_waker_is_refused() -> None:
    packet = await _login([SLEEPING], "lobby.example.com")
    assert "asleep" in str(packet.reason.as_dict()["text"])


async def test_an_unreachable_running_server_is_explained() -> None:
    gone = entry(route("hub", port=free_port()), "hub.example.com")
    packet = await _login([gone], "hub.example.com")
    assert packet.reason.as_dict() == {
        "text": "hub is running but cannot be reached right now; try again in a moment"
    }
    data, _, _ = await _status_of(gone, "hub.example.com")
    assert data["description"] == {"text": packet.reason.as_dict()["text"]}


async def _status_of(target: object, address: str) -> tuple[dict[str, object], int, bytes]:
    async with running(target) as router:  # type: ignore[arg-type]
        reader, writer = await connect(router)
        writer.write(status_hello(address) + STATUS_REQUEST + ping(1))
        packets = Packets(reader)
        response = await packets.next(STATUS_MAP)
        pong = await packets.next(STATUS_MAP)
        writer.close()
        assert isinstance(response, StatusResponse) and isinstance(pong, PingPong)
        return response.data, pong.payload, b""


async def test_a_backend_that_does_not_answer_the_connect_in_time_is_refused() -> None:
    # A listener that never accepts, its backlog full: the kernel drops the next SYN, so a
    # connect to it hangs until the router's connect timeout.
    with socket.socket() as full, socket.socket() as queued:
        full.bind(("127.0.0.1", 0))
        full.listen(0)
        queued.connect(full.getsockname())
        hanging = entry(route("hub", port=full.getsockname()[1]), "hub.example.com")
        started = time.monotonic()
        packet = await _login([hanging], "hub.example.com", connect_timeout_seconds=0.3)
        took = time.monotonic() - started
    assert "cannot be reached" in str(packet.reason.as_dict()["text"])
    assert 0.3 <= took < 5


async def test_a_client_that_sends_nothing_is_closed_after_the_handshake_timeout() -> None:
    async with running(STOPPED, handshake_timeout_seconds=0.3) as router:
        reader, writer = await connect(router)
        started = time.monotonic()
        assert await read_to_end(reader) == b""
        assert 0.25 <= time.monotonic() - started < 5
        writer.close()
        metrics = router.metrics
        assert metrics.value("craftplane_router_handshake_errors_total", {"reason": "timeout"}) == 1


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"\x81\x10" + bytes(2048), "oversize"),
        (b"\x80\x80\x80\x80\x80\x80", "malformed"),
        (b"\xfe\x01\xfa\x00\x0b", "legacy"),
        (b"\x05\x00", "closed"),  # half a handshake, then the client leaves
    ],
)
async def test_garbage_is_closed_and_counted(data: bytes, reason: str) -> None:
    async with running(STOPPED) as router:
        reader, writer = await connect(router)
        writer.write(data)
        if reason == "closed":
            writer.write_eof()
        assert await read_to_end(reader) == b""
        writer.close()
        labels = {"reason": reason}
        await until(
            lambda: router.metrics.value("craftplane_router_handshake_errors_total", labels)
        )
        assert (
            router.metrics.value(
                "craftplane_router_connections_total",
                {"namespace": "", "server": "", "result": "handshake_error"},
            )
            == 1
        )
        assert router.errors.take() == {f"handshake {reason}": 1}


async def test_beyond_max_connections_a_connection_is_closed_at_once() -> None:
    async with running(STOPPED, max_connections=1) as router:
        _, first = await connect(router)
        await until(lambda: router.active == 1)
        reader, second = await connect(router)
        assert await read_to_end(reader, timeout=2) == b""
        labels = {"namespace": "", "server": "", "result": "over_capacity"}
        # (the fast path reports its counts once a second)
        await until(
            lambda: router.metrics.value("craftplane_router_connections_total", labels) == 1
        )
        assert router.active == 1
        first.close()
        second.close()
        await until(lambda: router.active == 0)


class _Waker:
    def __init__(self, outcome: Route | str) -> None:
        self.outcome = outcome
        self.woken: list[Route] = []
        self.players: list[str] = []

    async def wake(self, route: Route, player: str) -> Route | str:
        self.woken.append(route)
        self.players.append(player)
        return self.outcome


async def test_a_waker_answers_a_login_to_a_sleeping_server() -> None:
    waker = _Waker("lobby is waking up; join again in 30 seconds")
    async with running(SLEEPING, waker=waker) as router:
        reader, writer = await connect(router)
        writer.write(login_hello("lobby.example.com") + LOGIN_START)
        packet = await Packets(reader).next(LOGIN_MAP)
        writer.close()
        assert isinstance(packet, LoginDisconnect)
        assert packet.reason.as_dict() == {"text": "lobby is waking up; join again in 30 seconds"}
        assert [r.name for r in waker.woken] == ["lobby"]
        assert waker.players == ["Steve"]  # from the Login Start
        labels = {"namespace": "tenant-acme", "server": "lobby", "result": "waking"}
        assert router.metrics.value("craftplane_router_connections_total", labels) == 1


async def test_a_status_ping_never_wakes_a_server() -> None:
    waker = _Waker("woken")
    async with running(SLEEPING, waker=waker) as router:
        reader, writer = await connect(router)
        writer.write(status_hello("lobby.example.com") + STATUS_REQUEST)
        assert isinstance(await Packets(reader).next(STATUS_MAP), StatusResponse)
        writer.close()
        assert waker.woken == []


async def test_every_decision_is_counted_by_server_and_result() -> None:
    async with running(STOPPED) as router:
        for hello in (status_hello("survival.example.com"), login_hello("survival.example.com")):
            reader, writer = await connect(router)
            writer.write(hello + STATUS_REQUEST)
            await Packets(reader).next(STATUS_MAP if hello[-1] == 1 else LOGIN_MAP)
            writer.close()
        value = router.metrics.value
        labels = {"namespace": "tenant-acme", "server": "survival"}
        assert (
            value("craftplane_router_connections_total", {**labels, "result": "answered_stopped"})
            == 1
        )
        assert (
            value("craftplane_router_connections_total", {**labels, "result": "refused_stopped"})
            == 1
        )
