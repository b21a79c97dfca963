"""/api/v1/ws: a tenant's servers, live.

Protocol (JSON text frames, the models in :mod:`craftplane_gateway.ws_frames`):
  client -> {"type": "auth", "token": "..."}          unless a header or cookie carried it
  server -> {"type": "ready", "tenant": "..."}
  client -> {"type": "subscribe", "servers": "all" | ["name", ...]}   at most 1000 names
  server -> {"type": "snapshot", "servers": [...]}     the projection, then deltas with no gap
  server -> {"type": "event", "event": {...}, "server": {...}}   changed fields of one server
             (+ "coalesced": n when the client was behind and it merges n changes: hub.py)
  server -> {"type": "metrics", "playersByServer": {...}, "serversByStatus": {...}} every 30 s
  client -> {"type": "ping", "id": "7"}  server -> {"type": "pong", "id": "7"}  (id optional)
  server -> {"type": "error", "code": "...", "message": "..."}  the socket stays open
  client -> {"type": "console.open", "server": "x", "tail": 100}   follow x's log (one at a time)
  server -> {"type": "console.line", "server": "x", "line": "..."}
  client -> {"type": "console.close", "server": "x"}
  client -> {"type": "console.command", "server": "x", "command": "list", "id": "c1"}
  server -> {"type": "console.output", "server": "x", "id": "c1", "command": "list", "output": ""}
         or {"type": "console.error", "server": "x", "id": "c1", "status": 429, "detail": "...",
             "retryAfter": 1}   (see routes/ws_console.py)
  server -> {"type": "backup", "server": "x", "change": "added"|"modified"|"deleted",
             "backup": {...}}   a backup of a subscribed server, as GET /backups/{backup}
  server -> {"type": "restore", "server": "x", "change": ..., "restore": {...}}   likewise
             (both at most ~2 per second per object, the latest always sent: backup_watch.py)
Close codes: 1008 origin or token refused, 1009 a client message over 64 KiB (the setting
ws_max_frame_bytes), 4001 not authenticated in time, or the token expired or was revoked while
open, 4008 not reading (a send waited ws_stall_seconds, or more servers with unsent changes
than client_queue; a client that reads at any steady rate is never closed for it). JSON nested
deeper than 64 levels is an error frame. Error messages never quote more than a few dozen
characters of what the client sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from typing import Any

from pydantic import BaseModel, ValidationError
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from craftplane import logs
from craftplane_gateway import auth, bodies, metrics, problems, ws_guard
from craftplane_gateway.db import queries
from craftplane_gateway.frames import order_of
from craftplane_gateway.hub import SLOW_CLIENT_CLOSE, Client
from craftplane_gateway.routes.common import check_tenant
from craftplane_gateway.routes.servers import server_out
from craftplane_gateway.routes.ws_console import CONSOLE_FRAMES, ConsoleChannel
from craftplane_gateway.state import GatewayState
from craftplane_gateway.ws_frames import (
    MAX_SUBSCRIBED_SERVERS,
    AnyClientFrame,
    AuthFrame,
    ConsoleCloseFrame,
    ConsoleCommandFrame,
    ConsoleOpenFrame,
    ErrorFrame,
    MetricsFrame,
    PingFrame,
    PongFrame,
    ReadyFrame,
    SnapshotFrame,
    SubscribeFrame,
    frame_json,
    parse_client_frame,
)

log = logs.get_logger(__name__)

AUTH_TIMEOUT = 5.0
POLICY_VIOLATION = 1008
# The error frame's code for a refused authentication, by the problem's status.
_REFUSALS = {404: "not_found", 503: "unavailable"}
AUTH_MISSING = ws_guard.TOKEN_CLOSE
# Names quoted in a not_found error; the rest are counted.
MAX_NAMES_QUOTED = 10
CLIENT_FRAMES = ("subscribe", "ping", *CONSOLE_FRAMES)
SLOW_REASON = "too slow: reconnect for a snapshot"
CLOSE_SECONDS = 5.0


def _origin_allowed(ws: WebSocket, gw: GatewayState) -> bool:
    origin = ws.headers.get("origin")
    if origin is None:
        return True  # not a browser: nothing to protect against
    own = f"{'https' if ws.url.scheme == 'wss' else 'http'}://{ws.url.netloc}"
    return origin == own or origin in gw.settings.allowed_origins


class Session:
    def __init__(
        self, ws: WebSocket, gw: GatewayState, client: Client, who: auth.Principal
    ) -> None:
        self.ws = ws
        self.gw = gw
        self.client = client
        self.lock = asyncio.Lock()
        self.subscribed = asyncio.Event()
        self.console = ConsoleChannel(gw, who, self.send)
        self.sending_since: float | None = None  # when the send under way began

    async def send(self, frame: BaseModel | dict[str, Any]) -> None:
        """A frame model, or a delta the hub queued (built by frames.py, already JSON-ready)."""
        if isinstance(frame, BaseModel):
            text = frame_json(frame)
        else:
            text = json.dumps(frame, separators=(",", ":"), default=str)
        async with self.lock:
            self.sending_since = time.monotonic()
            try:
                await self.ws.send_text(text)
            finally:
                self.sending_since = None
        metrics.WS_SENT.inc()

    async def stall_watch(self) -> None:
        """Drop the client once one send has waited ``stall_seconds``. A send waits only while
        the client's buffers are full: that long means it stopped reading (one that reads at
        any rate drains them in moments). One timer per socket, not one per send."""
        stall = self.gw.hub.stall_seconds
        while True:
            await asyncio.sleep(stall / 4)
            since = self.sending_since
            if since is not None and time.monotonic() - since >= stall:
                self.client.drop(f"a send waited {stall:g}s for it to read")
                return

    async def subscribe(self, frame: SubscribeFrame) -> None:
        names = None if frame.servers == "all" else frozenset(frame.servers)
        pool = self.gw.db.get()
        if pool is None:
            await self.send(
                ErrorFrame(code="unavailable", message="the database is unreachable; retry shortly")
            )
            return
        self.subscribed.clear()
        self.client.synced = False
        self.client.servers = names
        async with pool.acquire() as conn:
            rows = await queries.projection_snapshot(
                conn, self.client.tenant, names=sorted(names) if names else None
            )
        if names is not None:
            missing = names - {row.name for row in rows}
            if missing:
                # Another tenant's server looks exactly like one that does not exist.
                self.client.servers = frozenset()
                await self.send(ErrorFrame(code="not_found", message=missing_message(missing)))
                return
        self.client.view = {
            row.uid: order_of(row.last_revision, row.last_event_time) for row in rows
        }
        await self.send(SnapshotFrame(servers=[server_out(row) for row in rows]))
        self.client.synced = True
        self.subscribed.set()

    async def sender(self) -> None:
        while True:
            pending = await self.client.queue.get()
            await self.subscribed.wait()
            frame = self.client.frame_for(pending)
            if frame is not None:
                await self.send(frame)

    async def metrics_frames(self) -> None:
        while True:
            await asyncio.sleep(self.gw.settings.metrics_frame_seconds)
            pool = self.gw.db.get()
            if pool is None or not self.subscribed.is_set():
                continue
            async with pool.acquire() as conn:
                counts = await queries.status_counts(conn, self.client.tenant)
                players = await queries.players_by_server(conn, self.client.tenant)
            await self.send(
                MetricsFrame.model_validate(
                    {"players_by_server": {p.name: p.online for p in players},
                     "servers_by_status": counts}
                )
            )  # fmt: skip

    async def receiver(self) -> None:
        limit = self.gw.settings.ws_max_frame_bytes
        while True:
            text = await ws_guard.receive_text(self.ws, limit)
            frame = await self._parse(text)
            if isinstance(frame, SubscribeFrame):
                await self.subscribe(frame)
            elif isinstance(frame, PingFrame):
                await self.send(PongFrame(id=frame.id))
            elif isinstance(frame, ConsoleOpenFrame | ConsoleCloseFrame | ConsoleCommandFrame):
                await self.console.handle(frame)

    async def _parse(self, text: str) -> AnyClientFrame | None:
        """The client frame in ``text``, or None after answering an error frame."""
        try:
            data = bodies.loads(text)
        except bodies.TooDeep as exc:
            await self.send(ErrorFrame(code="bad_frame", message=str(exc)))
            return None
        except ValueError:
            await self.send(ErrorFrame(code="bad_frame", message="not JSON"))
            return None
        if not isinstance(data, dict):
            await self.send(ErrorFrame(code="bad_frame", message="not JSON (an object)"))
            return None
        kind = data.get("type")
        if not isinstance(kind, str) or kind not in CLIENT_FRAMES:
            shown = bodies.short(repr(kind), 60)
            await self.send(ErrorFrame(code="bad_frame", message=f"unknown frame type {shown}"))
            return None
        try:
            return parse_client_frame(text)
        except ValidationError as exc:
            await self.send(_refusal(kind, exc))
            return None


def _refusal(kind: str, exc: ValidationError) -> ErrorFrame:
    if kind == "subscribe":
        return ErrorFrame(
            code="bad_request",
            message=(
                f'servers must be "all" or a list of at most {MAX_SUBSCRIBED_SERVERS} server names'
            ),
        )
    first = exc.errors()[0]
    where = bodies.short(".".join(str(part) for part in first["loc"][1:]) or "frame", 60)
    message = bodies.short(str(first["msg"]), 160)
    return ErrorFrame(code="bad_frame", message=f"{kind} frame: {where}: {message}")


def missing_message(missing: frozenset[str] | set[str]) -> str:
    """The not_found message for unknown subscribed names: a few quoted, the rest counted."""
    names = sorted(missing)
    shown = ", ".join(names[:MAX_NAMES_QUOTED])
    more = len(names) - MAX_NAMES_QUOTED
    return f"no such servers: {shown}" + (f" and {more} more" if more > 0 else "")


async def _first_token(ws: WebSocket, gw: GatewayState) -> str | None:
    """The token of the client's first frame (an auth frame), or None."""
    try:
        async with asyncio.timeout(AUTH_TIMEOUT):
            text = await ws_guard.receive_text(ws, gw.settings.ws_max_frame_bytes)
        first = parse_client_frame(text)
    except (TimeoutError, ValidationError, ws_guard.FrameTooBig):
        return None
    return first.token if isinstance(first, AuthFrame) else None


