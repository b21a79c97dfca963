"""A hostile tenant against the running gateway: oversized and deeply nested bodies, NUL
cursors, huge WebSocket frames, expired and revoked tokens (not run in the unit suite)."""

from __future__ import annotations

import asyncio
import base64
import json
import secrets
from datetime import timedelta

import httpx
import pytest
import websockets

from craftplane import tokens
from craftplane.clock import utcnow
from craftplane.testing.processes import ManagedProcess
from craftplane.testing.wait import async_wait_for
from craftplane_gateway.db import revocations
from tests.gateway.conftest import Tenant, connect_ws

pytestmark = pytest.mark.cluster

PROBLEM = "application/problem+json"


async def _closed_with(client: object, timeout: float) -> websockets.ConnectionClosed:
    conn = client.conn  # type: ignore[attr-defined]
    try:
        async with asyncio.timeout(timeout):
            while True:
                await conn.recv()
    except websockets.ConnectionClosed as closed:
        return closed
    raise AssertionError("the socket stayed open")


async def test_a_body_over_a_mebibyte_is_413(http: httpx.AsyncClient, tenant_a: Tenant) -> None:
    big = json.dumps({"name": "big", "spec": {"motd": "x" * (2 * 1024 * 1024)}})
    answer = await http.post(
        "/api/v1/servers",
        headers={**tenant_a.headers, "content-type": "application/json"},
        content=big,
    )
    assert answer.status_code == 413
    assert answer.headers["content-type"].startswith(PROBLEM)


async def test_a_chunked_body_over_the_limit_is_413(
    http: httpx.AsyncClient, tenant_a: Tenant
) -> None:
    async def chunks():  # type: ignore[no-untyped-def]
        for _ in range(64):
            yield b" " * 65536

    answer = await http.post(
        "/api/v1/servers",
        headers={**tenant_a.headers, "content-type": "application/json"},
        content=chunks(),
    )
    assert answer.status_code == 413


async def test_json_nested_1000_deep_is_400(http: httpx.AsyncClient, tenant_a: Tenant) -> None:
    answer = await http.post(
        "/api/v1/servers",
        headers={**tenant_a.headers, "content-type": "application/json"},
        content="[" * 1000 + "]" * 1000,
    )
    assert answer.status_code == 400
    assert "errors" not in answer.json()


@pytest.mark.parametrize(
    ("path", "param"),
    [
        ("/api/v1/servers?cursor=%00", "cursor"),
        (
            "/api/v1/servers?cursor="
            + base64.urlsafe_b64encode(json.dumps(["a", "b\x00", "c"]).encode()).decode(),
            "cursor",
        ),
        ("/api/v1/servers?limit=99999999999999999999999", "limit"),
        ("/api/v1/servers?status=%00", "status"),
    ],
)
async def test_hostile_list_parameters_are_400(
    http: httpx.AsyncClient, tenant_a: Tenant, path: str, param: str
) -> None:
    answer = await http.get(path, headers=tenant_a.headers)
    assert answer.status_code == 400, answer.text
    assert answer.json()["errors"][0]["field"] == param


@pytest.mark.parametrize("before", ["9223372036854775808", "-1", "%00", "1" * 400])
async def test_an_out_of_range_before_is_400(
    http: httpx.AsyncClient, tenant_a: Tenant, before: str
) -> None:
    # The cursor is checked before the server is looked up: no server needs to exist.
    answer = await http.get(f"/api/v1/servers/ev/events?before={before}", headers=tenant_a.headers)
    assert answer.status_code == 400, answer.text
    assert answer.json()["errors"][0]["field"] == "before"


async def test_a_websocket_frame_over_64_kib_closes_1009(
    gateway: ManagedProcess, tenant_a: Tenant
) -> None:
    ws = await connect_ws(gateway.http_port, tenant_a.token)
    await ws.next()  # snapshot
    await ws.conn.send(json.dumps({"type": "ping", "id": "x" * (128 * 1024)}))
    closed = await _closed_with(ws, 10)
    assert closed.rcvd is not None and closed.rcvd.code == 1009


async def test_an_expired_token_closes_the_socket_4001(
    gateway: ManagedProcess, tenant_a: Tenant, token_key: str
) -> None:
    short = tokens.mint(tenant_a.name, token_key, ttl=timedelta(seconds=3))
    ws = await connect_ws(gateway.http_port, short)
    closed = await _closed_with(ws, 10)
    assert closed.rcvd is not None and closed.rcvd.code == 4001


async def test_a_token_living_a_century_is_refused(
    http: httpx.AsyncClient, tenant_a: Tenant, token_key: str
) -> None:
    import jwt

    now = int(utcnow().timestamp())
    claims = {
        "sub": tenant_a.name, "tenant": tenant_a.name, "iat": now, "nbf": now,
        "exp": now + 100 * 365 * 86400, "iss": tokens.ISSUER, "aud": tokens.AUDIENCE,
        "jti": secrets.token_urlsafe(8),
    }  # fmt: skip
    token = jwt.encode(claims, token_key, algorithm="HS256")
    answer = await http.get("/api/v1/servers", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 401


async def test_a_revoked_token_is_refused_on_rest_and_closes_its_socket(
    http: httpx.AsyncClient,
    gateway: ManagedProcess,
    gateway_db: str,
    token_key: str,
    tenant_a: Tenant,
) -> None:
    token = tokens.mint(tenant_a.name, token_key)
    headers = {"Authorization": f"Bearer {token}"}
    assert (await http.get("/api/v1/servers", headers=headers)).status_code == 200
    ws = await connect_ws(gateway.http_port, token)
    await ws.next()  # snapshot
    jti = tokens.verify(token, token_key).token_id
    await revocations.revoke_with_dsn(gateway_db, tenant_a.name, jti=jti)
    closed = await _closed_with(ws, 10)
    assert closed.rcvd is not None and closed.rcvd.code == 4001
    assert (await http.get("/api/v1/servers", headers=headers)).status_code == 401
    fresh = tokens.mint(tenant_a.name, token_key)
    answer = await http.get("/api/v1/servers", headers={"Authorization": f"Bearer {fresh}"})
    assert answer.status_code == 200
    # A new socket with the revoked token gets the reason instead of "ready".
    with pytest.raises(AssertionError, match="token revoked"):
        await connect_ws(gateway.http_port, token)


async def test_revoking_all_before_now_refuses_older_tokens(
    http: httpx.AsyncClient, gateway_db: str, token_key: str, tenant_b: Tenant
) -> None:
    older = tokens.mint(tenant_b.name, token_key, now=utcnow() - timedelta(minutes=1))
    await revocations.revoke_with_dsn(gateway_db, tenant_b.name, before=utcnow())

    async def refused() -> bool | None:
        headers = {"Authorization": f"Bearer {older}"}
        answer = await http.get("/api/v1/servers", headers=headers)
        return True if answer.status_code == 401 else None

    # Within a refresh of the deny list (every 2 s).
    await async_wait_for(refused, timeout=15, what="the older token refused")


async def test_writes_are_rate_limited_per_subject(
    http: httpx.AsyncClient, tenant_a: Tenant
) -> None:
    answers = [
        await http.post("/api/v1/servers/nope/stop", headers=tenant_a.headers) for _ in range(40)
    ]
    limited = [a for a in answers if a.status_code == 429]
    assert limited and int(limited[0].headers["retry-after"]) >= 1
