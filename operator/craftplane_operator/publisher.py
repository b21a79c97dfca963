"""Publishing to NATS JetStream with a deterministic Nats-Msg-Id, surviving NATS outages.

Connection and publication run in the background: the reconciler only puts events in the
outbox and never waits for NATS. A publication counts once JetStream acknowledged it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

import nats
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import DiscardPolicy, RetentionPolicy, StorageType, StreamConfig
from nats.js.errors import BadRequestError

from craftplane import logs
from craftplane.contracts import events as contract
from craftplane.contracts.events import AnyEvent, SyncEvent
from craftplane.supervise import Backoff, Supervised, retry, stop_all
from craftplane_operator import metrics
from craftplane_operator.outbox import Outbox

log = logs.get_logger(__name__)

SyncHandler = Callable[[SyncEvent], Awaitable[None]]


def stream_config(name: str = contract.STREAM_NAME) -> StreamConfig:
    return StreamConfig(
        name=name,
        subjects=list(contract.STREAM_SUBJECTS),
        retention=RetentionPolicy.LIMITS,
        storage=StorageType.FILE,
        max_age=contract.STREAM_MAX_AGE_SECONDS,
        duplicate_window=contract.DUPLICATE_WINDOW_SECONDS,
        discard=DiscardPolicy.OLD,
    )


async def ensure_stream(js: JetStreamContext, name: str = contract.STREAM_NAME) -> None:
    config = stream_config(name)
    try:
        await js.add_stream(config)
    except BadRequestError:
        await js.update_stream(config)


class Publisher:
    def __init__(self, url: str, *, on_sync: SyncHandler | None = None) -> None:
        self._url = url
        self._on_sync = on_sync
        self.outbox = Outbox()
        self._nc: Client | None = None
        self._js: JetStreamContext | None = None
        self._connected = asyncio.Event()
        self._loops: list[Supervised] = []
        self.published = 0

    def submit(self, event: AnyEvent) -> None:
        self.outbox.put(event)

    async def start(self) -> None:
        self._loops = [
            Supervised(self._connect_loop, name="nats-connect", log=log),
            Supervised(self._publish_loop, name="nats-publish", log=log),
        ]

    async def stop(self) -> None:
        await stop_all(self._loops)
        if self._nc is not None and self._nc.is_connected:
            with contextlib.suppress(TimeoutError, nats.errors.Error):
                await asyncio.wait_for(self._nc.drain(), timeout=5)

    @property
    def connected(self) -> bool:
        return self._nc is not None and self._nc.is_connected

    async def _connect_loop(self) -> None:
        def failed(_: BaseException) -> None:
            metrics.NATS_CONNECTED.set(0)

        await retry(
            self._connect, what="connecting to NATS", log=log, on_failure=failed, backoff=Backoff()
        )

    async def _connect(self) -> None:
        nc = await nats.connect(
            self._url,
            name="craftplane-operator",
            allow_reconnect=True,
            max_reconnect_attempts=-1,
            reconnect_time_wait=1,
            connect_timeout=3,
            disconnected_cb=self._disconnected,
            reconnected_cb=self._reconnected,
        )
        try:
            js = nc.jetstream(timeout=5)
            await ensure_stream(js)
            if self._on_sync is not None:
                subject = contract.subject_filter(contract.EventType.SYNC_REQUIRED)
                await nc.subscribe(subject, cb=self._sync_message)
        except Exception:
            # Connected but the stream could not be checked (NATS went away again): close it,
            # or its reconnect callbacks would keep firing for a client nobody publishes on.
            with contextlib.suppress(Exception):
                await nc.close()
            raise
        self._nc, self._js = nc, js
        self._connected.set()
        metrics.NATS_CONNECTED.set(1)
        log.info("connected to NATS", extra={"url": self._url})

    async def _disconnected(self) -> None:
        metrics.NATS_CONNECTED.set(0)
        self._connected.clear()
        log.warning("disconnected from NATS; events wait in the outbox")

    async def _reconnected(self) -> None:
        if self._js is None:
            return  # the first connection is still being set up; _connect_loop finishes it
        metrics.NATS_CONNECTED.set(1)
        try:
            await ensure_stream(self._js)
        except Exception as exc:  # noqa: BLE001 - the next publish retries
            log.warning("could not re-check the stream after reconnecting: %s", exc)
        self._connected.set()
        log.info("reconnected to NATS; publishing %d waiting events", len(self.outbox))

    async def _sync_message(self, msg: Msg) -> None:
        try:
            event = contract.decode(msg.data)
        except contract.InvalidEvent as exc:
            log.warning("ignoring an invalid sync request: %s", exc)
            return
        if isinstance(event, SyncEvent) and self._on_sync is not None:
            await self._on_sync(event)

    async def _publish_loop(self) -> None:
        backoff = Backoff(initial=0.2, maximum=5)
        while True:
            event = await self.outbox.next()
            await self._connected.wait()
            if self._js is None:
                # Not possible by construction, but a dead publish loop loses every later
                # event without a trace: wait rather than fail.
                await asyncio.sleep(0.5)
                continue
            try:
                ack = await self._js.publish(
                    contract.subject_for(event),
                    contract.encode(event),
                    headers={"Nats-Msg-Id": event.id},
                    timeout=5,
                )
            except Exception as exc:  # noqa: BLE001 - retried with backoff, never lost
                metrics.EVENTS_FAILED.inc()
                delay = backoff.failed()
                log.warning("publish of %s failed (%s); retrying in %.1fs", event.type, exc, delay)
                await asyncio.sleep(delay)
                continue
            backoff.reset()
            self.outbox.done(event)
            self.published += 1
            if ack.duplicate:
                metrics.EVENTS_DUPLICATE.inc()
            else:
                metrics.EVENTS_PUBLISHED.labels(type=event.type.value).inc()
            log.debug("published %s for %s seq=%s", event.type, event.server, ack.seq)
