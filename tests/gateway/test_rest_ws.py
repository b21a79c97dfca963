"""The gateway's REST and WebSocket APIs over the real platform (operator, NATS, PostgreSQL)."""

from __future__ import annotations

import base64
import json
import time

import httpx
import pytest

from craftplane import tokens
from craftplane.testing.kubectl import Kubectl
from craftplane.testing.processes import ManagedProcess
from craftplane.testing.wait import async_wait_for
from tests.gateway.conftest import Tenant, connect_ws, status_of
from tests.operator.conftest import server_manifest

pytestmark = pytest.mark.cluster


async def test_create_flows_to_websocket_and_rest(
    http: httpx.AsyncClient, gateway: ManagedProcess, tenant_a: Tenant, kubectl: Kubectl
) -> None:
    ws = await connect_ws(gateway.http_port, tenant_a.token)
    try:
        snapshot = await ws.next()
        assert snapshot["type"] == "snapshot" and snapshot["servers"] == []
        created = await http.post(
            "/api/v1/servers",
            headers=tenant_a.headers,
            json={"name": "alpha", "spec": {"eula": True, "type": "PAPER", "version": "1.21.4"}},
        )
        assert created.status_code == 202, created.text
        assert created.headers["location"] == "/api/v1/servers/alpha"
        cr = kubectl.get("minecraftserver", "alpha", tenant_a.namespace)
        assert cr is not None and cr["spec"]["type"] == "PAPER"

        deploying = await ws.until(lambda f: status_of(f, "alpha") == "deploying")
        running = await ws.until(lambda f: status_of(f, "alpha") == "running")
        assert deploying["type"] == running["type"] == "event"
        assert running["server"]["address"] and running["server"]["port"]
        assert running["server"]["reach"] in ("router", "cluster")
    finally:
        await ws.conn.close()

    async def projected() -> dict | None:
        resp = await http.get("/api/v1/servers/alpha", headers=tenant_a.headers)
        body = resp.json()
        return body if resp.status_code == 200 and body["status"] == "running" else None

    body = await async_wait_for(projected, timeout=60, what="GET shows running")
    assert body["address"] == running["server"]["address"]
    assert body["port"] == running["server"]["port"]
    assert body["reach"] == running["server"]["reach"]
    assert isinstance(body["hostnames"], list)
    assert body["type"] == "PAPER" and body["spec"]["version"] == "1.21.4"
    assert body["createdAt"] and body["updatedAt"]
    events = (await http.get("/api/v1/servers/alpha/events", headers=tenant_a.headers)).json()
    types = [e["type"] for e in events["items"]]
    assert "k8s.running" in types and "server.created" in types

    # stop, start, delete: 202 and the projection follows
    assert (
        await http.post("/api/v1/servers/alpha/stop", headers=tenant_a.headers)
    ).status_code == 202

    async def status_is(wanted: str) -> bool:
        resp = await http.get("/api/v1/servers/alpha", headers=tenant_a.headers)
        return resp.status_code == 200 and resp.json()["status"] == wanted

    await async_wait_for(lambda: status_is("stopped"), timeout=60, what="stopped")
    assert (
        await http.post("/api/v1/servers/alpha/start", headers=tenant_a.headers)
    ).status_code == 202
    await async_wait_for(lambda: status_is("running"), timeout=60, what="running again")
    patched = await http.patch(
        "/api/v1/servers/alpha",
        headers=tenant_a.headers,
        json={"spec": {"properties": {"maxPlayers": 40}}},
    )
    assert patched.status_code == 202, patched.text
    cr = kubectl.get("minecraftserver", "alpha", tenant_a.namespace)
    assert cr is not None and cr["spec"]["properties"]["maxPlayers"] == 40
    assert (await http.delete("/api/v1/servers/alpha", headers=tenant_a.headers)).status_code == 202

    async def gone() -> bool:
        listed = (await http.get("/api/v1/servers", headers=tenant_a.headers)).json()
        return all(item["name"] != "alpha" for item in listed["items"])

    await async_wait_for(gone, timeout=60, what="deleted server leaves the list")


async def test_kubectl_created_server_is_listed_for_its_tenant_only(
    http: httpx.AsyncClient,
    gateway: ManagedProcess,
    tenant_a: Tenant,
    tenant_b: Tenant,
    kubectl: Kubectl,
) -> None:
    kubectl.apply(server_manifest("gitops"), tenant_a.namespace)

    async def listed() -> bool:
        items = (await http.get("/api/v1/servers", headers=tenant_a.headers)).json()["items"]
        return any(item["name"] == "gitops" for item in items)

    await async_wait_for(listed, timeout=60, what="kubectl-created server listed")
    other = (await http.get("/api/v1/servers", headers=tenant_b.headers)).json()["items"]
    assert all(item["name"] != "gitops" for item in other)