async def _authenticate(ws: WebSocket, gw: GatewayState) -> auth.Principal | None:
    try:
        token = auth.token_from_websocket(ws)
    except problems.Problem:
        await ws.close(code=POLICY_VIOLATION)
        return None
    await ws.accept()
    if token is None:
        token = await _first_token(ws, gw)
        if not token:
            await ws.close(code=AUTH_MISSING, reason="authenticate first")
            return None
    try:
        who = auth.principal_from_token(
            token, gw.settings.token_key, max_lifetime=gw.settings.token_max_lifetime
        )
        gw.revocations.check(who)
        # As on every REST route: no session for a tenant without its tenant namespace.
        await check_tenant(gw, who, None)
    except problems.Problem as exc:
        message = bodies.short(exc.detail or exc.title, 200)
        code = _REFUSALS.get(exc.status, "unauthorized")
        await ws.send_text(frame_json(ErrorFrame(code=code, message=message)))
        reason = "not found" if exc.status == 404 else "invalid token"
        await ws.close(code=POLICY_VIOLATION, reason=reason)
        return None
    return who


async def endpoint(ws: WebSocket) -> None:
    gw: GatewayState = ws.state.gw
    if not _origin_allowed(ws, gw):
        await ws.close(code=POLICY_VIOLATION)
        return
    who = await _authenticate(ws, gw)
    if who is None:
        return
    client = gw.hub.register(who.tenant)
    session = Session(ws, gw, client, who)
    guard = asyncio.create_task(ws_guard.token_ends(who, gw.revocations))
    slow = asyncio.create_task(client.slow.wait())
    receiver = asyncio.create_task(session.receiver())
    tasks = [
        receiver,
        asyncio.create_task(session.sender()),
        asyncio.create_task(session.metrics_frames()),
        asyncio.create_task(session.stall_watch()),
        slow,
        guard,
    ]
    try:
        await session.send(ReadyFrame(tenant=who.tenant))
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        await _close_for(ws, done, client=client, guard=guard, receiver=receiver)
        for task in done:
            if task not in (slow, guard) and not task.cancelled() and task.exception() is not None:
                exc = task.exception()
                if not isinstance(exc, WebSocketDisconnect | RuntimeError | ws_guard.FrameTooBig):
                    log.warning("WebSocket session ended: %r", exc)
    finally:
        for task in tasks:
            task.cancel()
        await session.console.close()
        gw.hub.unregister(client)
        if not client.slow.is_set():  # else tried already, and it may never go out
            await _close(ws)


