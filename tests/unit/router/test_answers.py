"""The router's own packets, decoded back with mcproto as a client would."""

from __future__ import annotations

import pytest
from mcproto.packets.interactions import sync_read_packet
from mcproto.packets.login.login import LoginDisconnect
from mcproto.packets.packet import GameState, PacketDirection
from mcproto.packets.packet_map import generate_packet_map
from mcproto.packets.status.ping import PingPong
from mcproto.packets.status.status import StatusResponse

from craftplane_router import answers
from craftplane_router.handshake import HandshakeError, buffer

pytestmark = pytest.mark.unit

STATUS_MAP = generate_packet_map(PacketDirection.CLIENTBOUND, GameState.STATUS)
LOGIN_MAP = generate_packet_map(PacketDirection.CLIENTBOUND, GameState.LOGIN)


def test_a_status_answer_shows_the_motd_as_a_compatible_server() -> None:
    data = answers.status_response("§cNo server at x.example.com", 769, players_max=20)
    packet = sync_read_packet(buffer(data), STATUS_MAP)
    assert isinstance(packet, StatusResponse)
    assert packet.data == {
        "version": {"name": "Craftplane", "protocol": 769},
        "players": {"max": 20, "online": 0},
        "description": {"text": "§cNo server at x.example.com"},
    }


def test_the_pong_echoes_the_payload() -> None:
    packet = sync_read_packet(buffer(answers.pong(-(2**63))), STATUS_MAP)
    assert isinstance(packet, PingPong) and packet.payload == -(2**63)


def test_a_login_refusal_is_a_disconnect_with_a_chat_reason() -> None:
    packet = sync_read_packet(buffer(answers.login_disconnect("survival is stopped")), LOGIN_MAP)
    assert isinstance(packet, LoginDisconnect)
    assert packet.reason.as_dict() == {"text": "survival is stopped"}


def test_the_client_status_packets_are_read() -> None:
    assert answers.status_packet(b"\x00") == answers.StatusPacket(ping=False)
    ping = answers.status_packet(b"\x01" + (1234).to_bytes(8, "big", signed=True))
    assert ping == answers.StatusPacket(ping=True, payload=1234)


@pytest.mark.parametrize("body", [b"\x02", b"\x01\x00\x01", b"\x80"])
def test_anything_else_in_the_status_state_is_malformed(body: bytes) -> None:
    with pytest.raises(HandshakeError, match="malformed"):
        answers.status_packet(body)