async def test_other_tenant_sees_nothing_and_bad_tokens_are_refused(
    http: httpx.AsyncClient,
    gateway: ManagedProcess,
    tenant_a: Tenant,
    tenant_b: Tenant,
    kubectl: Kubectl,
    token_key: str,
) -> None:
    kubectl.apply(server_manifest("private"), tenant_a.namespace)

    async def visible_to_a() -> bool:
        resp = await http.get("/api/v1/servers/private", headers=tenant_a.headers)
        return resp.status_code == 200

    await async_wait_for(visible_to_a, timeout=60, what="server projected")
    b = tenant_b.headers
    absent = await http.get("/api/v1/servers/no-such-server", headers=b)
    for method, path, body in [
        ("GET", "/api/v1/servers/private", None),
        ("PATCH", "/api/v1/servers/private", {"spec": {"stopped": True}}),
        ("DELETE", "/api/v1/servers/private", None),
        ("POST", "/api/v1/servers/private/start", None),
        ("POST", "/api/v1/servers/private/stop", None),
        ("GET", "/api/v1/servers/private/events", None),
    ]:
        resp = await http.request(method, path, headers=b, json=body)
        assert resp.status_code == 404, (method, path, resp.text)
        # Exactly what a server that does not exist answers: nothing leaks.
        assert resp.json()["title"] == absent.json()["title"]
    cr = kubectl.get("minecraftserver", "private", tenant_a.namespace)
    assert cr is not None and not cr["spec"].get("stopped")

    ws = await connect_ws(gateway.http_port, tenant_b.token, servers=["private"])
    try:
        refused = await ws.next()
        assert refused["type"] == "error" and refused["code"] == "not_found"
    finally:
        await ws.conn.close()

    expired = tokens.mint(
        tenant_a.name,
        token_key,
        ttl=__import__("datetime").timedelta(seconds=1),
        now=__import__("datetime").datetime.now(__import__("datetime").UTC)
        - __import__("datetime").timedelta(hours=1),
    )
    header = base64.urlsafe_b64encode(json.dumps({"alg": "none", "typ": "JWT"}).encode()).rstrip(
        b"="
    )
    claims = base64.urlsafe_b64encode(
        json.dumps(
            {
                "sub": tenant_a.name,
                "tenant": tenant_a.name,
                "iss": "craftplane",
                "aud": "craftplane-gateway",
                "exp": int(time.time()) + 3600,
            }
        ).encode()
    ).rstrip(b"=")
    unsigned = f"{header.decode()}.{claims.decode()}."
    wrong_key = tokens.mint(tenant_a.name, tokens.generate_key())
    for token in (expired, unsigned, wrong_key, "garbage"):
        resp = await http.get("/api/v1/servers", headers={"Authorization": f"Bearer {token}"})
        assert resp.status_code == 401, (token[:20], resp.text)
        assert resp.headers["content-type"].startswith("application/problem+json")
    assert (await http.get("/api/v1/servers")).status_code == 401


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "x1", "spec": {"eula": False}}, "spec.eula"),
        ({"name": "x2", "spec": {"eula": True, "type": "NOPE"}}, "spec.type"),
        (
            {"name": "x3", "spec": {"eula": True, "resources": {"memory": "-1Gi"}}},
            "spec.resources.memory",
        ),
        ({"name": "x4", "spec": {"eula": True, "storage": {"size": "big"}}}, "spec.storage.size"),
        (
            {"name": "x5", "spec": {"eula": True, "env": [{"name": "EULA", "value": "no"}]}},
            "spec.env",
        ),
        ({"name": "Not_A_Name", "spec": {"eula": True}}, "name"),
    ],
)
async def test_invalid_bodies_answer_422_with_the_field(
    http: httpx.AsyncClient, tenant_a: Tenant, kubectl: Kubectl, body: dict, field: str
) -> None:
    resp = await http.post("/api/v1/servers", headers=tenant_a.headers, json=body)
    assert resp.status_code == 422, resp.text
    problem = resp.json()
    assert any(e["field"].startswith(field) for e in problem["errors"]), problem
    assert kubectl.json("get", "minecraftservers", "-n", tenant_a.namespace)["items"] == []


async def test_name_taken_is_409(http: httpx.AsyncClient, tenant_a: Tenant) -> None:
    body = {"name": "twice", "spec": {"eula": True}}
    assert (
        await http.post("/api/v1/servers", headers=tenant_a.headers, json=body)
    ).status_code == 202
    second = await http.post("/api/v1/servers", headers=tenant_a.headers, json=body)
    assert second.status_code == 409


async def test_websocket_refuses_foreign_origin_and_bad_tokens(
    gateway: ManagedProcess, tenant_a: Tenant
) -> None:
    import websockets
    from websockets.exceptions import ConnectionClosed, InvalidStatus

    url = f"ws://127.0.0.1:{gateway.http_port}/api/v1/ws"
    with pytest.raises(InvalidStatus):
        await websockets.connect(url, origin="https://evil.example")  # type: ignore[arg-type]
    conn = await websockets.connect(url)
    await conn.send(json.dumps({"type": "auth", "token": "not-a-token"}))
    with pytest.raises(ConnectionClosed) as closed:
        while True:
            await conn.recv()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008
    # A token in the query string is refused outright, so it never lands in a log line.
    with pytest.raises(InvalidStatus):
        await websockets.connect(f"{url}?token={tenant_a.token}")
