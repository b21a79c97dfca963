"""The durable projection: one JetStream pull consumer shared by every gateway replica.

Each fetched batch is applied in one database transaction and acknowledged only after it
committed; on a database error the batch is handed back (nak with delay) and nothing is lost.
A message that is not a valid event goes to the dead-letter table and is terminated, so it is
not redelivered forever.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

import asyncpg
from nats.aio.msg import Msg
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError

from craftplane import logs
from craftplane.contracts import events as contract
from craftplane.contracts.events import AnyEvent
from craftplane.supervise import Supervised
from craftplane_gateway import metrics
from craftplane_gateway.db import projection
from craftplane_gateway.natsconn import NatsLink

log = logs.get_logger(__name__)

NAK_DELAY = 2.0


class Projector:
    def __init__(
        self,
        link: NatsLink,
        pool: Callable[[], asyncpg.Pool | None],
        *,
        durable: str,
        batch: int,
    ) -> None:
        self._link = link
        self._pool = pool
        self._durable = durable
        self._batch = batch
        self._loop: Supervised | None = None
        self.projected = 0

    def start(self) -> None:
        # Any stream failure (NATS going away mid-fetch, typically) ends a run; the supervisor
        # resubscribes a second later, every time: these failures are routine, not a bug.
        self._loop = Supervised(
            self._run,
            name="projection consumer",
            log=log,
            restart_after=1.0,
            max_restart_after=1.0,
            level=logging.WARNING,
        )

    async def stop(self) -> None:
        if self._loop is not None:
            await self._loop.stop()

    async def _run(self) -> None:
        while True:
            await self._consume()

    async def _consume(self) -> None:
        while self._pool() is None:  # noqa: ASYNC110 - the pool appears via a getter
            await asyncio.sleep(0.5)  # nothing can be projected before the database answers
        await self._link.connected.wait()
        js = self._link.js
        assert js is not None
        try:
            await js.stream_info(contract.STREAM_NAME)
        except NotFoundError:
            log.info("stream %s not there yet; waiting for the operator", contract.STREAM_NAME)
            await asyncio.sleep(2)
            return
        sub = await js.pull_subscribe(
            contract.subject_filter(),
            durable=self._durable,
            stream=contract.STREAM_NAME,
            config=ConsumerConfig(
                ack_policy=AckPolicy.EXPLICIT,
                deliver_policy=DeliverPolicy.ALL,
                ack_wait=30,
                max_ack_pending=10_000,
            ),
        )
        last_lag_check = 0.0
        while self._link.is_connected:
            try:
                msgs = await sub.fetch(self._batch, timeout=1)
            except TimeoutError:
                msgs = []
            if msgs:
                await self._project(msgs)
            if time.monotonic() - last_lag_check > 2:
                last_lag_check = time.monotonic()
                info = await sub.consumer_info()
                metrics.PROJECTION_LAG.set((info.num_pending or 0) + (info.num_ack_pending or 0))

    async def _project(self, msgs: list[Msg]) -> None:
        started = time.perf_counter()
        good: list[tuple[int, AnyEvent]] = []
        good_msgs: list[Msg] = []
        bad: list[tuple[Msg, str]] = []
        for msg in msgs:
            try:
                good.append((msg.metadata.sequence.stream, contract.decode(msg.data)))
                good_msgs.append(msg)
            except contract.InvalidEvent as exc:
                bad.append((msg, str(exc)))
        pool = self._pool()
        try:
            if pool is None:
                raise ConnectionError("database not connected")
            async with pool.acquire() as conn:
                if good:
                    await projection.apply_batch(conn, good)
                for msg, error in bad:
                    await projection.record_dead_letter(
                        conn, msg.metadata.sequence.stream, msg.subject, msg.data, error
                    )
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, ConnectionError) as exc:
            metrics.NAKS.inc()
            log.warning("projection of %d events failed (%s); handing them back", len(msgs), exc)
            for msg in msgs:
                await msg.nak(delay=NAK_DELAY)
            await asyncio.sleep(NAK_DELAY)
            return
        for msg in good_msgs:
            await msg.ack()
        for msg, error in bad:
            metrics.DEAD_LETTERS.inc()
            log.warning("dead-lettered message %s: %s", msg.metadata.sequence.stream, error[:200])
            await msg.term()
        self.projected += len(good)
        metrics.PROJECTED.inc(len(good))
        metrics.PROJECTION_BATCH_SECONDS.observe(time.perf_counter() - started)
