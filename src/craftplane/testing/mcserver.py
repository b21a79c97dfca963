"""A small Minecraft Java-protocol server and client for tests, on loopback.

It speaks the real wire protocol: VarInt-framed packets, the handshake, Server List Ping
(status request/response, ping/pong) and the start of the login sequence. A client that has
sent Login Start counts as online until its connection closes, so a test can make the player
count go 0 -> 1 -> 0 by joining and leaving, and watch the operator's ping notice.
"""

from __future__ import annotations

import asyncio
import json
import struct
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

PROTOCOL_VERSION = 769  # 1.21.4


def varint(value: int) -> bytes:
    out = bytearray()
    value &= 0xFFFFFFFF
    while True:
        byte = value & 0x7F
        value >>= 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


async def read_varint(reader: asyncio.StreamReader) -> int:
    result = 0
    for shift in range(0, 35, 7):
        byte = (await reader.readexactly(1))[0]
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result
    raise ValueError("VarInt too long")


def string(value: str) -> bytes:
    data = value.encode()
    return varint(len(data)) + data


def packet(packet_id: int, payload: bytes = b"") -> bytes:
    body = varint(packet_id) + payload
    return varint(len(body)) + body


async def read_packet(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    length = await read_varint(reader)
    body = await reader.readexactly(length)
    packet_id, offset = _decode_varint(body)
    return packet_id, body[offset:]


def _decode_varint(data: bytes, offset: int = 0) -> tuple[int, int]:
    result = 0
    for shift in range(0, 35, 7):
        byte = data[offset]
        offset += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, offset
    raise ValueError("VarInt too long")


def _decode_string(data: bytes, offset: int) -> tuple[str, int]:
    length, offset = _decode_varint(data, offset)
    return data[offset : offset + length].decode(), offset + length


class FakeMinecraftServer:
    def __init__(self, *, max_players: int = 20, motd: str = "Craftplane test server") -> None:
        self.max_players = max_players
        self.motd = motd
        self.online: dict[int, str] = {}
        self._server: asyncio.Server | None = None
        self.port = 0

    async def start(self) -> FakeMinecraftServer:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def status_json(self) -> dict[str, object]:
        return {
            "version": {"name": "1.21.4", "protocol": PROTOCOL_VERSION},
            "players": {
                "max": self.max_players,
                "online": len(self.online),
                "sample": [
                    {"name": name, "id": str(uuid.uuid3(uuid.NAMESPACE_OID, name))}
                    for name in self.online.values()
                ],
            },
            "description": {"text": self.motd},
        }

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        key = id(writer)
        try:
            packet_id, payload = await read_packet(reader)
            if packet_id != 0:
                return
            _, offset = _decode_varint(payload)  # protocol version
            _, offset = _decode_string(payload, offset)  # server address
            offset += 2  # port
            next_state, _ = _decode_varint(payload, offset)
            if next_state == 1:
                await self._status(reader, writer)
            elif next_state == 2:
                packet_id, payload = await read_packet(reader)
                name, _ = _decode_string(payload, 0)
                self.online[key] = name
                # Hold the "session" until the client goes away.
                while await reader.read(1024):
                    pass
        except (asyncio.IncompleteReadError, ConnectionError, ValueError):
            pass
        finally:
            self.online.pop(key, None)
            writer.close()

    async def _status(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            packet_id, payload = await read_packet(reader)
            if packet_id == 0:
                writer.write(packet(0, string(json.dumps(self.status_json()))))
            elif packet_id == 1:
                writer.write(packet(1, payload))
                await writer.drain()
                return
            await writer.drain()


@asynccontextmanager
async def joined(address: str, player: str) -> AsyncIterator[None]:
    """Be online as `player` for the duration of the block."""
    host, port = address.rsplit(":", 1)
    _reader, writer = await asyncio.open_connection(host, int(port))
    handshake = varint(PROTOCOL_VERSION) + string(host) + struct.pack(">H", int(port)) + varint(2)
    writer.write(packet(0, handshake))
    writer.write(packet(0, string(player) + uuid.uuid3(uuid.NAMESPACE_OID, player).bytes))
    await writer.drain()
    try:
        yield
    finally:
        writer.close()
        await writer.wait_closed()
