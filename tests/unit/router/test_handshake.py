"""The handshake read from the first bytes: complete, incomplete, and what is refused."""

from __future__ import annotations

import pytest

from craftplane_router import handshake
from craftplane_router.handshake import Handshake, HandshakeError, NextState, encode

pytestmark = pytest.mark.unit

GOOD = encode(769, "Play.Example.COM.", 25565, 2)


def _frame(body: bytes) -> bytes:
    assert len(body) < 128
    return bytes([len(body)]) + body


@pytest.mark.parametrize(
    ("data", "protocol", "address", "key", "state"),
    [
        (GOOD, 769, "Play.Example.COM.", "play.example.com", NextState.LOGIN),
        (
            encode(47, "mc.example.org", 25565, 1),
            47,
            "mc.example.org",
            "mc.example.org",
            NextState.STATUS,
        ),
        (
            encode(340, "mc.example.org\0FML\0", 25565, 2),
            340,
            "mc.example.org\0FML\0",
            "mc.example.org",
            NextState.LOGIN,
        ),
        (
            encode(766, "mc.example.org\0FML3\0", 25565, 3),
            766,
            "mc.example.org\0FML3\0",
            "mc.example.org",
            NextState.TRANSFER,
        ),
        # Whatever the client sent after it does not change the handshake.
        (GOOD + b"\x05\x00rest", 769, "Play.Example.COM.", "play.example.com", NextState.LOGIN),
    ],
)
def test_a_handshake_is_read_with_its_routing_key(
    data: bytes, protocol: int, address: str, key: str, state: NextState
) -> None:
    found = handshake.parse(data)
    assert found is not None
    assert (found.protocol, found.address, found.key, found.next_state) == (
        protocol,
        address,
        key,
        state,
    )
    assert found.port == 25565
    assert data[: found.size] == data[: len(encode(protocol, address, 25565, state))]


def test_sizes_and_login_flag() -> None:
    found = handshake.parse(GOOD)
    assert found == Handshake(769, "Play.Example.COM.", 25565, NextState.LOGIN, len(GOOD))
    assert found.login
    status = handshake.parse(encode(769, "a.b", 1, 1))
    assert status is not None and not status.login


@pytest.mark.parametrize("cut", [0, 1, 2, 5, len(GOOD) - 1])
def test_a_truncated_handshake_waits_for_more(cut: int) -> None:
    assert handshake.parse(GOOD[:cut]) is None


def test_a_254_byte_handshake_is_not_taken_for_a_legacy_ping() -> None:
    # Its length prefix is 0xFE 0x01, the legacy ping's first two bytes.
    data = encode(769, "a" * 246, 25565, 2)
    assert data[:3] == b"\xfe\x01\x00"
    found = handshake.parse(data)
    assert found is not None and found.address == "a" * 246
    assert handshake.parse(b"\xfe\x01") is None  # a 1.4 ping or a packet's start: wait


def test_a_long_length_prefix_waits_until_it_is_five_bytes() -> None:
    assert handshake.parse(b"\x80\x80\x80\x80") is None


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"\x80\x80\x80\x80\x80\x01", "malformed"),  # a varint longer than 5 bytes
        (b"\xff\xff\xff\xff\x7f", "malformed"),  # 2^35-1: beyond a 32-bit varint
        (b"\xff\xff\xff\xff\x07", "oversize"),  # 2^31-1: a varint, beyond any packet
        (b"\x00", "malformed"),  # an empty packet
        (b"\xfe\x01\xfa", "legacy"),  # the pre-1.7 server list ping
        (b"\x81\x08" + bytes(1025), "oversize"),  # 1025 bytes
        (_frame(b"\x01\x00"), "malformed"),  # packet 1, not a handshake
        (_frame(b"\x00\x80\x80\x80\x80\x80\x01"), "malformed"),  # a bad protocol varint
        (_frame(b"\x00\x01\x10ab\x63\xdd\x02"), "malformed"),  # address longer than the packet
        (_frame(b"\x00\x01\x03abc\x63\xdd"), "malformed"),  # no next state
        (_frame(b"\x00\x01\x03abc\x63\xdd\x04"), "malformed"),  # next state 4
        (_frame(b"\x00\x01\x03abc\x63\xdd\x02\x00"), "malformed"),  # a byte too many
        (b"\r\n\r\n\x00\r\nQUIT\n\x21\x11\x00\x0c", "malformed"),  # a PROXY v2 header
        (b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n".ljust(81, b"x"), "malformed"),  # PROXY v1
    ],
)
def test_what_cannot_be_a_handshake_is_refused_with_a_reason(data: bytes, reason: str) -> None:
    with pytest.raises(HandshakeError) as refused:
        handshake.parse(data)
    assert refused.value.reason == reason


def test_a_handshake_of_exactly_the_bound_is_read() -> None:
    # 1024 bytes framed: a 2-byte prefix and 1022 bytes of packet, the address filling it.
    address = "a" * (1022 - 1 - 1 - 2 - 2 - 1)
    data = encode(1, address, 1, 2)
    assert len(data) == handshake.MAX_HANDSHAKE
    found = handshake.parse(data)
    assert found is not None and found.address == address
    with pytest.raises(HandshakeError, match="oversize"):
        handshake.parse(encode(1, address + "a", 1, 2))
