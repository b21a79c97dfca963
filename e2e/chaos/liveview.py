"""A dashboard-like WebSocket client that keeps a live view of every server through failures."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime
from typing import Any

from websockets.exceptions import WebSocketException

from craftplane.testing.gateway import WsClient, connect_ws
from craftplane.testing.processes import ManagedProcess

# How a WebSocket connection can end or fail to start: refused, closed (normally or not), silent
# for too long, or an unexpected first frame.
CONNECTION_ENDED = (OSError, TimeoutError, AssertionError, ValueError, KeyError, WebSocketException)


class LiveView:
    """Holds every server's latest state as a browser would: a snapshot, then event frames
    merged by name. Whenever the connection ends (gateway killed, dropped as too slow ...) it
    reconnects and subscribes again, which brings a fresh snapshot."""

    def __init__(self, label: str, gateway: ManagedProcess, token: str) -> None:
        self.label = label
        self.gateway = gateway
        self.token = token
        self.servers: dict[str, dict[str, Any]] = {}
        self.synced = False  # holds a snapshot of the current connection
        self.connects = 0
        self.snapshots = 0
        self.events = 0
        self.snapshot_times: list[datetime] = []
        self._task: asyncio.Task[None] | None = None
        self._client: WsClient | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"ws-{self.label}")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(BaseException):
                await self._task
        if self._client is not None:
            with contextlib.suppress(Exception):
                await self._client.conn.close()

    async def _run(self) -> None:
        while True:
            try:
                client = await connect_ws(self.gateway.http_port, self.token)
            except CONNECTION_ENDED:  # refused while the gateway is down, closed during auth
                await asyncio.sleep(0.5)
                continue
            self._client = client
            self.connects += 1
            try:
                await self._read(client)
            except CONNECTION_ENDED:  # the gateway died, a database error, too slow
                pass
            finally:
                self.synced = False
                with contextlib.suppress(Exception):
                    await client.conn.close()
            await asyncio.sleep(0.5)

    async def _read(self, client: WsClient) -> None:
        while True:
            # Metrics frames come every few seconds once subscribed: a long silence is a
            # connection that is dead without having been closed.
            frame = await client.next(timeout=45)
            client.frames.clear()
            kind = frame.get("type")
            if kind == "snapshot":
                self.servers = {s["name"]: dict(s) for s in frame["servers"]}
                self.synced = True
                self.snapshots += 1
                self.snapshot_times.append(datetime.now(UTC))
            elif kind == "event":
                self.events += 1
                server = frame["server"]
                self.servers.setdefault(server["name"], {}).update(server)
            elif kind == "error" and frame.get("code") == "unavailable":
                await asyncio.sleep(1)  # the database is away: ask again
                await client.send({"type": "subscribe", "servers": "all"})
