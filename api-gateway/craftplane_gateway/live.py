"""Every replica sees every event for its own WebSocket clients (not through the shared
projection consumer): an ordered, ephemeral JetStream consumer starting at new messages."""

from __future__ import annotations

import asyncio
import logging

from nats.aio.msg import Msg
from nats.js.api import DeliverPolicy

from craftplane.contracts import events as contract
from craftplane_gateway.frames import delta_from_event
from craftplane_gateway.hub import Hub
from craftplane_gateway.natsconn import NatsLink

log = logging.getLogger("craftplane.gateway.live")


class LiveFeed:
    def __init__(self, link: NatsLink, hub: Hub) -> None:
        self._link = link
        self._hub = hub
        self._task: asyncio.Task[None] | None = None
        self.received = 0

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="live-feed")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()

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
        while True:
            await self._link.connected.wait()
            js = self._link.js
            assert js is not None
            try:
                # nats-py keeps the subscription across reconnects, and an ordered consumer
                # re-creates itself from the last sequence it saw when heartbeats stop.
                await js.subscribe(
                    f"{contract.SUBJECT_PREFIX}.>",
                    stream=contract.STREAM_NAME,
                    ordered_consumer=True,
                    deliver_policy=DeliverPolicy.NEW,
                    idle_heartbeat=2,
                    cb=self._on_message,
                )
                return
            except Exception as exc:  # noqa: BLE001 - the stream may not exist yet; retried
                log.info("live feed not subscribed yet: %s", exc)
                await asyncio.sleep(2)
