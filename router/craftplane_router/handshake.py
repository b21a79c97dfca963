"""The Java Edition handshake (pure): the first packet of every connection, read from the bytes
received so far, with the framing and field encodings of ``mcproto``.

Only the handshake is decoded: the router needs its server address to route and its next state
to know whether a refusal is a status answer or a login disconnect; every later byte of a routed
connection is the server's business and passes through untouched.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Final

from mcproto.buffer import Buffer
from mcproto.protocol.base_io import StructFormat

from craftplane.contracts import hostnames

# A handshake is a few dozen bytes (the address is at most 255 characters); anything beyond
# this is not a Minecraft client, and reading on would let one connection hold memory.
MAX_HANDSHAKE: Final = 1024
MAX_VARINT: Final = 5  # a 32-bit varint never needs more bytes
HANDSHAKE_ID: Final = 0x00
# Clients 1.6 and older ping with 0xFE 0x01 0xFA (the legacy server list ping), not a framed
# packet. 0xFE 0x01 alone also starts the length of a modern 254-byte packet, so only the third
# byte (0xFA, where a handshake has its packet id 0) tells them apart; the older pings (0xFE,
# 0xFE 0x01 and no more) wait like a packet's first bytes, and time out.
LEGACY_PING: Final = b"\xfe\x01\xfa"


def buffer(data: bytes | bytearray = b"") -> Buffer:
    """An mcproto Buffer over ``data`` (its constructor carries no annotations)."""
    return Buffer(data)  # type: ignore[no-untyped-call]


class NextState(IntEnum):
    STATUS = 1
    LOGIN = 2
    TRANSFER = 3  # 1.20.5+: a login sent on by another server; routed like a login


class HandshakeError(ValueError):
    """Not a handshake: ``reason`` is the metrics label (malformed, oversize, legacy)."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason


@dataclass(frozen=True)
class Handshake:
    protocol: int
    address: str  # as the client sent it (Forge markers and all)
    port: int
    next_state: NextState
    size: int  # bytes of the framed packet, length prefix included

    @property
    def key(self) -> str:
        """The routing key: the address normalised by the hostname contract."""
        return hostnames.normalize(self.address)

    @property
    def login(self) -> bool:
        return self.next_state is not NextState.STATUS


def frame_length(data: bytes | bytearray) -> tuple[int, int] | None:
    """(length of the packet, bytes of its length prefix), or None while the prefix is
    incomplete. HandshakeError for a prefix longer than a varint may be."""
    head = bytes(data[:MAX_VARINT])
    end = next((i for i, byte in enumerate(head) if not byte & 0x80), None)
    if end is None:
        if len(head) >= MAX_VARINT:
            raise HandshakeError("malformed", "a length prefix longer than 5 bytes")
        return None
    buf = buffer(head[: end + 1])
    try:
        length = buf.read_varint()
    except OSError as exc:
        raise HandshakeError("malformed", f"a bad length prefix ({exc})") from exc
    return length, end + 1


def next_frame(data: bytes | bytearray, limit: int = MAX_HANDSHAKE) -> tuple[bytes, int] | None:
    """(the packet's id and body, bytes of the whole frame) when ``data`` starts with a whole
    frame; None while it does not yet. HandshakeError for one that cannot be a packet."""
    prefix = frame_length(data)
    if prefix is None:
        return None
    length, width = prefix
    if length < 1:
        raise HandshakeError("malformed", f"a packet of {length} bytes")
    if length + width > limit:
        raise HandshakeError("oversize", f"a packet of {length} bytes (at most {limit})")
    if len(data) < width + length:
        return None
    return bytes(data[width : width + length]), width + length


def parse(data: bytes | bytearray) -> Handshake | None:
    """The handshake ``data`` starts with; None while more bytes are needed."""
    if data.startswith(LEGACY_PING):
        raise HandshakeError("legacy", "a pre-1.7 server list ping")
    frame = next_frame(data)
    if frame is None:
        return None
    packet, size = frame
    buf = buffer(packet)
    try:
        packet_id = buf.read_varint()
        if packet_id != HANDSHAKE_ID:
            raise HandshakeError("malformed", f"packet 0x{packet_id:02x} is not a handshake")
        protocol = buf.read_varint()
        address = buf.read_utf()
        port = buf.read_value(StructFormat.USHORT)
        state = buf.read_varint()
    except OSError as exc:
        raise HandshakeError("malformed", f"a truncated handshake ({exc})") from exc
    except UnicodeDecodeError as exc:
        raise HandshakeError("malformed", f"an address that is not UTF-8 ({exc})") from exc
    if buf.remaining:
        raise HandshakeError("malformed", f"{buf.remaining} bytes after the handshake's fields")
    try:
        next_state = NextState(state)
    except ValueError:
        raise HandshakeError("malformed", f"next state {state}") from None
    return Handshake(protocol, address, port, next_state, size)


def encode(protocol: int, address: str, port: int, next_state: int) -> bytes:
    """A framed handshake packet (what a client sends; the tests and the fake clients use it)."""
    body = buffer()
    body.write_varint(HANDSHAKE_ID)
    body.write_varint(protocol)
    body.write_utf(address)
    body.write_value(StructFormat.USHORT, port)
    body.write_varint(next_state)
    framed = buffer()
    framed.write_bytearray(body)
    return bytes(framed)
