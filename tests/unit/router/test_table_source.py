"""The routing table kept in step with the cluster: a list, then a watch of MinecraftServers
and of tenant namespaces; an expired watch lists again; ready once both have listed."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from craftplane.kube import KubeError
from craftplane.testing.wait import until
from craftplane_router.routes import State
from craftplane_router.table import RouteTable
from craftplane_router.table_source import TableSource
from craftplane_router.watch_events import is_tenant_namespace
from tests.unit.router.factories import server
from tests.unit.watchfakes import WatchedApi, line

pytestmark = pytest.mark.unit

SERVERS = "/apis/craftplane.io/v1alpha1/minecraftservers"
NAMESPACES = "/api/v1/namespaces"


def namespace(name: str, tenant: str | None) -> dict[str, Any]:
    labels = {"craftplane.io/tenant": tenant} if tenant else {}
    return {"metadata": {"name": name, "labels": labels, "resourceVersion": "5"}}


@pytest.fixture
def cluster() -> WatchedApi:
    cluster = WatchedApi()
    cluster.listings[NAMESPACES] = (
        [
            namespace("tenant-acme", "acme"),
            namespace("tenant-bolt", "someone-else"),  # a label that does not match the name
            namespace("kube-system", "kube-system"),
        ],
        "10",
    )
    cluster.listings[SERVERS] = (
        [
            server("survival", hostnames=["survival.acme.example.com"]),
            server("x", "tenant-bolt", hostnames=["x.example.com"]),
        ],
        "20",
    )
    return cluster


@pytest.fixture
async def source(cluster: WatchedApi) -> AsyncIterator[tuple[TableSource, RouteTable]]:
    table = RouteTable()
    watcher = TableSource(cluster, table, retry_after=0.01)  # type: ignore[arg-type]
    watcher.start()
    yield watcher, table
    await watcher.stop()


async def test_ready_once_both_are_listed_and_routing_what_they_say(
    cluster: WatchedApi, source: tuple[TableSource, RouteTable]
) -> None:
    watcher, table = source
    await asyncio.wait_for(watcher.wait_ready(), 5)
    assert watcher.ready
    assert table.namespaces == {"tenant-acme"}
    assert set(table.hostnames()) == {"survival.acme.example.com"}
    # Namespaces by the tenant label only; servers cluster-wide; watches from each list.
    assert (NAMESPACES, {"labelSelector": "craftplane.io/tenant"}) in cluster.lists
    assert (SERVERS, {}) in cluster.lists
    await until(lambda: len(cluster.opened) == 2)
    params = dict(cluster.opened)
    assert params[SERVERS]["resourceVersion"] == "20"
    assert params[SERVERS]["watch"] == "true" and params[SERVERS]["allowWatchBookmarks"] == "true"
    assert params[NAMESPACES]["resourceVersion"] == "10"
    assert params[NAMESPACES]["labelSelector"] == "craftplane.io/tenant"


async def test_watch_events_change_the_table(
    cluster: WatchedApi, source: tuple[TableSource, RouteTable]
) -> None:
    watcher, table = source
    await asyncio.wait_for(watcher.wait_ready(), 5)
    cluster.push(
        SERVERS,
        [
            line("ADDED", server("creative", hostnames=["creative.acme.example.com"])),
            line(
                "MODIFIED",
                server("survival", phase="Stopped", hostnames=["survival.acme.example.com"]),
            ),
            line("BOOKMARK", {"metadata": {"resourceVersion": "33"}}),
        ],
    )
    await until(lambda: table.lookup("creative.acme.example.com") is not None)
    survival = table.lookup("survival.acme.example.com")
    assert survival is not None and survival.state is State.STOPPED
    # The watch ended; it is opened again from the last version seen (the bookmark's).
    await until(lambda: len(cluster.watched(SERVERS)) == 2)
    assert cluster.watched(SERVERS)[1]["resourceVersion"] == "33"
    cluster.push(SERVERS, [line("DELETED", server("creative"))])
    await until(lambda: table.lookup("creative.acme.example.com") is None)


async def test_a_namespace_that_stops_being_a_tenants_hides_its_servers(
    cluster: WatchedApi, source: tuple[TableSource, RouteTable]
) -> None:
    watcher, table = source
    await asyncio.wait_for(watcher.wait_ready(), 5)
    cluster.push(NAMESPACES, [line("MODIFIED", namespace("tenant-bolt", "bolt"))])
    await until(lambda: table.lookup("x.example.com") is not None)
    cluster.push(NAMESPACES, [line("MODIFIED", namespace("tenant-bolt", None))])
    await until(lambda: table.lookup("x.example.com") is None)
    cluster.push(NAMESPACES, [line("DELETED", namespace("tenant-acme", "acme"))])
    await until(lambda: table.lookup("survival.acme.example.com") is None)


async def test_an_expired_watch_lists_again(
    cluster: WatchedApi, source: tuple[TableSource, RouteTable]
) -> None:
    watcher, table = source
    await asyncio.wait_for(watcher.wait_ready(), 5)
    cluster.listings[SERVERS] = ([server("renamed", hostnames=["new.example.com"])], "40")
    cluster.push(SERVERS, [line("ERROR", {"kind": "Status", "code": 410, "message": "too old"})])
    await until(lambda: table.lookup("new.example.com") is not None)
    assert table.lookup("survival.acme.example.com") is None  # the relist replaced everything
    await until(
        lambda: (SERVERS, "40") in [(p, q.get("resourceVersion")) for p, q in cluster.opened]
    )
    cluster.push(SERVERS, KubeError(410, "Gone"))  # a 410 on opening: the same
    await until(lambda: cluster.listed(SERVERS) == 3)


async def test_failures_are_retried_and_readiness_waits_for_a_list(cluster: WatchedApi) -> None:
    cluster.refuse_lists = 3
    table = RouteTable()
    watcher = TableSource(cluster, table, retry_after=0.01)  # type: ignore[arg-type]
    assert not watcher.ready
    watcher.start()
    try:
        await asyncio.wait_for(watcher.wait_ready(), 5)
        assert len(cluster.lists) >= 5  # three refused, then both listed
        cluster.push(SERVERS, [line("ERROR", {"code": 500, "message": "boom"})])
        cluster.push(SERVERS, ValueError("a torn line"))
        await until(lambda: cluster.listed(SERVERS) >= 4)
        assert watcher.ready  # once listed, a failing watch does not make the router unready
    finally:
        await watcher.stop()


@pytest.mark.parametrize(
    ("obj", "tenant"),
    [
        (namespace("tenant-acme", "acme"), True),
        (namespace("tenant-acme", "bolt"), False),
        (namespace("acme", "acme"), False),
        (namespace("tenant-acme", None), False),
        ({"metadata": {"name": "tenant-acme", "labels": ["x"]}}, False),
        ({}, False),
    ],
)
def test_a_tenant_namespace_is_labelled_as_the_tenant_its_name_says(
    obj: dict[str, Any], tenant: bool
) -> None:
    assert is_tenant_namespace(obj) is tenant
