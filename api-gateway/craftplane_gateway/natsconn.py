"""The gateway's NATS connection, kept alive in the background; others wait on `connected`."""

from __future__ import annotations

import asyncio

import nats
from nats.aio.client import Client
from nats.js import JetStreamContext

from craftplane import logs
from craftplane.supervise import Backoff, Supervised, retry
from craftplane_gateway import metrics

log = logs.get_logger(__name__)


class NatsLink:
    def __init__(self, url: str) -> None:
        self.url = url
        self.nc: Client | None = None
        self.js: JetStreamContext | None = None
        self.connected = asyncio.Event()
        self.disconnected = asyncio.Event()
        self.disconnected.set()
        self.generation = 0  # bumped on every (re)connect, so loops know to re-subscribe
        self._loop: Supervised | None = None

    def start(self) -> None:
        self._loop = Supervised(self._connect_loop, name="nats-connect", log=log)

    async def close(self) -> None:
        if self._loop is not None:
            await self._loop.stop()
        if self.nc is not None and not self.nc.is_closed:
            try:
                await asyncio.wait_for(self.nc.drain(), timeout=5)
            except Exception:  # noqa: BLE001 - closing anyway
                await self.nc.close()

    @property
    def is_connected(self) -> bool:
        return self.nc is not None and self.nc.is_connected

    async def _connect_loop(self) -> None:
        await retry(self._connect, what="connecting to NATS", log=log, backoff=Backoff())

    async def _connect(self) -> None:
        self.nc = await nats.connect(
            self.url,
            name="craftplane-gateway",
            allow_reconnect=True,
            max_reconnect_attempts=-1,
            reconnect_time_wait=1,
            connect_timeout=3,
            disconnected_cb=self._on_disconnect,
            reconnected_cb=self._on_reconnect,
        )
        self.js = self.nc.jetstream(timeout=5)
        self._mark_up()
        log.info("connected to NATS", extra={"url": self.url})

    def _mark_up(self) -> None:
        self.generation += 1
        self.disconnected.clear()
        self.connected.set()
        metrics.NATS_CONNECTED.set(1)

    async def _on_disconnect(self) -> None:
        self.connected.clear()
        self.disconnected.set()
        metrics.NATS_CONNECTED.set(0)
        log.warning("disconnected from NATS: polling the cluster until it returns")

    async def _on_reconnect(self) -> None:
        self._mark_up()
        log.info("reconnected to NATS")
