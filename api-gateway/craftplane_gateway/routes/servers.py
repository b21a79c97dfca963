"""REST over MinecraftServers: reads from the projection, writes only the CR (then 202)."""

from __future__ import annotations

import contextlib
import re
from datetime import datetime
from typing import Any

from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from craftplane.clock import utcnow
from craftplane.contracts.crd import NAME_PATTERN
from craftplane.contracts.lifecycle import RESTART_REQUEST_ANNOTATION, RESTART_REQUESTER_ANNOTATION
from craftplane.contracts.names import KIND
from craftplane.contracts.phases import ServerState
from craftplane.kube import KubeError
from craftplane_gateway import audit, auth, bodies, problems, recorder, schemas
from craftplane_gateway.audit import RequestType
from craftplane_gateway.cluster import FIELD_MANAGER, cr_body
from craftplane_gateway.db import queries
from craftplane_gateway.db.models import ServerRow
from craftplane_gateway.frames import public_server
from craftplane_gateway.routes.common import database, principal, state_of, writer
from craftplane_gateway.state import GatewayState

PREFIX = schemas.API_PREFIX
STATUSES = frozenset(s.value for s in ServerState)
_NAME = re.compile(NAME_PATTERN)
JSON_TYPES = ("application/json", "application/merge-patch+json")
# PostgreSQL's bigint: a larger timeline cursor would fail in the query, not be refused.
MAX_SEQ = 2**63 - 1


def server_out(row: ServerRow, cr: dict[str, Any] | None = None) -> schemas.ServerOut:
    """A projection row as the API shows it; with the CR (GET of one server), its spec and
    the restart fields of its status too."""
    view = public_server(row.to_json())
    view.pop("generation", None)
    view["links"] = schemas.ServerLinks.for_server(row.name).model_dump(by_alias=True)
    if cr is not None:
        view.update(from_cr(cr))
    return schemas.ServerOut.model_validate(view)


def from_cr(cr: dict[str, Any]) -> dict[str, Any]:
    """What GET of one server reads from the CR: the spec, status.nextRestart,
    status.nextBackup and status.lastRestart (a malformed status field is left out rather than
    failing the GET)."""
    found: dict[str, Any] = {}
    if isinstance(cr.get("spec"), dict):
        found["spec"] = cr["spec"]
    raw_status = cr.get("status")
    status: dict[str, Any] = raw_status if isinstance(raw_status, dict) else {}
    for key in ("nextRestart", "nextBackup"):
        if status.get(key):
            with contextlib.suppress(ValueError):
                found[key] = _timestamp(status[key])
    last = status.get("lastRestart")
    if isinstance(last, dict):
        with contextlib.suppress(ValueError):
            found["lastRestart"] = schemas.LastRestartOut.model_validate(last).model_dump(
                mode="json", by_alias=True, exclude_none=True
            )
    return found


def _timestamp(value: object) -> str:
    if not isinstance(value, str):
        raise ValueError("not a time")
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError("not an aware time")
    return moment.isoformat()


def server_json(row: ServerRow, cr: dict[str, Any] | None = None) -> dict[str, Any]:
    return server_out(row, cr).model_dump(mode="json", by_alias=True, exclude_none=True)


def checked_name(name: str) -> str:
    """A server name from a path or a frame; 404 for one no server can have."""
    if not _NAME.fullmatch(name) or len(name) > 52:
        raise problems.not_found(name)
    return name


def _name(request: Request) -> str:
    return checked_name(request.path_params["name"])


async def _body(request: Request) -> Any:
    content_type = request.headers.get("content-type", "").split(";")[0].strip()
    if content_type not in JSON_TYPES:
        raise problems.unsupported_media_type(JSON_TYPES)
    return await bodies.read_json(request, state_of(request).settings.max_body_bytes)


def _int_param(request: Request, key: str, default: int, low: int, high: int) -> int:
    raw = request.query_params.get(key)
    if raw is None:
        return default
    return int_param(key, raw, low, high)


