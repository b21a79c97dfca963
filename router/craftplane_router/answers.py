"""The packets the router itself sends (pure): a status response, a pong, a login disconnect,
encoded by ``mcproto``; and the status-state packets a client sends, decoded the same way."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from mcproto.packets.interactions import sync_write_packet
from mcproto.packets.login.login import LoginDisconnect
from mcproto.packets.packet import Packet
from mcproto.packets.status.ping import PingPong
from mcproto.packets.status.status import StatusResponse
from mcproto.types.chat import ChatMessage

from craftplane_router.handshake import HandshakeError, buffer

VERSION_NAME: Final = "Craftplane"
STATUS_REQUEST_ID: Final = 0x00
PING_ID: Final = 0x01


def framed(packet: Packet) -> bytes:
    buf = buffer()
    sync_write_packet(buf, packet)
    return bytes(buf)


def framed_raw(packet: bytes) -> bytes:
    """A packet's id and body with its length prefix."""
    buf = buffer()
    buf.write_bytearray(packet)
    return bytes(buf)


def status_data(text: str, protocol: int, players_max: int = 0) -> dict[str, Any]:
    """The status JSON: ``protocol`` is the client's own, so it shows the MOTD rather than
    "incompatible version"; nobody is online on a server the router answers for."""
    return {
        "version": {"name": VERSION_NAME, "protocol": protocol},
        "players": {"max": players_max, "online": 0},
        "description": {"text": text},
    }


def status_response(text: str, protocol: int, players_max: int = 0) -> bytes:
    return framed(StatusResponse(status_data(text, protocol, players_max)))


def pong(payload: int) -> bytes:
    return framed(PingPong(payload))


def login_disconnect(reason: str) -> bytes:
    # Still JSON text in the login state (1.20.3 moved only the play state's reasons to NBT).
    return framed(LoginDisconnect(ChatMessage({"text": reason})))


@dataclass(frozen=True)
class StatusPacket:
    ping: bool  # False: the status request
    payload: int = 0


def status_packet(body: bytes) -> StatusPacket:
    """A client's packet in the status state (id and body, unframed)."""
    buf = buffer(body)
    try:
        packet_id = buf.read_varint()
        if packet_id == STATUS_REQUEST_ID:
            return StatusPacket(ping=False)
        if packet_id == PING_ID:
            return StatusPacket(ping=True, payload=PingPong.deserialize(buf).payload)
    except OSError as exc:
        raise HandshakeError("malformed", f"a bad status packet ({exc})") from exc
    raise HandshakeError("malformed", f"packet 0x{packet_id:02x} in the status state")
