"""The stream data path's pumps over socket pairs: bytes cross and are counted, an EOF
half-closes the other side, a reset ends both directions with its error."""

from __future__ import annotations

import asyncio
import socket

import pytest

from craftplane_router.pumping import linked
from craftplane_router.traffic import TO_CLIENT, TO_SERVER, Traffic

pytestmark = pytest.mark.unit


def _pairs() -> tuple[socket.socket, socket.socket, socket.socket, socket.socket]:
    player, client = socket.socketpair()
    server, game = socket.socketpair()
    for sock in (player, client, server, game):
        sock.setblocking(False)
    return player, client, server, game


async def test_bytes_cross_are_counted_and_an_eof_half_closes() -> None:
    loop = asyncio.get_running_loop()
    player, client, server, game = _pairs()
    traffic = Traffic(loop.time)
    await loop.sock_sendall(player, b"early")  # before the pumps: read once both are up
    from_client, from_server = await linked(client, server, traffic)
    assert await asyncio.wait_for(loop.sock_recv(game, 64), 2) == b"early"
    await loop.sock_sendall(game, b"pong!!")
    assert await asyncio.wait_for(loop.sock_recv(player, 64), 2) == b"pong!!"
    player.shutdown(socket.SHUT_WR)
    await asyncio.wait_for(from_client.ended, 2)
    assert await asyncio.wait_for(loop.sock_recv(game, 64), 2) == b""  # the EOF passed on
    assert not from_server.ended.done()  # the other direction still runs
    assert traffic.moved == {TO_SERVER: 5, TO_CLIENT: 6}
    for pump in (from_client, from_server):
        assert pump.transport is not None
        pump.transport.close()
    for sock in (player, game):
        sock.close()


async def test_a_reset_ends_both_directions_with_its_error() -> None:
    loop = asyncio.get_running_loop()
    player, client, server, game = _pairs()
    from_client, from_server = await linked(client, server, Traffic(loop.time))
    # What the loop does on an ECONNRESET from the client's socket.
    from_client.connection_lost(ConnectionResetError("reset by peer"))
    for pump in (from_client, from_server):
        with pytest.raises(ConnectionResetError):
            await asyncio.wait_for(pump.ended, 2)
        assert pump.transport is not None
        pump.transport.abort()
    for sock in (player, game):
        sock.close()
