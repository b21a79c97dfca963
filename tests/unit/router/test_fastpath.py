"""The compiled fast path under the router, over real sockets: it forwards a running server's
connections itself, hands every other to the Python router, and a child that dies is
replaced."""

from __future__ import annotations

import asyncio

import pytest

from craftplane.testing.wait import until
from craftplane_router.app import Router
from tests.unit.router.factories import entry, route
from tests.unit.router.netfakes import (
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


async def _echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while data := await reader.read(65536):
        writer.write(data)
        await writer.drain()


async def _round_trip(router: Router, address: str) -> bytes:
    hello = login_hello(address) + LOGIN_START
    reader, writer = await connect(router)
    writer.write(hello + b"ping")
    writer.write_eof()
    got = await read_to_end(reader)
    writer.close()
    return got[len(hello) :] if got.startswith(hello) else got


def _fast(router: Router):  # type: ignore[no-untyped-def]
    assert router.fast is not None
    return router.fast


async def test_a_running_servers_connection_never_reaches_python() -> None:
    async with backend(_echo) as port:
        target = entry(route("survival", port=port), "survival.example.com")
        async with running(target, **data_path("fast")) as router:
            await until(lambda: router.listening, TIMEOUT)
            # The routing key as hostnames.normalize makes it: case, a trailing dot, Forge.
            assert await _round_trip(router, "Survival.Example.COM.\0FML3\0") == b"ping"
            assert _fast(router).handed_off == 0


async def test_anything_else_is_handed_to_python_with_what_was_read() -> None:
    async with running(**data_path("fast")) as router:
        await until(lambda: router.listening, TIMEOUT)
        answer = await _round_trip(router, "nowhere.example.com")
        assert b"There is no server at nowhere.example.com" in answer
        assert _fast(router).handed_off == 1


async def test_a_dead_fast_path_is_replaced_and_routes_again() -> None:
    async with backend(_echo) as port:
        target = entry(route("survival", port=port), "survival.example.com")
        async with running(target, **data_path("fast")) as router:
            fast = _fast(router)
            await until(lambda: fast.synced, TIMEOUT)
            assert fast._process is not None
            fast._process.kill()
            await until(lambda: fast.started == 2 and fast.synced, TIMEOUT)
            assert await _round_trip(router, "survival.example.com") == b"ping"
            assert fast.handed_off == 0