def int_param(key: str, raw: str, low: int, high: int) -> int:
    """A query parameter's integer in [low, high]; Problem 400 naming ``key`` otherwise
    (ASCII digits only, so neither a full-width digit nor a 5,000-digit number reaches int())."""
    text = raw.strip()
    digits = text[1:] if text[:1] in ("-", "+") else text
    if not digits.isascii() or not digits.isdigit() or len(digits) > 19:
        raise problems.bad_request(
            f"{key} must be an integer between {low} and {high}",
            errors=[{"field": key, "message": f"must be an integer between {low} and {high}"}],
        )
    value = int(text)
    if not low <= value <= high:
        raise problems.bad_request(
            f"{key} must be between {low} and {high}",
            errors=[{"field": key, "message": f"must be between {low} and {high}"}],
        )
    return value


def kube_problem(exc: KubeError, name: str, what: str = "server") -> problems.Problem:
    """A Kubernetes API error on the server (or ``what``) ``name`` as the problem the caller
    gets."""
    if exc.status == 0 or exc.status >= 500:
        return problems.service_unavailable("the Kubernetes API is unreachable; retry shortly")
    if exc.status == 404:
        return problems.not_found(name, what)
    if exc.status == 409:
        return problems.name_taken(name, what)
    if exc.status == 422:
        return problems.from_kube_admission(exc.body or str(exc))
    if exc.status == 403:
        return problems.forbidden("the gateway may not manage servers in this tenant's namespace")
    return problems.bad_request(str(exc))


def _accepted(name: str) -> JSONResponse:
    location = f"{PREFIX}/servers/{name}"
    body = schemas.Accepted(name=name, location=location).model_dump(by_alias=True)
    return JSONResponse(body, status_code=202, headers={"Location": location})


async def list_servers(request: Request) -> Response:
    who = await principal(request)
    status = request.query_params.get("status")
    if status is not None and status not in STATUSES:
        allowed = ", ".join(sorted(STATUSES))
        raise problems.bad_request(
            f"status must be one of {allowed}",
            errors=[{"field": "status", "message": f"must be one of {allowed}"}],
        )
    limit = _int_param(request, "limit", 50, 1, 200)
    async with database(request) as conn:
        try:
            rows, cursor = await queries.list_servers(
                conn,
                who.tenant,
                status=status,
                limit=limit,
                cursor=request.query_params.get("cursor"),
            )
        except queries.InvalidCursor as exc:
            raise problems.bad_request(
                "cursor is not one this API issued",
                errors=[{"field": "cursor", "message": "not a cursor this API issued"}],
            ) from exc
    page: dict[str, Any] = {"items": [server_json(row) for row in rows]}
    if cursor:
        page["nextCursor"] = cursor
    return JSONResponse(page)


async def create_server(request: Request) -> Response:
    who = await writer(request)
    body = await _body(request)
    try:
        create = schemas.validate_create(body)
    except ValidationError as exc:
        raise problems.from_validation_error(exc) from exc
    gw = state_of(request)
    document = schemas.spec_document(create.spec)
    manifest = cr_body(create.name, who.namespace, document, who.tenant)
    try:
        created = await gw.kube.create(manifest)
    except KubeError as exc:
        raise kube_problem(exc, create.name) from exc
    await recorder.record(gw, who, created, RequestType.CREATE, audit.create_message(document))
    return _accepted(create.name)


async def _own_cr(request: Request, who: auth.Principal, name: str) -> dict[str, Any]:
    return await own_cr(state_of(request), who, name)


async def own_cr(gw: GatewayState, who: auth.Principal, name: str) -> dict[str, Any]:
    """The caller's MinecraftServer ``name``; 404 when it has none of that name (another
    tenant's is in another namespace, so it is never found)."""
    try:
        body = await gw.kube.get(KIND, who.namespace, name)
    except KubeError as exc:
        raise kube_problem(exc, name) from exc
    if body is None:
        raise problems.not_found(name)
    return body


async def get_server(request: Request) -> Response:
    who = await principal(request)
    name = _name(request)
    async with database(request) as conn:
        row = await queries.get_server(conn, who.tenant, name, namespace=who.namespace)
    if row is None:
        raise problems.not_found(name)
    cr = None
    # The projection answers even while the cluster does not.
    with contextlib.suppress(KubeError):
        cr = await state_of(request).kube.get(KIND, who.namespace, name)
    return JSONResponse(server_json(row, cr))


