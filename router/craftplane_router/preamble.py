"""The first bytes of a connection (pure): a PROXY header when the peer is a trusted load
balancer, then the handshake; what the router must replay to the server comes with them."""

from __future__ import annotations

from dataclasses import dataclass

from craftplane_router import handshake, proxy_header
from craftplane_router.handshake import Handshake
from craftplane_router.proxy_header import Peer


@dataclass(frozen=True)
class Preamble:
    peer: Peer  # the real client (from a trusted PROXY header, else the socket's peer)
    handshake: Handshake
    replay: bytes  # the handshake and every byte received after it, for the server

    @property
    def after(self) -> bytes:
        """What the client sent after the handshake (a status request, a login start)."""
        return self.replay[self.handshake.size :]


def parse(data: bytes | bytearray, socket_peer: Peer, *, trusted: bool) -> Preamble | None:
    """The preamble ``data`` starts with; None while more bytes are needed. HandshakeError
    when it cannot be one (a PROXY header from an untrusted peer is a malformed handshake)."""
    peer, start = socket_peer, 0
    if trusted:
        header = proxy_header.parse(data, socket_peer)
        if header is None:
            return None
        peer, start = header
    found = handshake.parse(data[start:])
    if found is None:
        return None
    return Preamble(peer, found, bytes(data[start:]))


# A PROXY header and a handshake, each at its bound: a preamble longer than this cannot be
# whole and valid, so reading stops there.
MAX_PREAMBLE = proxy_header.MAX_HEADER + handshake.MAX_HANDSHAKE
