"""The day-2 API over the real platform: console (tenancy, rate limit, timeline), restart,
logs. RCON is a stand-in Source RCON responder started here (aio-mc-rcon is a client only),
reached through the pod IP the test gives the server's pod (the gateway runs with
CRAFTPLANE_GATEWAY_RCON_REACH=pod-ip)."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import struct
from collections.abc import AsyncIterator

import httpx
import pytest

from craftplane.contracts import names
from craftplane.contracts.lifecycle import RESTART_REQUEST_ANNOTATION, RESTART_REQUESTER_ANNOTATION
from craftplane.testing.kubectl import Kubectl
from craftplane.testing.processes import ManagedProcess
from craftplane.testing.wait import async_wait_for
from tests.gateway.conftest import Tenant

pytestmark = pytest.mark.cluster

SPEC = {"eula": True, "type": "PAPER", "version": "1.21.4"}
PASSWORD = "stand-in-password"


class StandInRcon:
    """A Source RCON responder on 127.0.0.1: authenticates, answers each command with
    ``ok: <command>``, and counts connections."""

    def __init__(self) -> None:
        self.connections = 0
        self.commands: list[str] = []
        self.server: asyncio.Server | None = None

    @staticmethod
    def _packet(request_id: int, kind: int, body: str) -> bytes:
        payload = body.encode() + b"\x00\x00"
        return struct.pack("<iii", len(payload) + 8, request_id, kind) + payload

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
            while True:
                (length,) = struct.unpack("<i", await reader.readexactly(4))
                request_id, kind = struct.unpack("<ii", await reader.readexactly(8))
                body = (await reader.readexactly(length - 8))[:-2].decode()
                if kind == 3:  # auth
                    ok = body == PASSWORD
                    writer.write(self._packet(request_id if ok else -1, 2, ""))
                else:
                    self.commands.append(body)
                    writer.write(self._packet(request_id, 0, f"ok: {body}"))
                await writer.drain()
        writer.close()

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", names.RCON_PORT)

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()


@pytest.fixture
async def rcon_stand_in() -> AsyncIterator[StandInRcon]:
    stand_in = StandInRcon()
    await stand_in.start()
    yield stand_in
    await stand_in.stop()


async def _create(http: httpx.AsyncClient, tenant: Tenant, name: str) -> None:
    created = await http.post(
        "/api/v1/servers", headers=tenant.headers, json={"name": name, "spec": SPEC}
    )
    assert created.status_code == 202, created.text


def _point_rcon_here(kubectl: Kubectl, tenant: Tenant, name: str) -> None:
    """The server's RCON Secret holds the stand-in's password, its pod's IP is 127.0.0.1."""
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": names.rcon_secret_name(name)},
        "data": {names.RCON_PASSWORD_KEY: base64.b64encode(PASSWORD.encode()).decode()},
    }
    kubectl.apply(json.dumps(secret), tenant.namespace)
    kubectl.run(
        "patch", "pod", names.server_pod_name(name), "-n", tenant.namespace,
        "--subresource=status", "--type=merge", "-p", '{"status":{"podIP":"127.0.0.1"}}',
    )  # fmt: skip


async def _wait_for_pod(kubectl: Kubectl, tenant: Tenant, name: str) -> None:
    async def there() -> bool:
        return kubectl.get("pod", names.server_pod_name(name), tenant.namespace) is not None

    await async_wait_for(there, timeout=60, what="the server's pod")


async def test_console_of_another_tenant_is_404(
    http: httpx.AsyncClient, gateway: ManagedProcess, tenant_a: Tenant, tenant_b: Tenant
) -> None:
    await _create(http, tenant_a, "mine")
    for path in ("console", "logs"):
        method = http.post if path == "console" else http.get
        kwargs = {"json": {"command": "list"}} if path == "console" else {}
        resp = await method(f"/api/v1/servers/mine/{path}", headers=tenant_b.headers, **kwargs)
        assert resp.status_code == 404, resp.text
        assert resp.headers["content-type"].startswith("application/problem+json")
    bad = await http.post(
        "/api/v1/servers/mine/console", headers=tenant_a.headers, json={"command": "a\nb"}
    )
    assert bad.status_code == 400 and bad.json()["errors"][0]["field"] == "command"


async def test_restart_writes_the_annotations(
    http: httpx.AsyncClient, gateway: ManagedProcess, tenant_a: Tenant, kubectl: Kubectl
) -> None:
    await _create(http, tenant_a, "again")
    resp = await http.post("/api/v1/servers/again/restart", headers=tenant_a.headers)
    assert resp.status_code == 202, resp.text
    cr = kubectl.get("minecraftserver", "again", tenant_a.namespace)
    assert cr is not None
    annotations = cr["metadata"]["annotations"]
    assert annotations[RESTART_REQUESTER_ANNOTATION] == tenant_a.name
    assert annotations[RESTART_REQUEST_ANNOTATION].endswith("Z")

    async def recorded() -> bool | None:
        got = await http.get("/api/v1/servers/again/events", headers=tenant_a.headers)
        if got.status_code != 200:  # not projected yet
            return None
        return True if any(e["type"] == "request.restart" for e in got.json()["items"]) else None

    await async_wait_for(recorded, timeout=30, what="the restart in the timeline")


async def test_logs_of_a_server_without_pod_is_409(
    http: httpx.AsyncClient, gateway: ManagedProcess, tenant_a: Tenant, kubectl: Kubectl
) -> None:
    created = await http.post(
        "/api/v1/servers",
        headers=tenant_a.headers,
        json={"name": "asleep", "spec": {**SPEC, "stopped": True}},
    )
    assert created.status_code == 202, created.text
    resp = await http.get("/api/v1/servers/asleep/logs?tail=10", headers=tenant_a.headers)
    assert resp.status_code == 409, resp.text
    assert resp.json()["type"].endswith("/server-not-running")
    console = await http.post(
        "/api/v1/servers/asleep/console", headers=tenant_a.headers, json={"command": "list"}
    )
    assert console.status_code == 409, console.text
    bad = await http.get("/api/v1/servers/asleep/logs?tail=0", headers=tenant_a.headers)
    assert bad.status_code == 400
