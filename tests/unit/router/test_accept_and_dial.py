"""The accept loop takes a burst of queued connections in one go, and a route to an IP literal
is dialled without a trip through the resolver's thread pool."""

from __future__ import annotations

import asyncio
import socket

import pytest

from craftplane_router.connection import _dial, literal_address
from craftplane_router.listener import accept_ready
from craftplane_router.routes import Route, State

pytestmark = pytest.mark.unit


def test_an_ip_literal_needs_no_resolving() -> None:
    assert literal_address("10.96.0.12", 25565) == (socket.AF_INET, ("10.96.0.12", 25565))
    assert literal_address("fd00::1", 25565) == (socket.AF_INET6, ("fd00::1", 25565))
    assert literal_address("mc.tenant-a.svc.cluster.local", 25565) is None


def test_accept_ready_takes_what_is_queued_and_stops_at_the_limit() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        listener.setblocking(False)
        assert accept_ready(listener, 8) == []  # nothing queued: no wait
        clients = [socket.create_connection(listener.getsockname()) for _ in range(5)]
        try:
            first = accept_ready(listener, 3)
            rest = accept_ready(listener, 8)
            assert (len(first), len(rest)) == (3, 2)
            for sock in first + rest:
                sock.close()
        finally:
            for client in clients:
                client.close()


async def test_a_literal_route_is_dialled_without_the_resolver(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    server = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    loop = asyncio.get_running_loop()

    async def no_resolving(*args: object, **kwargs: object) -> None:
        raise AssertionError("resolved an IP literal")

    monkeypatch.setattr(loop, "getaddrinfo", no_resolving)
    try:
        sock = await _dial(Route("tenant-a", "mc", "127.0.0.1", port, State.RUNNING), 1.0)
        assert sock.getpeername()[1] == port
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
        sock.close()
    finally:
        server.close()
        await server.wait_closed()
