"""The Login Start packet (pure): the player's name, the first field of the packet a client
sends after a login handshake, read with ``mcproto``'s framing and string encoding.

Only the name is read: what follows it changed across versions (a signature in 1.19, a UUID
since), and a woken server reads the whole packet itself once the login is forwarded.
"""

from __future__ import annotations

from typing import Final

from craftplane.contracts.hibernation import player_name
from craftplane_router.handshake import HandshakeError, buffer, next_frame

LOGIN_START_ID: Final = 0x00
# 1.19's Login Start carries a public key and its signature after the name: under 1 KiB.
MAX_LOGIN_START: Final = 4096


def player(data: bytes | bytearray) -> str | None:
    """The (sanitised) player name of the Login Start ``data`` starts with; None while it is
    incomplete. HandshakeError when it is not a Login Start."""
    frame = next_frame(data, limit=MAX_LOGIN_START)
    if frame is None:
        return None
    packet, _ = frame
    buf = buffer(packet)
    try:
        packet_id = buf.read_varint()
        if packet_id != LOGIN_START_ID:
            raise HandshakeError("malformed", f"packet 0x{packet_id:02x} is not a Login Start")
        name = buf.read_utf()
    except (OSError, ValueError) as exc:
        raise HandshakeError("malformed", f"a truncated Login Start ({exc})") from exc
    return player_name(name)


def encode(name: str, uuid: bytes = bytes(16)) -> bytes:
    """A framed 1.20.2+ Login Start (what a client sends; the tests use it)."""
    body = buffer()
    body.write_varint(LOGIN_START_ID)
    body.write_utf(name)
    body.write(uuid)
    framed = buffer()
    framed.write_bytearray(body)
    return bytes(framed)
