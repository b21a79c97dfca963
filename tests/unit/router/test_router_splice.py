"""Routed connections over real sockets, in both splice modes: the handshake replayed, bytes
intact both ways, half-close, the idle timeout, back-pressure, status passed through."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import select
import socket
import time
from pathlib import Path

import pytest

from craftplane.testing.wait import until
from craftplane_router.routes import Entry
from tests.unit.router.factories import entry, route
from tests.unit.router.netfakes import (
    DATA_PATHS,
    LOGIN_START,
    TIMEOUT,
    backend,
    connect,
    data_path,
    login_hello,
    read_to_end,
    running,
)

pytestmark = pytest.mark.unit

MODES = pytest.mark.parametrize("mode", DATA_PATHS)
HELLO = login_hello("survival.example.com") + LOGIN_START
MIB = 1024 * 1024


def _to(port: int) -> Entry:
    return entry(route("survival", port=port), "survival.example.com")


async def _expect_hello(reader: asyncio.StreamReader) -> None:
    async with asyncio.timeout(TIMEOUT):
        assert await reader.readexactly(len(HELLO)) == HELLO


async def _send_and_hash(
    writer: asyncio.StreamWriter, data: bytes, reader: asyncio.StreamReader, size: int
) -> str:
    """Write ``data`` while reading ``size`` bytes back; the sha256 of what came back."""

    async def send() -> None:
        for start in range(0, len(data), MIB):
            writer.write(data[start : start + MIB])
            await writer.drain()

    async def receive() -> str:
        digest = hashlib.sha256()
        got = 0
        while got < size:
            chunk = await reader.read(MIB)
            assert chunk, f"closed after {got} of {size} bytes"
            digest.update(chunk)
            got += len(chunk)
        return digest.hexdigest()

    async with asyncio.timeout(60):
        _, digest = await asyncio.gather(send(), receive())
    return digest


@MODES
async def test_bytes_cross_both_ways_intact(mode: str) -> None:
    up, down = os.urandom(20 * MIB), os.urandom(20 * MIB)
    seen: dict[str, str] = {}

    async def server(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _expect_hello(reader)
        seen["up"] = await _send_and_hash(writer, down, reader, len(up))

    async with backend(server) as port, running(_to(port), **data_path(mode)) as router:
        reader, writer = await connect(router)
        writer.write(HELLO)
        got_down = await _send_and_hash(writer, up, reader, len(down))
        writer.close()
        assert got_down == hashlib.sha256(down).hexdigest()
        await until(lambda: "up" in seen, TIMEOUT)
        assert seen["up"] == hashlib.sha256(up).hexdigest()
        labels = {"namespace": "tenant-acme", "server": "survival"}
        value = router.metrics.value
        expected = {
            ("craftplane_router_bytes_total", "direction", "to_server"): len(up) + len(HELLO),
            ("craftplane_router_bytes_total", "direction", "to_client"): len(down),
            ("craftplane_router_connections_total", "result", "routed"): 1,
        }

        def counted() -> dict[tuple[str, str, str], float]:
            return {key: value(key[0], {**labels, key[1]: key[2]}) for key in expected}

        # The fast path reports its counts once a second: wait for them, then they must match.
        await until(lambda: router.active == 0 and counted() == expected, TIMEOUT)
        assert router.fast is None or router.fast.handed_off == 0  # forwarded by the child


@MODES
async def test_a_half_close_passes_through_both_ways(mode: str) -> None:
    async def server(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _expect_hello(reader)
        rest = await read_to_end(reader)  # the client's EOF arrives ...
        writer.write(b"got " + rest)  # ... and the server can still answer
        await writer.drain()
        writer.write_eof()
        await asyncio.sleep(TIMEOUT)  # EOF only: the router must not need a close

    async with backend(server) as port, running(_to(port), **data_path(mode)) as router:
        reader, writer = await connect(router)
        writer.write(HELLO + b"question")
        writer.write_eof()
        assert await read_to_end(reader) == b"got question"
        writer.close()
        await until(lambda: router.active == 0, TIMEOUT)


@MODES
async def test_a_quiet_connection_is_closed_after_the_idle_timeout(mode: str) -> None:
    closed = asyncio.Event()

    async def server(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _expect_hello(reader)
        writer.write(b"hello")
        await reader.read()
        closed.set()

    async with (
        backend(server) as port,
        running(_to(port), **data_path(mode), idle_seconds=0.4) as router,
    ):
        reader, writer = await connect(router)
        writer.write(HELLO)
        assert await reader.readexactly(5) == b"hello"
        started = time.monotonic()
        assert await read_to_end(reader) == b""
        assert time.monotonic() - started >= 0.35
        async with asyncio.timeout(TIMEOUT):
            await closed.wait()
        writer.close()


@MODES
async def test_a_failing_side_closes_the_other(mode: str) -> None:
    async def server(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _expect_hello(reader)
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        writer.transport.abort()  # a reset, not a FIN

    async with backend(server) as port, running(_to(port), **data_path(mode)) as router:
        reader, writer = await connect(router)
        writer.write(HELLO)
        with contextlib.suppress(ConnectionResetError):  # a reset passed on: as good as a close
            assert await read_to_end(reader) == b""
        writer.close()
        await until(lambda: router.active == 0, TIMEOUT)


def _kernel_max(name: str) -> int:
    return int(Path(f"/proc/sys/net/ipv4/{name}").read_text().split()[2])


def _write_until_blocked(sock: socket.socket, limit: int) -> int:
    """Write until the socket stays unwritable for a second (or ``limit`` bytes); the bytes
    written."""
    chunk = b"x" * (64 * 1024)
    written = 0
    sock.setblocking(False)
    while written < limit:
        try:
            written += sock.send(chunk)
        except BlockingIOError:
            _, ready, _ = select.select([], [sock], [], 1.0)
            if not ready:
                return written
    return written


@MODES
async def test_a_server_that_stops_reading_stops_the_client(mode: str) -> None:
    resume = asyncio.Event()
    received = asyncio.Queue[int]()

    async def server(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _expect_hello(reader)
        await resume.wait()
        received.put_nowait(len(await read_to_end(reader, timeout=60)))

    # What the kernel may buffer on the way (the router's receive and send buffers at their
    # autotuned maximum, the small client and server buffers); the router itself may hold a
    # few chunks more. A router without back-pressure would take far more: it reads on.
    bound = _kernel_max("tcp_rmem") + _kernel_max("tcp_wmem") + 4 * MIB
    async with (
        backend(server, rcvbuf=64 * 1024) as port,
        running(_to(port), **data_path(mode)) as router,
    ):
        host, router_port = router.address
        client = socket.socket()
        client.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 64 * 1024)
        client.connect((host, router_port))
        client.sendall(HELLO)
        written = await asyncio.to_thread(_write_until_blocked, client, 4 * bound)
        assert written < bound, f"{written} bytes taken by a router whose server reads nothing"
        resume.set()
        client.shutdown(socket.SHUT_WR)
        async with asyncio.timeout(60):
            assert await received.get() == written  # and nothing was lost
        client.close()


@MODES
async def test_a_client_that_pauses_reading_while_it_still_sends_loses_nothing(mode: str) -> None:
    """A player on a slow link during a burst of chunks: it keeps sending (movement) while
    reading nothing for longer than the idle timeout; the session stays and no byte is lost."""
    down = os.urandom(8 * MIB)

    async def server(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _expect_hello(reader)
        writer.write(down)
        await writer.drain()
        await reader.read()

    async with (
        backend(server) as port,
        running(_to(port), **data_path(mode), idle_seconds=1.0) as router,
    ):
        reader, writer = await connect(router)
        writer.write(HELLO)
        for _ in range(25):  # 2.5 s: more than twice the idle timeout, reading nothing
            writer.write(b"m")
            await writer.drain()
            await asyncio.sleep(0.1)
        got = bytearray()
        async with asyncio.timeout(TIMEOUT):
            while len(got) < len(down):
                chunk = await reader.read(MIB)
                assert chunk, f"closed after {len(got)} of {len(down)} bytes"
                got += chunk
        assert hashlib.sha256(got).digest() == hashlib.sha256(down).digest()
        writer.close()
