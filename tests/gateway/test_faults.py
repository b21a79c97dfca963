"""The gateway under faults: killed mid-projection, PostgreSQL down, NATS down, bad events,
two replicas."""

from __future__ import annotations

from typing import Any

import asyncpg
import httpx
import nats
import pytest

from craftplane.contracts import events as contract
from craftplane.contracts.events import Event, EventType, ServerRef
from craftplane.contracts.status import Phase
from craftplane.sandbox import nats_server, postgres
from craftplane.testing.gateway import gateway_process
from craftplane.testing.kubectl import Kubectl
from craftplane.testing.platform import Platform
from craftplane.testing.processes import ManagedProcess
from craftplane.testing.servers import phase_of, wait_phase
from craftplane.testing.wait import async_wait_for
from tests.gateway.conftest import Tenant, connect_ws, status_of
from tests.operator.conftest import server_manifest, stream_events

pytestmark = pytest.mark.cluster


async def rows(dsn: str, namespace: str) -> dict[str, dict[str, Any]]:
    conn = await asyncpg.connect(dsn)
    try:
        records = await conn.fetch(
            "SELECT * FROM servers WHERE namespace = $1 AND status <> 'deleted'", namespace
        )
        return {r["name"]: dict(r) for r in records}
    finally:
        await conn.close()


async def timeline_ids(dsn: str, namespace: str) -> list[str]:
    conn = await asyncpg.connect(dsn)
    try:
        return [
            r["event_id"]
            for r in await conn.fetch(
                "SELECT event_id FROM server_events WHERE namespace = $1", namespace
            )
        ]
    finally:
        await conn.close()


async def test_killed_mid_projection_converges_without_loss_or_doubles(
    platform: Platform,
    kubectl: Kubectl,
    gateway: ManagedProcess,
    gateway_db: str,
    tenant_a: Tenant,
) -> None:
    gateway.kill()
    names = [f"kill-{i}" for i in range(10)]
    kubectl.apply("---\n".join(server_manifest(n) for n in names), tenant_a.namespace)
    for name in names:
        wait_phase(kubectl, tenant_a.namespace, name, "Running")
    gateway.start(wait=False)
    # Kill it again while it is catching up with the backlog.
    await async_wait_for(
        lambda: _any_row(gateway_db, tenant_a.namespace), timeout=60, what="projection started"
    )
    gateway.kill()
    gateway.start()

    nc = await nats.connect(platform.nats_url)
    try:
        stream = await stream_events(nc, tenant_a.namespace)
    finally:
        await nc.close()

    async def caught_up() -> dict[str, dict[str, Any]] | None:
        found = await rows(gateway_db, tenant_a.namespace)
        ok = all(found.get(n, {}).get("status") == "running" for n in names)
        return found if ok else None

    await async_wait_for(caught_up, timeout=60, what="projection caught up")
    ids = await timeline_ids(gateway_db, tenant_a.namespace)
    assert len(ids) == len(set(ids))
    assert {e.id for e in stream} <= set(ids)


async def _any_row(dsn: str, namespace: str) -> bool:
    return bool(await rows(dsn, namespace))


async def test_database_down_answers_503_and_catches_up(
    platform: Platform,
    kubectl: Kubectl,
    gateway: ManagedProcess,
    gateway_db: str,
    tenant_a: Tenant,
    http: httpx.AsyncClient,
) -> None:
    if platform.sandbox is None:
        pytest.skip("stopping PostgreSQL needs the sandbox's PostgreSQL")
    kubectl.apply(server_manifest("dbdown"), tenant_a.namespace)
    wait_phase(kubectl, tenant_a.namespace, "dbdown", "Running")
    postgres.stop(platform.sandbox)
    try:
        resp = await http.get("/api/v1/servers", headers=tenant_a.headers)
        assert resp.status_code == 503, resp.text
        problem = resp.json()
        assert "database" in problem["detail"]
        assert resp.headers.get("retry-after")
        kubectl.run(
            "patch",
            "mcs",
            "-n",
            tenant_a.namespace,
            "dbdown",
            "--type=merge",
            "-p",
            '{"spec": {"stopped": true}}',
        )
        wait_phase(kubectl, tenant_a.namespace, "dbdown", "Stopped")
    finally:
        postgres.start(platform.sandbox)

    async def stopped() -> bool:
        resp = await http.get("/api/v1/servers/dbdown", headers=tenant_a.headers)
        return resp.status_code == 200 and resp.json()["status"] == "stopped"

    await async_wait_for(stopped, timeout=60, what="events from the outage projected")


