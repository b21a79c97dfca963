"""``GET /api/v1/servers/{name}/logs``: the server container's log, streamed from the
Kubernetes pod log API line by line (never buffered whole), as plain text or SSE.

The upstream request is opened before the response starts, so a refusal (no pod, no previous
container) is a 409 problem and not a broken stream; it is closed when the client goes away
or the log ends (a followed log ends when the pod goes away).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Final

from starlette.requests import Request
from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from craftplane import logs
from craftplane.contracts import names
from craftplane.kube import KubeClient, KubeError, pod_log_path
from craftplane_gateway import auth, problems
from craftplane_gateway.routes.common import principal, state_of
from craftplane_gateway.routes.servers import checked_name, own_cr

log = logs.get_logger(__name__)

TEXT: Final = "text/plain; charset=utf-8"
SSE: Final = "text/event-stream"
DEFAULT_TAIL: Final = 200
MAX_TAIL: Final = 5000
# A log that is not followed still gets an answer or an error in bounded time.
READ_TIMEOUT: Final = 60.0


def sse_event(line: str) -> str:
    """One log line as a server-sent event. A carriage return inside it would end the data
    line for the browser, so each piece is a data field of its own (joined again with \\n)."""
    pieces = line.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return "".join(f"data: {piece}\n" for piece in pieces) + "\n"


def text_line(line: str) -> str:
    return line + "\n"


def wants_sse(accept: str) -> bool:
    return any(part.split(";")[0].strip() == SSE for part in accept.split(","))


def _flag(request: Request, key: str) -> bool:
    raw = request.query_params.get(key, "false")
    if raw not in ("true", "false"):
        raise problems.bad_request(f"{key} must be true or false")
    return raw == "true"


def _tail(request: Request) -> int:
    raw = request.query_params.get("tail")
    if raw is None:
        return DEFAULT_TAIL
    try:
        tail = int(raw)
    except ValueError as exc:
        raise problems.bad_request("tail must be an integer") from exc
    if not 1 <= tail <= MAX_TAIL:
        raise problems.bad_request(f"tail must be between 1 and {MAX_TAIL}")
    return tail


def log_params(*, tail: int | None, follow: bool, previous: bool) -> dict[str, str]:
    """The pod log API's query for the server container."""
    params = {
        "container": names.SERVER_CONTAINER,
        "follow": "true" if follow else "false",
        "previous": "true" if previous else "false",
        "timestamps": "false",
    }
    if tail is not None:
        params["tailLines"] = str(tail)
    return params


def log_problem(exc: KubeError, name: str) -> problems.Problem:
    """A refusal of the pod log API as the caller's problem."""
    if exc.status == 0:
        return problems.service_unavailable("the Kubernetes API is unreachable; retry shortly")
    if exc.status >= 500:
        # The API answered, but the node's kubelet behind it did not: name that, not the API.
        return problems.service_unavailable(
            f"the node running server {name!r} did not serve its log: "
            f"{exc.body.get('message') or exc}"
        )
    if exc.status == 404:
        return problems.server_not_running(
            f"server {name!r} has no pod: {exc.body.get('message') or exc}"
        )
    if exc.status == 403:
        return problems.forbidden("the gateway may not read this tenant's pod logs")
    # 400: the container is not started yet, or has no previous instance.
    return problems.server_not_running(str(exc.body.get("message") or exc))


async def open_log(
    kube: KubeClient, stack: contextlib.AsyncExitStack, who: auth.Principal, name: str,
    params: dict[str, str],
) -> AsyncIterator[str]:  # fmt: skip
    """The server's log lines, the upstream held open by ``stack``; Problem when refused."""
    path = pod_log_path(who.namespace, names.server_pod_name(name))
    read_timeout = None if params.get("follow") == "true" else READ_TIMEOUT
    try:
        return await stack.enter_async_context(
            kube.open_lines(path, params, read_timeout=read_timeout)
        )
    except KubeError as exc:
        raise log_problem(exc, name) from exc


class LogResponse(StreamingResponse):
    """A streamed log that closes its upstream however the response ends (finished,
    failed, or the client went away)."""

    def __init__(
        self, stack: contextlib.AsyncExitStack, lines: AsyncIterator[str], *, sse: bool,
        server: str,
    ) -> None:  # fmt: skip
        self._stack = stack
        self._server = server
        render = sse_event if sse else text_line
        headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
        super().__init__(
            self._render(lines, render), media_type=SSE if sse else TEXT, headers=headers
        )

    async def _render(self, lines: AsyncIterator[str], render: object) -> AsyncIterator[str]:
        assert callable(render)
        try:
            async for line in lines:
                yield render(line)
        except KubeError as exc:
            # The response has started: all that can be done is to end it (and say why).
            log.info("log stream ended: %s", exc, extra={"server": self._server})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            await self._stack.aclose()


async def server_logs(request: Request) -> StreamingResponse:
    who = await principal(request)
    name = checked_name(request.path_params["name"])
    tail = _tail(request)
    params = log_params(
        tail=tail, follow=_flag(request, "follow"), previous=_flag(request, "previous")
    )
    gw = state_of(request)
    await own_cr(gw, who, name)
    stack = contextlib.AsyncExitStack()
    try:
        lines = await open_log(gw.kube, stack, who, name, params)
    except BaseException:
        await stack.aclose()
        raise
    sse = wants_sse(request.headers.get("accept", ""))
    return LogResponse(stack, lines, sse=sse, server=name)
