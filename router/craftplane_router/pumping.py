"""The ``stream`` data path as two linked protocols: what one socket's transport reads is
written straight to the other's, from the loop's callback, with no task or await per chunk.

Back-pressure is the transports' own: once the writing side's buffer passes ``HIGH_WATER``
the loop calls ``pause_writing`` and the pump stops reading the other socket until it drains
(``resume_writing``), so each direction buffers a bounded amount in user space. An EOF shuts
down the other side's writing half (a half-close passes through); a reset or broken pipe
ends that direction with its OSError, for the session to close both.
"""

from __future__ import annotations

import asyncio
import socket
from typing import Final, cast

from craftplane_router.traffic import TO_CLIENT, TO_SERVER, Traffic

HIGH_WATER: Final = 64 * 1024


class Pump(asyncio.Protocol):
    """One socket's side of a session; ``ended`` resolves when it has read its EOF."""

    def __init__(self, traffic: Traffic, direction: str) -> None:
        self._traffic = traffic
        self._direction = direction
        self.transport: asyncio.Transport | None = None
        self.peer: Pump | None = None
        self.ended: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        self.transport.set_write_buffer_limits(high=HIGH_WATER)
        assert self.peer is not None
        if self.peer.transport is None:
            self.transport.pause_reading()  # nowhere to write yet
        else:
            self.peer.transport.resume_reading()

    def data_received(self, data: bytes) -> None:
        assert self.peer is not None and self.peer.transport is not None
        self.peer.transport.write(data)
        self._traffic.add(self._direction, len(data))

    def eof_received(self) -> bool:
        peer = self.peer.transport if self.peer else None
        if peer is not None and not peer.is_closing() and peer.can_write_eof():
            peer.write_eof()
        if not self.ended.done():
            self.ended.set_result(None)
        return True  # keep this transport: the other direction may still be writing to it

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.ended.done():
            if exc is None:
                self.ended.set_result(None)
            else:
                self.ended.set_exception(exc)
        if self.peer is not None and not self.peer.ended.done() and exc is not None:
            # Its writes go nowhere now: the session ends on this error either way.
            self.peer.ended.set_exception(exc)

    def pause_writing(self) -> None:
        if self.peer is not None and self.peer.transport is not None:
            self.peer.transport.pause_reading()

    def resume_writing(self) -> None:
        if self.peer is not None and self.peer.transport is not None:
            self.peer.transport.resume_reading()


async def linked(
    client: socket.socket, server: socket.socket, traffic: Traffic
) -> tuple[Pump, Pump]:
    """Both sockets under pumps, each writing what it reads to the other."""
    loop = asyncio.get_running_loop()
    from_client, from_server = Pump(traffic, TO_SERVER), Pump(traffic, TO_CLIENT)
    from_client.peer, from_server.peer = from_server, from_client
    await loop.connect_accepted_socket(lambda: from_client, sock=client)
    await loop.connect_accepted_socket(lambda: from_server, sock=server)
    return from_client, from_server


async def ended(pump: Pump) -> None:
    await pump.ended
