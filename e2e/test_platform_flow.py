"""End to end, hop by hop: REST create -> CR -> StatefulSet -> pod Ready -> k8s.running on the
stream -> projection `running` -> WebSocket message; then stop, start and delete.

Runs against any cluster the session points at (the sandbox by default; --kubeconfig or
E2E_CLUSTER=existing|kind otherwise) with the operator and gateway as real processes.
"""

from __future__ import annotations

import asyncpg
import httpx
import nats
import pytest

from craftplane.contracts.events import EventType
from craftplane.testing.gateway import Tenant, connect_ws, status_of
from craftplane.testing.kubectl import Kubectl
from craftplane.testing.platform import Platform
from craftplane.testing.plugin import stream_events
from craftplane.testing.processes import ManagedProcess
from craftplane.testing.wait import async_wait_for, wait_for

pytestmark = pytest.mark.e2e


async def _row_status(dsn: str, uid: str) -> str | None:
    conn = await asyncpg.connect(dsn)
    try:
        status: str | None = await conn.fetchval("SELECT status FROM servers WHERE uid = $1", uid)
        return status
    finally:
        await conn.close()


async def test_whole_flow(
    platform: Platform,
    kubectl: Kubectl,
    gateway: ManagedProcess,
    gateway_db: str,
    tenant_a: Tenant,
    http: httpx.AsyncClient,
) -> None:
    ws = await connect_ws(gateway.http_port, tenant_a.token)
    nc = await nats.connect(platform.nats_url)
    try:
        await ws.until(lambda f: f["type"] == "snapshot")
        created = await http.post(
            "/api/v1/servers",
            headers=tenant_a.headers,
            json={"name": "journey", "spec": {"eula": True}},
        )
        assert created.status_code == 202, created.text

        cr = wait_for(
            lambda: kubectl.get("minecraftserver", "journey", tenant_a.namespace),
            timeout=10,
            what="CR written by the gateway",
        )
        uid = cr["metadata"]["uid"]
        sts = wait_for(
            lambda: kubectl.get("statefulset", "journey", tenant_a.namespace),
            timeout=30,
            what="StatefulSet created by the operator",
        )
        assert sts["metadata"]["ownerReferences"][0]["uid"] == uid

        def pod_ready() -> bool:
            pod = kubectl.get("pod", "journey-0", tenant_a.namespace) or {}
            conditions = {
                c["type"]: c["status"] for c in pod.get("status", {}).get("conditions", [])
            }
            return conditions.get("Ready") == "True"

        wait_for(pod_ready, timeout=60, what="pod Ready")

        async def running_on_stream() -> bool:
            return any(
                e.type is EventType.K8S_RUNNING and e.server and e.server.uid == uid
                for e in await stream_events(nc, tenant_a.namespace)
            )

        await async_wait_for(running_on_stream, timeout=30, what="k8s.running on the stream")

        async def projected(wanted: str) -> bool:
            return await _row_status(gateway_db, uid) == wanted

        await async_wait_for(lambda: projected("running"), timeout=30, what="row running")
        await ws.until(lambda f: status_of(f, "journey") == "running", timeout=30)

        for action, wanted in (("stop", "stopped"), ("start", "running")):
            resp = await http.post(f"/api/v1/servers/journey/{action}", headers=tenant_a.headers)
            assert resp.status_code == 202
            await ws.until(lambda f, w=wanted: status_of(f, "journey") == w, timeout=60)
            await async_wait_for(lambda w=wanted: projected(w), timeout=30, what=f"row {wanted}")

        assert (
            await http.delete("/api/v1/servers/journey", headers=tenant_a.headers)
        ).status_code == 202
        await ws.until(lambda f: status_of(f, "journey") == "deleted", timeout=60)
        await async_wait_for(lambda: projected("deleted"), timeout=30, what="row deleted")
        wait_for(
            lambda: kubectl.get("statefulset", "journey", tenant_a.namespace) is None,
            timeout=60,
            what="children garbage-collected",
        )
    finally:
        await ws.conn.close()
        await nc.close()
