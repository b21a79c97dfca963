"""PROXY v2 over real sockets: sent to a server that asked for it, believed only from a trusted
balancer; and a status ping passed through to a running server (mcstatus, end to end)."""

from __future__ import annotations

import asyncio
from ipaddress import IPv4Address, ip_address

import pytest
from mcproto.packets.status.status import StatusResponse
from mcstatus import JavaServer
from proxyprotocol.result import ProxyResultIPv4
from proxyprotocol.v2 import ProxyProtocolV2

from craftplane_router import answers, handshake, proxy_header
from craftplane_router.proxy_header import Peer
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
PATHS = pytest.mark.parametrize("mode", [path for path in DATA_PATHS if path != "splice"])

HELLO = login_hello("survival.example.com") + LOGIN_START
BALANCED = Peer((IPv4Address("203.0.113.7"), 51234), (IPv4Address("198.51.100.1"), 25565))


def _proxied(port: int) -> object:
    return entry(route("survival", port=port, proxy_protocol=True), "survival.example.com")


async def _header_and_rest(reader: asyncio.StreamReader) -> tuple[ProxyResultIPv4, bytes]:
    async with asyncio.timeout(TIMEOUT):
        fixed = await reader.readexactly(16)
        rest = await reader.readexactly(int.from_bytes(fixed[14:16], "big"))
        result = ProxyProtocolV2().unpack(fixed + rest)
        assert isinstance(result, ProxyResultIPv4)
        return result, await reader.readexactly(len(HELLO))


@PATHS
async def test_a_server_that_asked_gets_the_clients_address_first(mode: str) -> None:
    got: asyncio.Queue[tuple[ProxyResultIPv4, bytes]] = asyncio.Queue()

    async def server(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        got.put_nowait(await _header_and_rest(reader))
        await reader.read()

    async with backend(server) as port, running(_proxied(port), **data_path(mode)) as router:  # type: ignore[arg-type]
        _, writer = await connect(router)
        writer.write(HELLO)
        result, replayed = await got.get()
        client = writer.get_extra_info("sockname")
        assert result.source == (ip_address(client[0]), client[1])
        assert result.dest == (ip_address(router.address[0]), router.address[1])
        assert replayed == HELLO
        writer.close()


@PATHS
async def test_a_trusted_balancers_header_names_the_real_client(mode: str) -> None:
    got: asyncio.Queue[tuple[ProxyResultIPv4, bytes]] = asyncio.Queue()

    async def server(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        got.put_nowait(await _header_and_rest(reader))
        await reader.read()

    async with (
        backend(server) as port,
        running(_proxied(port), accept_proxy_from=["127.0.0.0/8"], **data_path(mode)) as router,  # type: ignore[arg-type]
    ):
        _, writer = await connect(router)
        writer.write(proxy_header.build(BALANCED) + HELLO)
        result, replayed = await got.get()
        assert (result.source, result.dest) == (BALANCED.source, BALANCED.dest)
        assert replayed == HELLO  # the balancer's header is not passed on as such
        writer.close()


@PATHS
async def test_a_header_from_anyone_else_is_refused(mode: str) -> None:
    async def server(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        raise AssertionError("nothing may reach the server")

    async with (
        backend(server) as port,
        running(_proxied(port), accept_proxy_from=["10.0.0.0/8"], **data_path(mode)) as router,  # type: ignore[arg-type]
    ):
        reader, writer = await connect(router)
        writer.write(proxy_header.build(BALANCED) + HELLO)
        assert await read_to_end(reader) == b""
        writer.close()
        value = router.metrics.value(
            "craftplane_router_handshake_errors_total", {"reason": "malformed"}
        )
        assert value == 1


async def _status_server(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """A server answering the status exchange as a real one does."""
    data = bytearray()
    while (hello := handshake.parse(data)) is None:
        data += await reader.read(4096)
    del data[: hello.size]
    while True:
        while (frame := handshake.next_frame(data)) is None:
            chunk = await reader.read(4096)
            if not chunk:
                return
            data += chunk
        body, size = frame
        del data[:size]
        packet = answers.status_packet(body)
        if packet.ping:
            writer.write(answers.pong(packet.payload))
            await writer.drain()
            return
        status = {
            "version": {"name": "Paper 1.21.4", "protocol": 769},
            "players": {"max": 20, "online": 3, "sample": []},
            "description": {"text": f"survival on {hello.key}"},
        }
        writer.write(answers.framed(StatusResponse(status)))
        await writer.drain()


@PATHS
async def test_a_status_ping_reaches_a_running_server_through_the_router(mode: str) -> None:
    async with backend(_status_server) as port:
        target = entry(route("survival", port=port), "localhost")
        async with running(target, **data_path(mode)) as router:
            server = JavaServer("localhost", router.address[1], timeout=TIMEOUT)
            status = await server.async_status()
            assert status.motd.to_plain() == "survival on localhost"
            assert (status.players.online, status.players.max) == (3, 20)
            assert status.version.name == "Paper 1.21.4"
            assert await server.async_ping() >= 0