async def test_nats_down_falls_back_to_polling(
    platform: Platform,
    kubectl: Kubectl,
    gateway: ManagedProcess,
    gateway_db: str,
    tenant_a: Tenant,
) -> None:
    if platform.sandbox is None:
        pytest.skip("stopping NATS needs the sandbox's NATS")
    kubectl.apply(server_manifest("natsdown"), tenant_a.namespace)
    wait_phase(kubectl, tenant_a.namespace, "natsdown", "Running")
    await async_wait_for(
        lambda: _status(gateway_db, tenant_a.namespace, "natsdown", "running"),
        timeout=60,
        what="projected running",
    )
    ws = await connect_ws(gateway.http_port, tenant_a.token)
    try:
        await ws.until(lambda f: f["type"] == "snapshot")
        nats_server.stop(platform.sandbox)
        try:
            kubectl.run(
                "patch",
                "mcs",
                "-n",
                tenant_a.namespace,
                "natsdown",
                "--type=merge",
                "-p",
                '{"spec": {"stopped": true}}',
            )
            wait_phase(kubectl, tenant_a.namespace, "natsdown", "Stopped")
            # Polling every 2 s: two intervals, plus the operator's own reaction time.
            await async_wait_for(
                lambda: _status(gateway_db, tenant_a.namespace, "natsdown", "stopped"),
                timeout=10,
                what="database follows without NATS",
            )
            await ws.until(lambda f: status_of(f, "natsdown") == "stopped", timeout=10)
        finally:
            nats_server.start(platform.sandbox)
    finally:
        await ws.conn.close()
    # When NATS is back, the stream's (older) events do not undo or double anything.
    kubectl.run(
        "patch",
        "mcs",
        "-n",
        tenant_a.namespace,
        "natsdown",
        "--type=merge",
        "-p",
        '{"spec": {"stopped": false}}',
    )
    await async_wait_for(
        lambda: _status(gateway_db, tenant_a.namespace, "natsdown", "running"),
        timeout=60,
        what="running again through the stream",
    )
    ids = await timeline_ids(gateway_db, tenant_a.namespace)
    assert len(ids) == len(set(ids))


async def _status(dsn: str, namespace: str, name: str, wanted: str) -> bool:
    return (await rows(dsn, namespace)).get(name, {}).get("status") == wanted


