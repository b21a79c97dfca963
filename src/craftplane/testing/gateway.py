"""A gateway process under test, with a database and durable consumer of its own."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import websockets

from craftplane.testing.platform import Platform
from craftplane.testing.processes import ManagedProcess, console_script, free_port

ROOT = Path(__file__).resolve().parents[3]


def gateway_process(
    platform: Platform,
    *,
    index: int,
    database_url: str,
    token_key: str,
    consumer: str,
    port: int | None = None,
    extra: dict[str, str] | None = None,
) -> ManagedProcess:
    port = port or free_port()
    origin = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "KUBECONFIG": str(platform.kubeconfig),
        "NATS_URL": platform.nats_url,
        "DATABASE_URL": database_url,
        "CRAFTPLANE_TOKEN_KEY": token_key,
        "CRAFTPLANE_ALLOWED_ORIGINS": json.dumps([origin, f"http://localhost:{port}"]),
        "CRAFTPLANE_GATEWAY_PORT": str(port),
        "CRAFTPLANE_GATEWAY_HOST": "127.0.0.1",
        "CRAFTPLANE_GATEWAY_RCON_REACH": "pod-ip",
        "CRAFTPLANE_GATEWAY_CONSUMER_NAME": consumer,
        "CRAFTPLANE_GATEWAY_POLL_SECONDS": "2",
        "CRAFTPLANE_GATEWAY_DRIFT_SECONDS": "10",
        "CRAFTPLANE_GATEWAY_METRICS_FRAME_SECONDS": "5",
        "CRAFTPLANE_GATEWAY_DASHBOARD_DIR": str(ROOT / "dashboard" / "dist"),
        **(extra or {}),
    }
    return ManagedProcess(
        name=f"gateway-{index}",
        argv=[console_script("craftplane-gateway")],
        env=env,
        log_path=ROOT / "test-artifacts" / f"gateway-{index}.log",
        http_port=port,
    )


def unique_consumer() -> str:
    return f"test-projection-{secrets.token_hex(4)}"


@dataclass(frozen=True)
class Tenant:
    name: str
    namespace: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


class WsClient:
    """A WebSocket client speaking the gateway's protocol, collecting every frame."""

    def __init__(self, conn: Any) -> None:
        self.conn = conn
        self.frames: list[dict[str, Any]] = []

    async def send(self, frame: dict[str, Any]) -> None:
        await self.conn.send(json.dumps(frame))

    async def next(self, timeout: float = 30) -> dict[str, Any]:
        frame: dict[str, Any] = json.loads(await asyncio.wait_for(self.conn.recv(), timeout))
        self.frames.append(frame)
        return frame

    async def until(self, predicate: Any, timeout: float = 60) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"no matching frame within {timeout}s; got {self.frames[-5:]}")
            try:
                frame = await self.next(remaining)
            except TimeoutError as exc:
                raise AssertionError(
                    f"no matching frame; got {[(f.get('type'), (f.get('server') or {}).get('status'), (f.get('event') or {}).get('type')) for f in self.frames]}"
                ) from exc
            if predicate(frame):
                return frame


async def connect_ws(port: int, token: str, servers: Any = "all") -> WsClient:
    conn = await websockets.connect(f"ws://127.0.0.1:{port}/api/v1/ws")
    client = WsClient(conn)
    await client.send({"type": "auth", "token": token})
    ready = await client.next()
    assert ready["type"] == "ready", ready
    await client.send({"type": "subscribe", "servers": servers})
    return client


def status_of(frame: dict[str, Any], name: str) -> str | None:
    if frame.get("type") == "event" and frame["server"].get("name") == name:
        status: str | None = frame["server"].get("status")
        return status
    if frame.get("type") == "snapshot":
        for server in frame["servers"]:
            if server["name"] == name:
                found: str | None = server.get("status")
                return found
    return None
