"""Every replica sees every event for its own WebSocket clients (not through the shared
projection consumer): an ordered, ephemeral JetStream consumer starting at new messages."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace

import asyncpg
from nats.aio.msg import Msg
from nats.js.api import DeliverPolicy

from craftplane import logs
from craftplane.contracts import events as contract
from craftplane.supervise import Backoff, Supervised, retry
from craftplane.supervise import every as periodic
from craftplane_gateway.db import queries
from craftplane_gateway.frames import FINAL_REVISION, delta_from_event, delta_from_row, order_of
from craftplane_gateway.hub import Client, Hub
from craftplane_gateway.natsconn import NatsLink

log = logs.get_logger(__name__)


class LiveFeed:
    def __init__(self, link: NatsLink, hub: Hub) -> None:
        self._link = link
        self._hub = hub
        self._loop: Supervised | None = None
        self.received = 0

    def start(self) -> None:
        self._loop = Supervised(self._run, name="live-feed", log=log)

    async def stop(self) -> None:
        if self._loop is not None:
            await self._loop.stop()

    async def _on_message(self, msg: Msg) -> None:
        self.received += 1
        try:
            event = contract.decode(msg.data)
        except contract.InvalidEvent:
            return  # the projector dead-letters it; clients never see it
        delta = delta_from_event(event)
        if delta is not None:
            self._hub.publish(delta)

    async def _run(self) -> None:
        # The stream may not exist yet: retried every 2 s until the operator has created it.
        await retry(
            self._subscribe,
            what="subscribing the live feed",
            log=log,
            backoff=Backoff(initial=2, maximum=2),
            level=logging.INFO,
        )

    async def _subscribe(self) -> None:
        await self._link.connected.wait()
        js = self._link.js
        assert js is not None
        # nats-py keeps the subscription across reconnects, and an ordered consumer
        # re-creates itself from the last sequence it saw when heartbeats stop.
        await js.subscribe(
            contract.subject_filter(),
            stream=contract.STREAM_NAME,
            ordered_consumer=True,
            deliver_policy=DeliverPolicy.NEW,
            idle_heartbeat=2,
            cb=self._on_message,
        )


class CatchUp:
    """Every few seconds, send each subscribed client the projection rows newer than what it
    was sent (one query per tenant with clients).

    The snapshot and the live feed alone leave a gap: a delta the live feed broadcast before a
    client (re)subscribed, for a state the projection committed only after the snapshot was
    read (projection lagging after a database outage, messages redelivered after a replica
    died holding them), a delta published while this replica was down (its live feed starts at
    new messages), or a correction another replica's drift check wrote would never reach it.
    """

    def __init__(self, pool: Callable[[], asyncpg.Pool | None], hub: Hub, *, every: float) -> None:
        self._pool = pool
        self._hub = hub
        self._every = every
        self._loop: Supervised | None = None

    def start(self) -> None:
        rounds = periodic(
            self._every,
            self._round,
            what="catch-up skipped",  # the database is away: next round
            log=log,
            errors=(OSError, asyncpg.PostgresError, asyncpg.InterfaceError),
            level=logging.DEBUG,
        )
        self._loop = Supervised(rounds, name="catch-up", log=log)

    async def stop(self) -> None:
        if self._loop is not None:
            await self._loop.stop()

    async def _round(self) -> None:
        await self.once()

    async def once(self) -> int:
        """One round; how many changes were queued."""
        pool = self._pool()
        if pool is None:
            return 0
        by_tenant: dict[str, list[Client]] = {}
        for client in self._hub.clients():
            if client.synced and not client.slow.is_set():
                by_tenant.setdefault(client.tenant, []).append(client)
        queued = 0
        for tenant, clients in by_tenant.items():
            async with pool.acquire() as conn:
                rows = await queries.projection_snapshot(conn, tenant, include_deleted=True)
            for row in rows:
                order = order_of(row.last_revision, row.last_event_time)
                deleted = row.deleted
                if deleted:
                    order = (FINAL_REVISION, order[1])  # as the server.deleted event's delta
                delta = None
                for client in clients:
                    if client.slow.is_set() or not client.wants(row.name):
                        continue
                    seen = client.latest(row.uid)
                    if deleted and seen is None:
                        continue  # never shown to this client: nothing to remove
                    if seen is not None and order <= seen:
                        continue  # the client has (or has pending) this state, or a newer one
                    if delta is None:
                        delta = delta_from_row(row.to_json(), reason="projection")
                        delta = replace(delta, order=order)
                    queued += self._hub.send_to(client, delta)
        return queued