async def _close_for(
    ws: WebSocket,
    done: set[asyncio.Task[Any]],
    *,
    client: Client,
    guard: asyncio.Task[Any],
    receiver: asyncio.Task[Any],
) -> None:
    """Close with the code saying why the session ended: too slow, the token, a big frame."""
    if client.slow.is_set():  # the flag, not its waiter task: they end in the same loop turn
        await _close(ws, SLOW_CLIENT_CLOSE, SLOW_REASON)
    elif guard in done and not guard.cancelled() and guard.exception() is None:
        await _close(ws, ws_guard.TOKEN_CLOSE, guard.result())
    elif receiver in done and isinstance(_exception(receiver), ws_guard.FrameTooBig):
        await _close(ws, ws_guard.MESSAGE_TOO_BIG, str(_exception(receiver)))


async def _close(ws: WebSocket, code: int = 1000, reason: str | None = None) -> None:
    """Close the socket if it is open. A close frame waits for room like any send: to a client
    that stopped reading it never goes, so the wait is bounded (the transport is closed by
    the server's keep-alive ping timeout, or when the client goes)."""
    if ws.application_state != WebSocketState.CONNECTED:
        return
    with contextlib.suppress(RuntimeError, TimeoutError, WebSocketDisconnect):
        async with asyncio.timeout(CLOSE_SECONDS):
            await ws.close(code=code, reason=reason)


def _exception(task: asyncio.Task[Any]) -> BaseException | None:
    return None if task.cancelled() else task.exception()
