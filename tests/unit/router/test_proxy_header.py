"""PROXY protocol v2: the header built for a server, parsed back; who may send one."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv6Address, ip_address

import pytest
from proxyprotocol.result import ProxyResultIPv4, ProxyResultIPv6
from proxyprotocol.v2 import ProxyProtocolV2

from craftplane_router import preamble, proxy_header
from craftplane_router.handshake import HandshakeError, encode
from craftplane_router.proxy_header import Peer

pytestmark = pytest.mark.unit

V4 = Peer((IPv4Address("203.0.113.7"), 51234), (IPv4Address("10.0.0.5"), 25565))
V6 = Peer((IPv6Address("2001:db8::7"), 51234), (IPv6Address("2001:db8::1"), 25565))
SOCKET = Peer((IPv4Address("10.1.2.3"), 40000), (IPv4Address("10.0.0.5"), 25565))


@pytest.mark.parametrize("peer", [V4, V6])
def test_the_header_round_trips(peer: Peer) -> None:
    header = proxy_header.build(peer)
    assert header.startswith(proxy_header.SIGNATURE)
    assert proxy_header.parse(header + b"rest", SOCKET) == (peer, len(header))


def test_the_header_is_read_by_the_library_as_a_server_would() -> None:
    result = ProxyProtocolV2().unpack(proxy_header.build(V4))
    assert isinstance(result, ProxyResultIPv4)
    assert result.source == V4.source and result.dest == V4.dest


def test_a_mixed_pair_is_sent_as_mapped_ipv6() -> None:
    mixed = Peer(V4.source, V6.dest)
    result = ProxyProtocolV2().unpack(proxy_header.build(mixed))
    assert isinstance(result, ProxyResultIPv6)
    assert result.source == (IPv6Address("::ffff:203.0.113.7"), 51234)


@pytest.mark.parametrize("cut", [1, 12, 15, 16, 20])
def test_a_partial_header_waits(cut: int) -> None:
    assert proxy_header.parse(proxy_header.build(V4)[:cut], SOCKET) is None


def test_no_header_from_a_trusted_peer_is_a_direct_connection() -> None:
    assert proxy_header.parse(encode(769, "a.b", 1, 2), SOCKET) == (SOCKET, 0)


def test_a_local_header_is_the_balancers_own_connection() -> None:
    local = proxy_header.SIGNATURE + b"\x20\x00\x00\x00"
    assert proxy_header.parse(local, SOCKET) == (SOCKET, 16)


@pytest.mark.parametrize(
    "header",
    [
        proxy_header.SIGNATURE + b"\x31\x11\x00\x0c" + bytes(12),  # version 3
        proxy_header.SIGNATURE + b"\x2f\x11\x00\x0c" + bytes(12),  # command 15
        proxy_header.SIGNATURE + b"\x21\x11\x02\x00" + bytes(512),  # too long to buffer
    ],
)
def test_a_bad_header_is_refused(header: bytes) -> None:
    with pytest.raises(HandshakeError) as refused:
        proxy_header.parse(header, SOCKET)
    assert refused.value.reason == "proxy_header"


@pytest.mark.parametrize(
    ("address", "cidrs", "trusted"),
    [
        ("10.1.2.3", [], False),
        ("10.1.2.3", ["10.0.0.0/8"], True),
        ("11.1.2.3", ["10.0.0.0/8"], False),
        ("::ffff:10.1.2.3", ["10.0.0.0/8"], True),
        ("2001:db8::7", ["2001:db8::/32", "10.0.0.0/8"], True),
        ("2001:db9::7", ["2001:db8::/32"], False),
        ("192.168.1.1", ["192.168.1.1/32"], True),
    ],
)
def test_only_peers_inside_the_trusted_networks_may_send_a_header(
    address: str, cidrs: list[str], trusted: bool
) -> None:
    assert proxy_header.trusted(ip_address(address), proxy_header.networks(cidrs)) is trusted


def test_a_network_that_is_not_a_cidr_is_refused() -> None:
    with pytest.raises(ValueError):
        proxy_header.networks(["10.0.0.0/33"])


def test_a_trusted_header_names_the_client_and_is_not_replayed() -> None:
    hello = encode(769, "a.example.com", 25565, 2)
    found = preamble.parse(proxy_header.build(V4) + hello + b"more", SOCKET, trusted=True)
    assert found is not None
    assert found.peer == V4 and found.replay == hello + b"more" and found.after == b"more"


def test_an_untrusted_header_is_a_malformed_handshake() -> None:
    data = proxy_header.build(V4) + encode(769, "a.example.com", 25565, 2)
    with pytest.raises(HandshakeError) as refused:
        preamble.parse(data, SOCKET, trusted=False)
    assert refused.value.reason == "malformed"


def test_an_untrusted_peer_is_itself() -> None:
    hello = encode(769, "a.example.com", 25565, 1)
    found = preamble.parse(hello, SOCKET, trusted=False)
    assert found is not None and found.peer == SOCKET and found.replay == hello
    assert preamble.parse(hello[:3], SOCKET, trusted=True) is None


def test_endpoints_from_socket_addresses() -> None:
    assert proxy_header.endpoint(("10.0.0.1", 5)) == (IPv4Address("10.0.0.1"), 5)
    assert proxy_header.endpoint(("fe80::1%eth0", 5, 0, 2)) == (IPv6Address("fe80::1"), 5)
