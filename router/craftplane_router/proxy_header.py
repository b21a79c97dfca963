"""PROXY protocol v2 (pure), through the ``proxy-protocol`` package: the header a load balancer
in front may send (trusted only from the networks ``accept_proxy_from`` names), and the header
the router sends a server that asked for one (``spec.service.proxyProtocol``).

Trust is by the connecting peer's address, never by what the bytes claim: anyone can write a
PROXY header, and one honoured from anywhere would let a player choose the address the server
bans, allowlists and logs. From a peer outside those networks a PROXY header is not a
handshake, and is refused like any other malformed one.
"""

from __future__ import annotations

import socket
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address, ip_network
from typing import Final

from proxyprotocol import ProxyProtocolIncompleteError
from proxyprotocol.result import ProxyResult, ProxyResultIPv4, ProxyResultIPv6
from proxyprotocol.v2 import ProxyProtocolV2

from craftplane_router.handshake import HandshakeError

IPAddress = IPv4Address | IPv6Address
Network = IPv4Network | IPv6Network
Endpoint = tuple[IPAddress, int]

SIGNATURE: Final = b"\r\n\r\n\x00\r\nQUIT\n"
# 16 fixed bytes and the addresses (36 for IPv6) with a few TLVs a cloud balancer adds (an
# AWS VPC endpoint id, a CRC); a header longer than this is refused, not buffered.
MAX_HEADER: Final = 512
_V2: Final = ProxyProtocolV2()


@dataclass(frozen=True)
class Peer:
    """The real client and the address it connected to."""

    source: Endpoint
    dest: Endpoint


def endpoint(sockaddr: Sequence[object]) -> Endpoint:
    """A socket address tuple (``getpeername()``: host, port[, flow, scope]) as an Endpoint."""
    host, port = sockaddr[0], sockaddr[1]
    assert isinstance(host, str) and isinstance(port, int)
    return ip_address(host.split("%", 1)[0]), port


def networks(cidrs: Iterable[str]) -> list[Network]:
    """The trusted networks; ValueError naming the first that is not a CIDR."""
    return [ip_network(cidr.strip(), strict=False) for cidr in cidrs if cidr.strip()]


def trusted(address: IPAddress, allowed: Sequence[Network]) -> bool:
    mapped = address.ipv4_mapped if isinstance(address, IPv6Address) else None
    return any(address in net or (mapped is not None and mapped in net) for net in allowed)


def parse(data: bytes | bytearray, fallback: Peer) -> tuple[Peer, int] | None:
    """(the peer the header names, the header's length) when ``data`` starts with a whole v2
    header; None while it may but is not whole yet; ``(fallback, 0)`` when it starts with no
    header (a trusted peer may connect directly), and ``fallback`` too for a LOCAL header (the
    balancer's own health check) or one naming no internet addresses. HandshakeError for a
    header that is not valid. A handshake cannot start with the signature (its second byte
    would be packet id 0x0a), so a header is told apart from a handshake by its first bytes."""
    head = bytes(data[: len(SIGNATURE)])
    if not SIGNATURE.startswith(head):
        return fallback, 0
    if len(data) < 16:
        return None
    length = 16 + int.from_bytes(data[14:16], "big")
    if length > MAX_HEADER:
        raise HandshakeError("proxy_header", f"a PROXY header of {length} bytes")
    try:
        result = _V2.unpack(bytes(data[:length]))
    except ProxyProtocolIncompleteError:
        return None
    except ValueError as exc:  # the package's syntax and checksum errors are ValueErrors
        raise HandshakeError("proxy_header", f"a bad PROXY header ({exc!r})") from exc
    return _peer_of(result, fallback), length


def _peer_of(result: ProxyResult, fallback: Peer) -> Peer:
    if isinstance(result, ProxyResultIPv4 | ProxyResultIPv6):
        return Peer(result.source, result.dest)
    return fallback


def _as_v6(address: IPAddress) -> IPv6Address:
    return address if isinstance(address, IPv6Address) else IPv6Address(f"::ffff:{address}")


def build(peer: Peer) -> bytes:
    """The v2 header telling a server who its client is (TCP, IPv4 or IPv6; a mixed pair is
    sent as IPv6 with the IPv4 address mapped, which the header cannot otherwise carry)."""
    (src, src_port), (dst, dst_port) = peer.source, peer.dest
    result: ProxyResult
    if isinstance(src, IPv4Address) and isinstance(dst, IPv4Address):
        result = ProxyResultIPv4((src, src_port), (dst, dst_port), protocol=socket.SOCK_STREAM)
    else:
        result = ProxyResultIPv6(
            (_as_v6(src), src_port), (_as_v6(dst), dst_port), protocol=socket.SOCK_STREAM
        )
    return _V2.pack(result)