async def patch_server(request: Request) -> Response:
    who = await writer(request)
    name = _name(request)
    raw = await _body(request)
    try:
        patch = schemas.validate_patch(raw)
    except ValidationError as exc:
        raise problems.from_validation_error(exc) from exc
    current = await _own_cr(request, who, name)
    before = current.get("spec") or {}
    try:
        schemas.merge_spec(before, patch.spec)
    except ValidationError as exc:
        raise problems.from_validation_error(exc, prefix="spec") from exc
    after = await _merge(request, who, name, {"spec": patch.spec})
    paths = audit.changed_paths(before, schemas.merge_patch(before, patch.spec))
    await recorder.record(
        state_of(request), who, after, RequestType.UPDATE, audit.update_message(paths)
    )
    return _accepted(name)


async def _merge(
    request: Request, who: auth.Principal, name: str, patch: dict[str, Any]
) -> dict[str, Any]:
    """Merge-patch the caller's CR; the CR the API returned."""
    try:
        return await state_of(request).kube.merge_patch(KIND, who.namespace, name, patch)
    except KubeError as exc:
        raise kube_problem(exc, name) from exc


async def delete_server(request: Request) -> Response:
    who = await writer(request)
    name = _name(request)
    # Read first: the timeline entry belongs to this incarnation (its uid).
    current = await _own_cr(request, who, name)
    try:
        found = await state_of(request).kube.delete(KIND, who.namespace, name)
    except KubeError as exc:
        raise kube_problem(exc, name) from exc
    if not found:
        raise problems.not_found(name)
    await recorder.record(
        state_of(request), who, current, RequestType.DELETE, audit.MESSAGES[RequestType.DELETE]
    )
    return _accepted(name)


async def _set_stopped(request: Request, stopped: bool) -> Response:
    who = await writer(request)
    name = _name(request)
    await _own_cr(request, who, name)
    after = await _merge(request, who, name, {"spec": {"stopped": stopped}})
    kind = RequestType.STOP if stopped else RequestType.START
    await recorder.record(state_of(request), who, after, kind, audit.MESSAGES[kind])
    return _accepted(name)


async def restart_server(request: Request) -> Response:
    """Ask the operator for a restart: the two annotations it answers (with announcements
    and a save first); nothing else changes in the CR."""
    who = await writer(request)
    name = _name(request)
    await _own_cr(request, who, name)
    at = utcnow().isoformat(timespec="seconds").replace("+00:00", "Z")
    annotations = {RESTART_REQUEST_ANNOTATION: at, RESTART_REQUESTER_ANNOTATION: who.subject}
    after = await _merge(request, who, name, {"metadata": {"annotations": annotations}})
    kind = RequestType.RESTART
    await recorder.record(state_of(request), who, after, kind, audit.MESSAGES[kind])
    return _accepted(name)


async def start_server(request: Request) -> Response:
    return await _set_stopped(request, False)


async def stop_server(request: Request) -> Response:
    return await _set_stopped(request, True)


async def server_events(request: Request) -> Response:
    who = await principal(request)
    name = _name(request)
    limit = _int_param(request, "limit", 50, 1, 200)
    before_raw = request.query_params.get("before")
    before = None if before_raw is None else int_param("before", before_raw, 0, MAX_SEQ)
    async with database(request) as conn:
        row = await queries.get_server(
            conn, who.tenant, name, namespace=who.namespace, include_deleted=True
        )
        if row is None:
            raise problems.not_found(name)
        entries, next_before = await queries.timeline(
            conn, who.tenant, name, limit, before, namespace=who.namespace
        )
    items = []
    for entry in entries:
        data = entry.to_json()
        online = data.get("players_online")
        item = {
            "id": data["event_id"],
            "type": data["type"],
            "time": data["event_time"],
            "actor": data.get("actor"),
            "status": data.get("status"),
            "phase": data.get("phase"),
            "generation": data.get("generation"),
            "address": data.get("address"),
            "port": data.get("port"),
            "players": None
            if online is None
            else {"online": online, "max": data.get("players_max")},
            "reason": data.get("reason"),
            "message": data.get("message"),
        }
        items.append(
            schemas.TimelineEntry.model_validate(item).model_dump(
                mode="json", by_alias=True, exclude_none=True
            )
        )
    page: dict[str, Any] = {"items": items}
    if next_before is not None:
        page["nextCursor"] = str(next_before)
    return JSONResponse(page)


__all__ = ["FIELD_MANAGER", "server_json", "server_out"]
