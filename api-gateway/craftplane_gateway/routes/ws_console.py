"""The WebSocket's console channel: one followed server log per socket, and console commands
with the same checks, limit and timeline as ``POST /servers/{name}/console``.

A followed log is reopened when its stream ends (the pod restarted or was replaced, the API
server dropped the watch): a new container instance is read from its start, the same one from
shortly before the stream ended (a line may repeat then, none is lost).
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections.abc import Awaitable, Callable
from typing import Any, Final

from pydantic import BaseModel

from craftplane import logs
from craftplane.contracts import names
from craftplane.kube import KubeError, pod_log_path
from craftplane_gateway import auth, problems
from craftplane_gateway.routes.console import check_command, run_command
from craftplane_gateway.routes.logs import MAX_TAIL, log_params, log_problem
from craftplane_gateway.routes.servers import checked_name, own_cr
from craftplane_gateway.state import GatewayState
from craftplane_gateway.ws_frames import (
    ConsoleCloseFrame,
    ConsoleCommandFrame,
    ConsoleErrorFrame,
    ConsoleLineFrame,
    ConsoleOpenFrame,
    ConsoleOutputFrame,
)

log = logs.get_logger(__name__)

CONSOLE_FRAMES: Final = ("console.open", "console.close", "console.command")
REOPEN_SECONDS: Final = 2.0
ConsoleFrame = ConsoleOpenFrame | ConsoleCloseFrame | ConsoleCommandFrame
Send = Callable[[BaseModel | dict[str, Any]], Awaitable[None]]


def error_frame(server: str, frame_id: str | None, problem: problems.Problem) -> dict[str, Any]:
    """A problem as the console.error frame (status, detail, retryAfter for 429)."""
    retry = problem.headers.get("Retry-After") if problem.status == 429 else None
    return ConsoleErrorFrame(
        server=server,
        id=frame_id,
        status=problem.status,
        detail=problem.detail or problem.title,
        retry_after=int(retry) if retry is not None else None,
    ).to_json()


def container_instance(pod: dict[str, Any] | None) -> tuple[str, int] | None:
    """(pod uid, restart count) of the server container: which instance a log belongs to."""
    if not pod:
        return None
    uid = str((pod.get("metadata") or {}).get("uid") or "")
    for status in (pod.get("status") or {}).get("containerStatuses") or []:
        if status.get("name") == names.SERVER_CONTAINER:
            return uid, int(status.get("restartCount") or 0)
    return uid, 0


def reopen_params(
    tail: int, streamed: tuple[str, int] | None, now: tuple[str, int] | None, ended: float | None
) -> dict[str, str]:
    """The pod log query for (re)opening: ``tail`` the first time, a new instance from its
    start, the same instance from just before the last stream ended."""
    params = log_params(tail=tail, follow=True, previous=False)
    if streamed is None or ended is None:
        return params
    if now != streamed:
        params["tailLines"] = str(MAX_TAIL)
        return params
    del params["tailLines"]
    params["sinceSeconds"] = str(max(1, math.ceil(time.monotonic() - ended) + 1))
    return params


class ConsoleChannel:
    def __init__(self, gw: GatewayState, who: auth.Principal, send: Send) -> None:
        self._gw = gw
        self._who = who
        self._send = send
        self._server: str | None = None
        self._task: asyncio.Task[None] | None = None

    async def handle(self, frame: ConsoleFrame) -> None:
        if isinstance(frame, ConsoleOpenFrame):
            await self.open(frame.server, frame.tail)
        elif isinstance(frame, ConsoleCloseFrame):
            if frame.server == self._server:
                await self.close()
        else:
            await self.command(frame)

    async def open(self, server: str, tail: int) -> None:
        await self.close()
        try:
            await own_cr(self._gw, self._who, checked_name(server))
        except problems.Problem as problem:
            await self._send(error_frame(server, None, problem))
            return
        self._server = server
        self._task = asyncio.create_task(self._follow(server, tail), name=f"console {server}")

    async def close(self) -> None:
        task, self._task, self._server = self._task, None, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def command(self, frame: ConsoleCommandFrame) -> None:
        try:
            check_command(frame.command)
            reply = await run_command(self._gw, self._who, frame.server, frame.command)
        except problems.Problem as problem:
            await self._send(error_frame(frame.server, frame.id, problem))
            return
        out = ConsoleOutputFrame(
            server=frame.server, id=frame.id, command=reply.command, output=reply.output
        )
        await self._send(out.model_dump(mode="json", by_alias=True))

    async def _follow(self, server: str, tail: int) -> None:
        """Stream the log until closed, reopening it whenever it ends."""
        kube, namespace = self._gw.kube, self._who.namespace
        pod_name = names.server_pod_name(server)
        streamed: tuple[str, int] | None = None
        ended: float | None = None
        told = False
        while True:
            opened = False
            try:
                now = container_instance(await kube.get("Pod", namespace, pod_name))
                params = reopen_params(tail, streamed, now, ended)
                async with kube.open_lines(pod_log_path(namespace, pod_name), params) as lines:
                    streamed, told, opened = now, False, True
                    async for line in lines:
                        await self._send(ConsoleLineFrame(server=server, line=line))
            except KubeError as exc:
                if not told:  # once per outage: the channel waits for the pod
                    await self._send(error_frame(server, None, log_problem(exc, server)))
                    told = True
                log.debug("console log not open: %s", exc, extra={"server": server})
            finally:
                if opened:
                    ended = time.monotonic()
            await asyncio.sleep(REOPEN_SECONDS)
