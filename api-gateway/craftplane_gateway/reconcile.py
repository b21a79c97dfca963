"""Keeping the projection in step with the cluster.

* Drift reconciliation (every 30 s): compare each tenant's rows with the CRs; for servers out of
  step, publish `sync.required` (the operator re-publishes their state, then `sync.complete`)
  and correct the rows from the cluster at once. A CR with no row gets one; a row whose CR is
  gone is marked deleted.
* Polling fallback (while NATS is down): the same comparison every few seconds, pushing every
  change to WebSocket clients too, so phase changes keep reaching them without the stream.

Both rely on the projection's never-regress rule, so when NATS returns the stream's events
cannot double-apply or undo what polling already wrote.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import asyncpg

from craftplane import logs
from craftplane.contracts import events as contract
from craftplane.contracts.events import EventType, SyncEvent, SyncScope
from craftplane.kube import KubeClient, KubeError
from craftplane.supervise import Supervised, every, stop_all
from craftplane_gateway import metrics
from craftplane_gateway.cluster import cluster_servers
from craftplane_gateway.db import projection
from craftplane_gateway.frames import delta_from_row
from craftplane_gateway.hub import Hub
from craftplane_gateway.natsconn import NatsLink

log = logs.get_logger(__name__)


class ClusterSync:
    def __init__(
        self,
        kube: KubeClient,
        pool: Callable[[], asyncpg.Pool | None],
        link: NatsLink,
        hub: Hub,
        *,
        drift_seconds: float,
        poll_seconds: float,
    ) -> None:
        self._kube = kube
        self._pool = pool
        self._link = link
        self._hub = hub
        self._drift_seconds = drift_seconds
        self._poll_seconds = poll_seconds
        self._loops: list[Supervised] = []
        self.last_drift: list[str] = []

    def start(self) -> None:
        drift = every(
            self._drift_seconds,
            self.drift_once,
            what="drift check skipped",
            log=log,
            errors=(KubeError, OSError, asyncpg.PostgresError),
        )
        self._loops = [
            Supervised(drift, name="drift", log=log),
            Supervised(self._fallback_loop, name="nats-fallback", log=log),
        ]

    async def stop(self) -> None:
        await stop_all(self._loops)

    async def sync_once(self, *, broadcast: bool) -> list[dict[str, Any]]:
        """Correct the projection from the cluster; returns the rows that changed."""
        pool = self._pool()
        if pool is None:
            return []
        listed_at = datetime.now(UTC)
        servers, namespaces = await cluster_servers(self._kube)
        async with pool.acquire() as conn:
            changed = await projection.upsert_from_cluster(conn, servers, observed_at=listed_at)
            gone = await projection.mark_deleted_missing(
                conn, namespaces, [server.uid for server in servers], listed_at=listed_at
            )
        changed_rows = [change.server.to_json() for change in [*changed, *gone]]
        if broadcast:
            for row in changed_rows:
                self._hub.publish(delta_from_row(row, reason="cluster"))
        return changed_rows

    async def drift_once(self) -> None:
        changed = await self.sync_once(broadcast=True)
        self.last_drift = [f"{r['namespace']}/{r['name']}" for r in changed]
        if not changed:
            return
        metrics.DRIFT_FOUND.inc(len(changed))
        log.info(
            "projection drifted for %d servers; asking for a sync",
            len(changed),
            extra={"servers": ",".join(self.last_drift[:20])},
        )
        await self._request_sync(changed)

    async def _request_sync(self, rows: list[dict[str, Any]]) -> None:
        js = self._link.js
        pool = self._pool()
        if js is None or not self._link.is_connected:
            return
        for row in rows:
            event = SyncEvent(
                type=EventType.SYNC_REQUIRED,
                server=SyncScope(namespace=row["namespace"], name=row["name"]),
                message="the gateway's projection differs from the cluster",
            )
            try:
                await js.publish(
                    contract.subject_for(event),
                    contract.encode(event),
                    headers={"Nats-Msg-Id": event.id},
                )
            except Exception as exc:  # noqa: BLE001 - the next drift check asks again
                log.warning("could not publish sync.required: %s", exc)
                return
            if pool is not None:
                # sync.complete (answered by the operator) closes this entry via the projection.
                async with pool.acquire() as conn:
                    await projection.record_sync_requested(
                        conn, event.id, f"{row['namespace']}/{row['name']}", 1
                    )

    async def _fallback_loop(self) -> None:
        while True:
            await self._link.disconnected.wait()
            metrics.FALLBACK_POLLING.set(1)
            # The same event decides both loops. nats-py reports is_connected as soon as it has
            # reconnected, before our reconnected callback (a task) clears `disconnected`; a loop
            # testing is_connected here would find nothing to poll, return to a wait() that is
            # already set, and spin without ever yielding: the callback could then never run and
            # the whole gateway stopped answering (seen in CI after a NATS restart).
            while self._link.disconnected.is_set():
                try:
                    changed = await self.sync_once(broadcast=True)
                    if changed:
                        log.info(
                            "NATS down: applied %d changes polled from the cluster", len(changed)
                        )
                except (KubeError, OSError, asyncpg.PostgresError) as exc:
                    log.warning("polling the cluster failed: %s", exc)
                await asyncio.sleep(self._poll_seconds)
            metrics.FALLBACK_POLLING.set(0)
