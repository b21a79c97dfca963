"""A login held through a wake is forwarded once the woken server accepts, not refused at the
first connection refused (its endpoint reaches kube-proxy a moment after it says Running)."""

from __future__ import annotations

import asyncio

import pytest

from craftplane.testing.processes import free_port
from craftplane_router.connection import _dial_within
from craftplane_router.routes import Route, State

pytestmark = pytest.mark.unit


async def test_the_dial_waits_for_a_server_that_starts_listening_late() -> None:
    port = free_port()
    route = Route("tenant-a", "sleepy", "127.0.0.1", port, State.RUNNING)
    with pytest.raises(OSError):
        await _dial_within(route, 1.0, 0.0)  # nothing listens: refused at once

    async def listen_late() -> asyncio.Server:
        await asyncio.sleep(0.6)
        return await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", port)

    late = asyncio.create_task(listen_late())
    server_sock = await _dial_within(route, 1.0, 3.0)
    server = await late
    try:
        assert server_sock.getpeername()[1] == port
    finally:
        server_sock.close()
        server.close()
        await server.wait_closed()


async def test_the_dial_gives_up_after_its_window() -> None:
    route = Route("tenant-a", "sleepy", "127.0.0.1", free_port(), State.RUNNING)
    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(OSError):
        await _dial_within(route, 1.0, 0.6)
    assert 0.4 <= loop.time() - started < 2.0