async def test_duplicate_out_of_order_and_malformed_events(
    platform: Platform,
    gateway: ManagedProcess,
    gateway_db: str,
    tenant_a: Tenant,
) -> None:
    # A namespace no tenant owns: drift reconciliation (which would mark a server with no CR as
    # deleted) leaves it alone, so only the stream decides this row.
    namespace = f"crafted-{tenant_a.name}"
    ref = ServerRef(uid=f"u-{namespace}", namespace=namespace, name="crafted", tenant=tenant_a.name)
    running = Event(
        type=EventType.K8S_RUNNING,
        server=ref,
        phase=Phase.RUNNING,
        generation=1,
        address="10.0.0.9",
        port=25565,
        revision="200",
    )
    late_starting = Event(
        type=EventType.K8S_STARTING, server=ref, phase=Phase.STARTING, generation=1, revision="100"
    )
    nc = await nats.connect(platform.nats_url)
    js = nc.jetstream()
    try:
        for event in (running, running, late_starting):
            await js.publish(
                contract.subject_for(event),
                contract.encode(event),
                headers={"Nats-Msg-Id": event.id + "-test"},
            )
        await js.publish(f"craftplane.k8s.running.{namespace}.crafted", b"{not json")
        await js.publish(
            f"craftplane.k8s.running.{namespace}.crafted",
            b'{"schema_version": 99, "type": "k8s.running"}',
        )
    finally:
        await nc.close()

    async def settled() -> bool:
        conn = await asyncpg.connect(gateway_db)
        try:
            dead = await conn.fetchval(
                "SELECT count(*) FROM dead_letters WHERE subject LIKE $1",
                f"%{namespace}%",
            )
            timeline = await conn.fetchval(
                "SELECT count(*) FROM server_events WHERE uid = $1", ref.uid
            )
            return bool(dead == 2 and timeline == 2)
        finally:
            await conn.close()

    await async_wait_for(settled, timeout=30, what="2 dead letters and 2 timeline rows")
    row = (await rows(gateway_db, namespace))["crafted"]
    assert row["status"] == "running"  # the late 'starting' did not regress it
    assert row["address"] == "10.0.0.9"


async def test_two_replicas_project_once_and_both_broadcast(
    platform: Platform,
    kubectl: Kubectl,
    gateway: ManagedProcess,
    gateway_db: str,
    tenant_a: Tenant,
    token_key: str,
    consumer: str,
) -> None:
    second = gateway_process(
        platform, index=1, database_url=gateway_db, token_key=token_key, consumer=consumer
    ).start()
    try:
        ws1 = await connect_ws(gateway.http_port, tenant_a.token)
        ws2 = await connect_ws(second.http_port, tenant_a.token)
        await ws1.until(lambda f: f["type"] == "snapshot")
        await ws2.until(lambda f: f["type"] == "snapshot")
        kubectl.apply(server_manifest("pair"), tenant_a.namespace)
        await ws1.until(lambda f: status_of(f, "pair") == "running")
        await ws2.until(lambda f: status_of(f, "pair") == "running")
        uid = kubectl.get("minecraftserver", "pair", tenant_a.namespace)["metadata"]["uid"]  # type: ignore[index]

        async def published_ids() -> list[str]:
            nc = await nats.connect(platform.nats_url)
            try:
                found = await stream_events(nc, tenant_a.namespace)
            finally:
                await nc.close()
            return [e.id for e in found if isinstance(e, Event) and e.server.uid == uid]

        async def projected_ids() -> list[str]:
            conn = await asyncpg.connect(gateway_db)
            try:
                records = await conn.fetch("SELECT event_id FROM server_events WHERE uid = $1", uid)
            finally:
                await conn.close()
            return [r["event_id"] for r in records]

        # Wait on this server's own timeline rows, not on the replicas' projection counters:
        # those also count other servers' events (a previous test's leftovers still being
        # projected), so they could reach the total before this server's last event landed.
        published = await published_ids()

        async def own_events_projected() -> bool:
            return set(published) <= set(await projected_ids())

        await async_wait_for(
            own_events_projected, timeout=30, what="this server's events projected"
        )

        async def timeline_is_the_stream() -> tuple[list[str], list[str]] | None:
            # Read again: the operator may have published one more state since the first read.
            now_published, now_projected = await published_ids(), await projected_ids()
            same = sorted(now_projected) == sorted(now_published)
            return (now_projected, now_published) if same else None

        projected, streamed = await async_wait_for(
            timeline_is_the_stream, timeout=30, what="the timeline to hold the stream's events"
        )
        # Each of this server's stream events projected exactly once (by one of the replicas).
        assert sorted(projected) == sorted(streamed)
        assert len(set(projected)) == len(projected)
        await ws1.conn.close()
        await ws2.conn.close()
    finally:
        second.terminate()
    assert phase_of(kubectl, tenant_a.namespace, "pair") == "Running"
