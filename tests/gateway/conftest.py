"""A gateway of the test session's own (own database, own durable consumer), two tenants,
and clients for REST and WebSocket."""

from __future__ import annotations

import json
import secrets
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx
import pytest
import websockets

from craftplane import tokens
from craftplane.testing.gateway import gateway_process, unique_consumer
from craftplane.testing.kubectl import Kubectl
from craftplane.testing.platform import Platform
from craftplane.testing.processes import ManagedProcess


@dataclass(frozen=True)
class Tenant:
    name: str
    namespace: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@pytest.fixture(scope="session")
def token_key() -> str:
    return tokens.generate_key()


@pytest.fixture(scope="session")
async def gateway_db(platform: Platform) -> AsyncIterator[str]:
    name = f"gw_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(platform.admin_database_url)
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    yield platform.admin_database_url.rsplit("/", 1)[0] + f"/{name}"
    admin = await asyncpg.connect(platform.admin_database_url)
    await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await admin.close()


@pytest.fixture(scope="session")
def consumer() -> str:
    return unique_consumer()


@pytest.fixture(scope="session")
def gateway(
    platform: Platform, operator: ManagedProcess, gateway_db: str, token_key: str, consumer: str
) -> Iterator[ManagedProcess]:
    proc = gateway_process(
        platform, index=0, database_url=gateway_db, token_key=token_key, consumer=consumer
    ).start()
    yield proc
    proc.terminate()


@pytest.fixture(autouse=True)
def _gateway_running(request: pytest.FixtureRequest) -> None:
    if "gateway" in request.fixturenames:
        proc: ManagedProcess = request.getfixturevalue("gateway")
        if not proc.alive:
            proc.start()


def _tenant(kubectl: Kubectl, token_key: str, name: str) -> Tenant:
    namespace = tokens.namespace_for(name)
    kubectl.apply(
        f"apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {namespace}\n  labels:\n"
        f"    craftplane.io/tenant: {name}\n    pod-security.kubernetes.io/enforce: restricted\n"
    )
    return Tenant(name, namespace, tokens.mint(name, token_key))


@pytest.fixture
def tenant_a(kubectl: Kubectl, token_key: str) -> Iterator[Tenant]:
    tenant = _tenant(kubectl, token_key, f"a{secrets.token_hex(3)}")
    yield tenant
    kubectl.run("delete", "namespace", tenant.namespace, "--wait=false", check=False)


@pytest.fixture
def tenant_b(kubectl: Kubectl, token_key: str) -> Iterator[Tenant]:
    tenant = _tenant(kubectl, token_key, f"b{secrets.token_hex(3)}")
    yield tenant
    kubectl.run("delete", "namespace", tenant.namespace, "--wait=false", check=False)


@pytest.fixture
async def http(gateway: ManagedProcess) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{gateway.http_port}", timeout=15
    ) as client:
        yield client


class WsClient:
    """A WebSocket client speaking the gateway's protocol, collecting every frame."""

    def __init__(self, conn: Any) -> None:
        self.conn = conn
        self.frames: list[dict[str, Any]] = []

    async def send(self, frame: dict[str, Any]) -> None:
        await self.conn.send(json.dumps(frame))

    async def next(self, timeout: float = 30) -> dict[str, Any]:
        import asyncio

        frame: dict[str, Any] = json.loads(await asyncio.wait_for(self.conn.recv(), timeout))
        self.frames.append(frame)
        return frame

    async def until(self, predicate: Any, timeout: float = 60) -> dict[str, Any]:
        import time

        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"no matching frame within {timeout}s; got {self.frames[-5:]}")
            try:
                frame = await self.next(remaining)
            except TimeoutError as exc:
                raise AssertionError(f"no matching frame; got {self.frames[-5:]}") from exc
            if predicate(frame):
                return frame


async def connect_ws(port: int, token: str, servers: Any = "all") -> WsClient:
    conn = await websockets.connect(f"ws://127.0.0.1:{port}/api/v1/ws")
    client = WsClient(conn)
    await client.send({"type": "auth", "token": token})
    ready = await client.next()
    assert ready["type"] == "ready", ready
    await client.send({"type": "subscribe", "servers": servers})
    return client


def status_of(frame: dict[str, Any], name: str) -> str | None:
    if frame.get("type") == "event" and frame["server"].get("name") == name:
        status: str | None = frame["server"].get("status")
        return status
    if frame.get("type") == "snapshot":
        for server in frame["servers"]:
            if server["name"] == name:
                found: str | None = server.get("status")
                return found
    return None
