"""The WebSocket handler reads and answers with the frame models (no database, no NATS)."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.routing import WebSocketRoute
from starlette.testclient import TestClient

from craftplane import tokens
from craftplane_gateway import ws_frames
from craftplane_gateway.db.revocations import DenyList
from craftplane_gateway.hub import Hub
from craftplane_gateway.revocations import Revocations
from craftplane_gateway.routes import ws
from craftplane_gateway.tenants import TenantNamespaces
from tests.unit.gateway.fakes import FakeNamespaces

pytestmark = pytest.mark.unit

KEY = "k" * 48
TENANT = "acme"
FRAME_CAP = 64 * 1024


class NoRows:
    """A pool whose every query finds nothing: an empty projection."""

    @contextlib.asynccontextmanager
    async def acquire(self, **_: Any) -> AsyncIterator[NoRows]:
        yield self

    async def fetch(self, *_: Any) -> list[Any]:
        return []


@pytest.fixture
def gw() -> SimpleNamespace:
    return _gateway()


@pytest.fixture
def client(gw: SimpleNamespace) -> Iterator[TestClient]:
    yield from _client(gw)


def _gateway() -> SimpleNamespace:
    revocations = Revocations(lambda: None)
    revocations.install(DenyList())
    return SimpleNamespace(
        settings=SimpleNamespace(
            token_key=KEY,
            allowed_origins=[],
            metrics_frame_seconds=3600,
            ws_max_frame_bytes=FRAME_CAP,
            token_max_lifetime=tokens.MAX_LIFETIME,
        ),
        db=SimpleNamespace(get=lambda: NoRows()),
        hub=Hub(16),
        revocations=revocations,
        tenants=TenantNamespaces(FakeNamespaces().tenant(TENANT)),  # type: ignore[arg-type]
    )


def _client(gw: SimpleNamespace) -> Iterator[TestClient]:

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[dict[str, Any]]:
        yield {"gw": gw}

    app = Starlette(routes=[WebSocketRoute("/ws", ws.endpoint)], lifespan=lifespan)
    with TestClient(app) as test_client:
        yield test_client


def _session(client: TestClient) -> Any:
    return client.websocket_connect("/ws")


def _ready(socket: Any) -> None:
    socket.send_text(ws_frames.frame_json(ws_frames.AuthFrame(token=tokens.mint(TENANT, KEY))))
    assert socket.receive_json() == {"type": "ready", "tenant": TENANT}


def test_auth_subscribe_and_snapshot(client: TestClient) -> None:
    with _session(client) as socket:
        _ready(socket)
        socket.send_text('{"type": "subscribe", "servers": "all"}')
        snapshot = socket.receive_json()
        assert snapshot == {"type": "snapshot", "servers": []}
        assert isinstance(ws_frames.SERVER_FRAME.validate_python(snapshot), ws_frames.SnapshotFrame)


def test_the_pong_echoes_the_ping_id(client: TestClient) -> None:
    with _session(client) as socket:
        _ready(socket)
        socket.send_text('{"type": "ping", "id": "7"}')
        assert socket.receive_json() == {"type": "pong", "id": "7"}
        socket.send_text('{"type": "ping"}')
        assert socket.receive_text() == '{"type":"pong"}'  # as before ids existed


def test_the_subscribe_cap(client: TestClient) -> None:
    too_many = [f"s{i}" for i in range(ws_frames.MAX_SUBSCRIBED_SERVERS + 1)]
    with _session(client) as socket:
        _ready(socket)
        socket.send_text(json.dumps({"type": "subscribe", "servers": too_many}))
        refused = socket.receive_json()
        assert refused["type"] == "error" and refused["code"] == "bad_request"
        assert str(ws_frames.MAX_SUBSCRIBED_SERVERS) in refused["message"]
        # At the cap it is a subscription (to servers this tenant does not have).
        socket.send_text(json.dumps({"type": "subscribe", "servers": too_many[:-1]}))
        assert socket.receive_json()["code"] == "not_found"
        # null still means every server.
        socket.send_text('{"type": "subscribe", "servers": null}')
        assert socket.receive_json()["type"] == "snapshot"


@pytest.mark.parametrize(
    ("text", "code", "message"),
    [
        ("not json", "bad_frame", "not JSON"),
        ("[1, 2]", "bad_frame", "not JSON"),
        ('{"type": "nope"}', "bad_frame", "unknown frame type 'nope'"),
        ('{"type": "auth", "token": "again"}', "bad_frame", "unknown frame type 'auth'"),
        ('{"type": "subscribe", "servers": "some"}', "bad_request", "servers must be"),
        ('{"type": "ping", "id": "' + "x" * 65 + '"}', "bad_frame", "ping frame: id"),
    ],
)
def test_refused_frames_leave_the_socket_open(
    client: TestClient, text: str, code: str, message: str
) -> None:
    with _session(client) as socket:
        _ready(socket)
        socket.send_text(text)
        refused = socket.receive_json()
        assert isinstance(ws_frames.SERVER_FRAME.validate_python(refused), ws_frames.ErrorFrame)
        assert refused["code"] == code and refused["message"].startswith(message), refused
        socket.send_text('{"type": "ping", "id": "still-open"}')
        assert socket.receive_json() == {"type": "pong", "id": "still-open"}


def test_a_bad_token_is_refused_with_an_error_frame(client: TestClient) -> None:
    with _session(client) as socket:
        socket.send_text('{"type": "auth", "token": "not-a-token"}')
        refused = socket.receive_json()
        assert (refused["type"], refused["code"]) == ("error", "unauthorized")
        closed = socket.receive()
        assert closed["type"] == "websocket.close" and closed["code"] == ws.POLICY_VIOLATION


def test_no_auth_frame_closes_with_4001(client: TestClient) -> None:
    with _session(client) as socket:
        socket.send_text('{"type": "subscribe"}')
        closed = socket.receive()
        assert closed["type"] == "websocket.close" and closed["code"] == ws.AUTH_MISSING


def test_a_frame_over_the_cap_closes_with_1009(client: TestClient) -> None:
    with _session(client) as socket:
        _ready(socket)
        socket.send_text('{"type": "ping", "id": "' + "x" * FRAME_CAP + '"}')
        closed = socket.receive()
        assert closed["type"] == "websocket.close" and closed["code"] == 1009
        assert str(FRAME_CAP) in closed["reason"]


def test_deep_json_and_long_types_get_short_errors(client: TestClient) -> None:
    with _session(client) as socket:
        _ready(socket)
        socket.send_text("[" * 5000 + "]" * 5000)
        assert "64" in socket.receive_json()["message"]
        socket.send_text(json.dumps({"type": "x" * 60_000}))
        assert len(socket.receive_text()) < 200
        names = [f"n{i}" for i in range(ws_frames.MAX_SUBSCRIBED_SERVERS)]
        socket.send_text(json.dumps({"type": "subscribe", "servers": names}))
        refused = socket.receive_text()
        assert len(refused) < 400 and "more" in refused


def test_a_revoked_token_closes_the_socket_with_4001(
    client: TestClient, gw: SimpleNamespace
) -> None:
    with _session(client) as socket:
        _ready(socket)
        gw.revocations.install(DenyList(frozenset(), {TENANT: datetime.now(UTC) + timedelta(1)}))
        closed = socket.receive()
        assert closed["code"] == ws.AUTH_MISSING and closed["reason"] == "token revoked"


def test_an_expired_token_closes_the_socket_with_4001(client: TestClient) -> None:
    with _session(client) as socket:
        token = tokens.mint(TENANT, KEY, ttl=timedelta(seconds=1))
        socket.send_text(ws_frames.frame_json(ws_frames.AuthFrame(token=token)))
        assert socket.receive_json()["type"] == "ready"
        closed = socket.receive()
        assert closed["code"] == ws.AUTH_MISSING and closed["reason"] == "token expired"
