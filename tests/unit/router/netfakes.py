"""Real sockets on 127.0.0.1 for the router's tests: backends, clients, a router in-process."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import socket
import subprocess
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

from mcproto.packets.interactions import sync_read_packet
from mcproto.packets.packet import ClientBoundPacket, GameState, PacketDirection
from mcproto.packets.packet_map import generate_packet_map

from craftplane.testing.wait import until
from craftplane_router import answers, handshake
from craftplane_router.app import Router
from craftplane_router.handshake import buffer, encode
from craftplane_router.routes import Entry
from craftplane_router.session import SpliceMode
from craftplane_router.settings import FastPathMode, RouterSettings
from craftplane_router.table import RouteTable
from craftplane_router.waking import Waker

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
STATUS_MAP = generate_packet_map(PacketDirection.CLIENTBOUND, GameState.STATUS)
LOGIN_MAP = generate_packet_map(PacketDirection.CLIENTBOUND, GameState.LOGIN)
TIMEOUT = 10.0
FASTPATH_SOURCE = Path(__file__).resolve().parents[3] / "router" / "fastpath"
# Every way a routed connection's bytes can cross: the Python path's two copies, and the
# compiled fast path (which hands what it does not forward to the Python router).
DATA_PATHS = [mode.value for mode in SpliceMode] + ["fast"]


@functools.cache
def fast_path_binary() -> str:
    """The fast path built from this checkout (Go caches the build: seconds after the first)."""
    out = Path(tempfile.mkdtemp(prefix="craftplane-fastpath-")) / "craftplane-router-fastpath"
    subprocess.run(["go", "build", "-o", str(out), "."], cwd=FASTPATH_SOURCE, check=True)
    return str(out)


# What ``running`` routers get unless a test says otherwise (a module's fixture may run its
# tests on each data path by setting it).
defaults: dict[str, Any] = {}


def data_path(mode: str) -> dict[str, Any]:
    """Router settings for one of ``DATA_PATHS``."""
    if mode == "fast":
        return {"fast_path": FastPathMode.ON, "fast_path_binary": fast_path_binary()}
    return {"splice_mode": SpliceMode(mode), "fast_path": FastPathMode.OFF}


@contextlib.asynccontextmanager
async def backend(handler: Handler, *, rcvbuf: int = 0) -> AsyncIterator[int]:
    """A TCP server on 127.0.0.1 running ``handler`` per connection; yields its port."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if rcvbuf:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    sock.bind(("127.0.0.1", 0))
    tasks: set[asyncio.Task[None]] = set()

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        tasks.add(task)
        try:
            await handler(reader, writer)
        finally:
            writer.close()
            tasks.discard(task)

    server = await asyncio.start_server(serve, sock=sock)
    try:
        yield sock.getsockname()[1]
    finally:
        server.close()
        for task in list(tasks):
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await server.wait_closed()


@contextlib.asynccontextmanager
async def running(
    *entries: Entry, waker: Waker | None = None, **settings: Any
) -> AsyncIterator[Router]:
    """A router on an ephemeral port routing ``entries`` (every namespace a tenant's)."""
    table = RouteTable(entries, namespaces={e.route.namespace for e in entries})
    settings = {"fast_path": FastPathMode.OFF, **defaults, **settings}
    config = RouterSettings(host="127.0.0.1", port=0, **settings)
    router = Router(config, table, waker=waker)
    await router.start()
    # Until the fast path (if any) has the routes: a connection before that is handed to
    # the Python router, which would let a fast-path test pass without the fast path.
    await until(lambda: router.listening, TIMEOUT)
    try:
        yield router
    finally:
        await router.stop(grace=0)


async def connect(router: Router) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    host, port = router.address
    return await asyncio.open_connection(host, port)


def status_hello(address: str, protocol: int = 769) -> bytes:
    return encode(protocol, address, 25565, 1)


def login_hello(address: str, protocol: int = 769, state: int = 2) -> bytes:
    return encode(protocol, address, 25565, state)


LOGIN_START = answers.framed_raw(b"\x00\x05Steve" + bytes(16))  # name and a UUID
STATUS_REQUEST = answers.framed_raw(b"\x00")


def ping(payload: int) -> bytes:
    return answers.framed_raw(b"\x01" + payload.to_bytes(8, "big", signed=True))


class Packets:
    """Framed packets from a stream, decoded with an mcproto packet map; the bytes after a
    packet wait for the next one."""

    def __init__(self, reader: asyncio.StreamReader) -> None:
        self._reader = reader
        self._data = bytearray()

    async def next(self, packets: Any) -> ClientBoundPacket:
        async with asyncio.timeout(TIMEOUT):
            while (frame := handshake.next_frame(self._data, limit=1 << 20)) is None:
                chunk = await self._reader.read(4096)
                assert chunk, f"closed after {bytes(self._data)!r}"
                self._data += chunk
        _, size = frame
        packet: ClientBoundPacket = sync_read_packet(buffer(self._data[:size]), packets)
        del self._data[:size]
        return packet

    async def rest(self) -> bytes:
        """Whatever else comes until the connection closes."""
        return bytes(self._data) + await read_to_end(self._reader)


async def read_to_end(reader: asyncio.StreamReader, timeout: float = TIMEOUT) -> bytes:
    async with asyncio.timeout(timeout):
        return await reader.read()
