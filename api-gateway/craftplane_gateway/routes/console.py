"""The console: one RCON command on a server of the caller's, for REST and the WebSocket.

Order of the checks: the tenant's rate limit first (a flood costs neither the Kubernetes API
nor the server anything), then the server is the caller's (404 otherwise), then its pod and
RCON password (409 when there is none), then the command over RCON (503 when it does not
answer). Every command sent over RCON is recorded in the timeline, with its error if it failed.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from craftplane import logs, rcon
from craftplane.clock import utcnow
from craftplane.kube import KubeError
from craftplane_gateway import auth, bodies, problems, recorder
from craftplane_gateway.audit import RequestType, console_message
from craftplane_gateway.console_models import ConsoleCommand, ConsoleReply, command_problem
from craftplane_gateway.routes.common import principal, state_of
from craftplane_gateway.routes.servers import checked_name, own_cr
from craftplane_gateway.state import GatewayState

log = logs.get_logger(__name__)


def check_command(command: str) -> str:
    """``command`` if it is one console command; Problem 400 naming the field otherwise."""
    why = command_problem(command)
    if why is not None:
        raise problems.bad_request(f"command {why}", errors=[{"field": "command", "message": why}])
    return command


def parse_body(raw: bytes) -> str:
    """The command of a console request body; 400 (not JSON, bad command) or 422 (shape)."""
    body = bodies.parse_json(raw)
    try:
        parsed = ConsoleCommand.model_validate(body, by_alias=True, by_name=False)
    except ValidationError as exc:
        raise problems.from_validation_error(exc) from exc
    return check_command(parsed.command)


def _limited(gw: GatewayState, who: auth.Principal, name: str) -> None:
    verdict = gw.console_limit.take(who.tenant)
    if not verdict.allowed:
        log.info("console rate limited", extra={"server": name, "namespace": who.namespace})
        raise problems.too_many_requests(
            f"at most {gw.settings.console_rate:g} console commands per second "
            f"(bursts of {gw.settings.console_burst}); retry shortly",
            retry_after=verdict.retry_after_seconds,
        )


async def _target(gw: GatewayState, who: auth.Principal, name: str) -> rcon.Target:
    try:
        return await rcon.locate(gw.kube, who.namespace, name, gw.settings.rcon_reach)
    except rcon.RconError as exc:
        if isinstance(exc.__cause__, KubeError):
            raise problems.service_unavailable(
                "the Kubernetes API is unreachable; retry shortly"
            ) from exc
        raise problems.server_not_running(f"cannot reach the server's console: {exc}") from exc


async def run_command(
    gw: GatewayState, who: auth.Principal, name: str, command: str
) -> ConsoleReply:
    """Run one (already checked) command on the caller's server ``name``; Problem 404, 409,
    429 or 503 when it cannot run."""
    checked_name(name)
    _limited(gw, who, name)
    cr = await own_cr(gw, who, name)
    target = await _target(gw, who, name)
    try:
        output = await rcon.run(target, command, timeout=gw.settings.rcon_timeout_seconds)
    except rcon.RconError as exc:
        await recorder.record(gw, who, cr, RequestType.CONSOLE, console_message(command, str(exc)))
        if not exc.unavailable:
            raise problems.bad_request(str(exc)) from exc
        raise problems.service_unavailable(f"the server's RCON did not answer: {exc}") from exc
    await recorder.record(gw, who, cr, RequestType.CONSOLE, console_message(command))
    return ConsoleReply(command=command, output=output, at=utcnow())


def reply_json(reply: ConsoleReply) -> dict[str, Any]:
    return reply.model_dump(mode="json", by_alias=True)


async def post_console(request: Request) -> Response:
    who = await principal(request)
    name = checked_name(request.path_params["name"])
    content_type = request.headers.get("content-type", "").split(";")[0].strip()
    if content_type != "application/json":
        raise problems.unsupported_media_type(["application/json"])
    command = parse_body(await bodies.read_body(request, state_of(request).settings.max_body_bytes))
    reply = await run_command(state_of(request), who, name, command)
    return JSONResponse(reply_json(reply))
