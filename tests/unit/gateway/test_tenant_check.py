"""A token's tenant is served only where its namespace is labelled as that tenant's: the
cache (fake clock, fake API server), every route's 404, and the WebSocket's refusal."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from craftplane import tokens
from craftplane.contracts.names import TENANT_LABEL
from craftplane.kube import KubeError
from craftplane_gateway import problems, tenants, ws_frames
from craftplane_gateway.db.revocations import DenyList
from craftplane_gateway.hub import Hub
from craftplane_gateway.openapi import Endpoint
from craftplane_gateway.ratelimit import TokenBuckets
from craftplane_gateway.revocations import Revocations
from craftplane_gateway.routes import table
from craftplane_gateway.tenants import TenantNamespaces
from tests.unit.gateway.fakes import FakeNamespaces

pytestmark = pytest.mark.unit

KEY = "k" * 48
UNREACHABLE = KubeError(0, "API server unreachable: connection refused")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_only_a_namespace_labelled_as_the_tenants_is_its() -> None:
    kube = FakeNamespaces({"tenant-bare": {}, "tenant-other": {TENANT_LABEL: "someone"}})
    kube.tenant("acme")
    check = TenantNamespaces(kube)  # type: ignore[arg-type]
    assert await check.is_tenant_namespace("tenant-acme", "acme")
    assert not await check.is_tenant_namespace("tenant-bare", "bare")
    assert not await check.is_tenant_namespace("tenant-other", "other")
    assert not await check.is_tenant_namespace("tenant-ghost", "ghost")
    # The label must name the token's tenant, not merely exist.
    assert not await check.is_tenant_namespace("tenant-acme", "other")


async def test_a_yes_is_kept_longer_than_a_no() -> None:
    clock = Clock()
    kube = FakeNamespaces().tenant("acme")
    check = TenantNamespaces(kube, ttl=30, negative_ttl=5, clock=clock)  # type: ignore[arg-type]
    assert await check.is_tenant_namespace("tenant-acme", "acme")
    assert not await check.is_tenant_namespace("tenant-new", "new")
    kube.tenant("new")
    del kube.labels["tenant-acme"][TENANT_LABEL]  # offboarded
    clock.now += 4.9
    assert await check.is_tenant_namespace("tenant-acme", "acme")
    assert not await check.is_tenant_namespace("tenant-new", "new")
    assert kube.reads == ["tenant-acme", "tenant-new"]
    clock.now += 0.1  # a new tenant is served within seconds
    assert await check.is_tenant_namespace("tenant-new", "new")
    clock.now += 24.9
    assert await check.is_tenant_namespace("tenant-acme", "acme")
    clock.now += 0.1  # an offboarded one is refused within the longer delay
    assert not await check.is_tenant_namespace("tenant-acme", "acme")


async def test_an_unreachable_api_keeps_the_last_answer_and_asks_again_later() -> None:
    clock = Clock()
    kube = FakeNamespaces().tenant("acme")
    check = TenantNamespaces(kube, ttl=30, negative_ttl=5, clock=clock)  # type: ignore[arg-type]
    assert await check.is_tenant_namespace("tenant-acme", "acme")
    kube.failure = UNREACHABLE
    clock.now += 31
    assert await check.is_tenant_namespace("tenant-acme", "acme")
    reads = len(kube.reads)
    clock.now += 1
    assert await check.is_tenant_namespace("tenant-acme", "acme")
    assert len(kube.reads) == reads, "a request must not wait on the API again at once"
    clock.now += 5
    assert await check.is_tenant_namespace("tenant-acme", "acme")
    assert len(kube.reads) == reads + 1
    with pytest.raises(KubeError):
        await check.is_tenant_namespace("tenant-never-seen", "never-seen")


async def test_the_cache_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tenants, "MAX_ENTRIES", 3)
    check = TenantNamespaces(FakeNamespaces())  # type: ignore[arg-type]
    for i in range(10):
        await check.is_tenant_namespace(f"tenant-t{i}", f"t{i}")
    assert len(check._known) == 3
    assert ("tenant-t9", "t9") in check._known


class EmptyPool:
    """A projection with no rows, recording whether anyone asked it anything."""

    def __init__(self) -> None:
        self.used = 0

    @contextlib.asynccontextmanager
    async def acquire(self, **_: Any) -> AsyncIterator[EmptyPool]:
        self.used += 1
        yield self

    async def fetch(self, *_: Any) -> list[Any]:
        return []

    async def fetchrow(self, *_: Any) -> None:
        return None


def _gateway(kube: FakeNamespaces, pool: EmptyPool) -> SimpleNamespace:
    revocations = Revocations(lambda: None)
    revocations.install(DenyList())
    return SimpleNamespace(
        settings=SimpleNamespace(
            token_key=KEY,
            allowed_origins=[],
            token_max_lifetime=tokens.MAX_LIFETIME,
            write_rate=10.0,
            write_burst=1000,
            max_body_bytes=1024 * 1024,
            ws_max_frame_bytes=64 * 1024,
            metrics_frame_seconds=3600,
        ),
        db=SimpleNamespace(get=lambda: pool),
        kube=kube,
        hub=Hub(16),
        write_limit=TokenBuckets(10, 1000),
        console_limit=TokenBuckets(10, 1000),
        revocations=revocations,
        tenants=TenantNamespaces(kube),  # type: ignore[arg-type]
    )


@pytest.fixture
def pool() -> EmptyPool:
    return EmptyPool()


@pytest.fixture
def kube() -> FakeNamespaces:
    return FakeNamespaces({"tenant-bare": {"team": "payments"}}).tenant("acme")


@pytest.fixture
def client(kube: FakeNamespaces, pool: EmptyPool) -> Iterator[TestClient]:
    gw = _gateway(kube, pool)

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[dict[str, Any]]:
        yield {"gw": gw}

    app = Starlette(
        routes=table.routes(),
        lifespan=lifespan,
        exception_handlers=dict(problems.EXCEPTION_HANDLERS),
    )
    with TestClient(app) as test_client:
        yield test_client


def _call(client: TestClient, method: str, path: str, tenant: str) -> Any:
    headers = {"authorization": f"Bearer {tokens.mint(tenant, KEY)}"}
    if method in ("post", "patch"):
        return client.request(method, path, headers=headers, json={"command": "list"})
    return client.request(method, path, headers=headers)


SERVER_ROUTES = [e for e in table.ENDPOINTS if not e.public]


@pytest.mark.parametrize("tenant", ["bare", "ghost"], ids=["unlabelled", "no-namespace"])
@pytest.mark.parametrize("endpoint", SERVER_ROUTES, ids=lambda e: f"{e.method} {e.path}")
def test_every_server_route_is_404_for_a_tenant_without_its_namespace(
    client: TestClient, pool: EmptyPool, endpoint: Endpoint, tenant: str
) -> None:
    path = endpoint.path
    for placeholder in ("{name}", "{backup}", "{restore}"):
        path = path.replace(placeholder, "nope")
    refused = _call(client, endpoint.method, path, tenant)
    assert refused.status_code == 404, refused.text
    assert pool.used == 0, "the projection was read for a tenant that is not one"
    body = refused.json()
    if "{name}" in endpoint.path:
        # Exactly what the tenant's own missing server answers.
        unknown = _call(client, "get", "/api/v1/servers/nope", "acme")
        assert unknown.status_code == 404
        assert body == {**unknown.json(), "instance": path}
    else:
        assert body == {**problems.no_tenant().to_dict(), "instance": path}


def test_a_tenant_with_its_namespace_is_served(client: TestClient, pool: EmptyPool) -> None:
    listed = _call(client, "get", "/api/v1/servers", "acme")
    assert listed.status_code == 200 and listed.json() == {"items": []}
    assert pool.used == 1


def test_the_check_is_503_while_it_cannot_be_known(
    client: TestClient, kube: FakeNamespaces
) -> None:
    kube.failure = UNREACHABLE
    refused = _call(client, "get", "/api/v1/servers", "acme")
    assert refused.status_code == 503 and "Retry-After" in refused.headers


def test_the_websocket_refuses_a_tenant_without_its_namespace(client: TestClient) -> None:
    with client.websocket_connect("/api/v1/ws") as socket:
        socket.send_text(ws_frames.frame_json(ws_frames.AuthFrame(token=tokens.mint("bare", KEY))))
        assert socket.receive_json() == {
            "type": "error",
            "code": "not_found",
            "message": "not found",
        }
        with pytest.raises(WebSocketDisconnect) as closed:
            socket.receive_text()
        assert closed.value.code == 1008
    with client.websocket_connect("/api/v1/ws") as socket:
        socket.send_text(ws_frames.frame_json(ws_frames.AuthFrame(token=tokens.mint("acme", KEY))))
        assert socket.receive_json() == {"type": "ready", "tenant": "acme"}
