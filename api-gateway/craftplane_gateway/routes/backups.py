"""REST over MinecraftBackups and MinecraftRestores: read and written through the Kubernetes
API only (the cluster is the truth for backups; nothing of them is projected into PostgreSQL).

Every object is looked up in the caller's namespace, so another tenant's backup is simply not
found (404, as for a server). Each write is recorded in the timeline of the server it concerns.
"""

from __future__ import annotations

import re
from typing import Any, Final, TypeVar

from pydantic import BaseModel, ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from craftplane.clock import utcnow
from craftplane.contracts.backup import (
    BACKUP_KIND,
    LABEL_BACKUP_SERVER,
    RESTORE_KIND,
    VERIFY_REQUEST_ANNOTATION,
)
from craftplane.contracts.names import KIND
from craftplane.kube import KubeError, Obj
from craftplane_gateway import audit, auth, backup_plans, bodies, problems, recorder, schemas
from craftplane_gateway.audit import RequestType
from craftplane_gateway.backup_models import (
    MAX_OBJECT_NAME,
    OBJECT_NAME_PATTERN,
    BackupCreate,
    BackupPage,
    RestoreAccepted,
    RestoreCreate,
    backup_location,
    backup_out,
    backup_server,
    newest_first,
    restore_location,
    restore_out,
    wire,
)
from craftplane_gateway.cluster import cr_body
from craftplane_gateway.routes.common import principal, state_of, writer
from craftplane_gateway.routes.servers import checked_name, kube_problem, own_cr
from craftplane_gateway.state import GatewayState

_OBJECT_NAME: Final = re.compile(OBJECT_NAME_PATTERN)
JSON_TYPE: Final = "application/json"
M = TypeVar("M", bound=BaseModel)


def checked_object_name(name: str, what: str) -> str:
    """A backup's or restore's name from a path; 404 for one no object can have (so nothing
    like ``..`` ever reaches a Kubernetes API path)."""
    if len(name) > MAX_OBJECT_NAME or not _OBJECT_NAME.fullmatch(name):
        raise problems.not_found(name, what)
    return name


async def optional_body(request: Request, model: type[M]) -> M:
    """The body as ``model``; an empty body is ``{}``. 415 for a body that is not JSON, 400
    for malformed JSON, 422 naming each invalid field."""
    raw = await bodies.read_body(request, state_of(request).settings.max_body_bytes)
    if not raw.strip():
        return model.model_validate({})
    content_type = request.headers.get("content-type", "").split(";")[0].strip()
    if content_type != JSON_TYPE:
        raise problems.unsupported_media_type([JSON_TYPE])
    data = bodies.parse_json(raw)
    try:
        return model.model_validate(data, by_alias=True, by_name=False)
    except ValidationError as exc:
        raise problems.from_validation_error(exc) from exc


async def _get(gw: GatewayState, kind: str, who: auth.Principal, name: str, what: str) -> Obj:
    try:
        found = await gw.kube.get(kind, who.namespace, name)
    except KubeError as exc:
        raise kube_problem(exc, name, what) from exc
    if found is None:
        raise problems.not_found(name, what)
    return found


async def _server_or_none(gw: GatewayState, who: auth.Principal, name: str) -> Obj | None:
    try:
        return await gw.kube.get(KIND, who.namespace, name)
    except KubeError as exc:
        raise kube_problem(exc, name) from exc


async def _timeline_cr(gw: GatewayState, who: auth.Principal, backup: Obj) -> Obj | None:
    """The server whose timeline a write on ``backup`` belongs to: the server as it is now, or,
    once it is deleted, the incarnation the backup was taken of (its history stays readable)."""
    name = backup_server(backup)
    server = await _server_or_none(gw, who, name)
    if server is not None:
        return server
    uid = (backup.get("status") or {}).get("serverUid")
    if not isinstance(uid, str) or not uid:
        return None
    return {"metadata": {"uid": uid, "namespace": who.namespace, "name": name}}


def _accepted(body: dict[str, Any], location: str) -> JSONResponse:
    return JSONResponse(body, status_code=202, headers={"Location": location})


async def list_backups(request: Request) -> Response:
    who = await principal(request)
    name = checked_name(request.path_params["name"])
    gw = state_of(request)
    try:
        items = await gw.kube.list_objects(
            BACKUP_KIND, who.namespace, label_selector=f"{LABEL_BACKUP_SERVER}={name}"
        )
    except KubeError as exc:
        raise kube_problem(exc, name) from exc
    # The label is a selector only; spec.server is what the backup copies.
    backups = [backup_out(item) for item in items if backup_server(item) == name]
    if not backups and await _server_or_none(gw, who, name) is None:
        raise problems.not_found(name)
    return JSONResponse(wire(BackupPage(items=newest_first(backups))))


async def create_backup(request: Request) -> Response:
    who = await writer(request)
    name = checked_name(request.path_params["name"])
    body = await optional_body(request, BackupCreate)
    gw = state_of(request)
    server = await own_cr(gw, who, name)
    if (server.get("metadata") or {}).get("deletionTimestamp"):
        raise problems.conflict(f"server {name!r} is being deleted")
    manifest = backup_plans.backup_manifest(
        name, who.namespace, who.tenant, utcnow(), verify=body.verify
    )
    backup = manifest["metadata"]["name"]
    try:
        created = await gw.kube.create(manifest)
    except KubeError as exc:
        raise kube_problem(exc, backup, "backup") from exc
    message = audit.backup_message(backup, body.verify)
    await recorder.record(gw, who, server, RequestType.BACKUP, message)
    return _accepted(wire(backup_out(created)), backup_location(backup))


async def get_backup(request: Request) -> Response:
    who = await principal(request)
    name = checked_object_name(request.path_params["backup"], "backup")
    found = await _get(state_of(request), BACKUP_KIND, who, name, "backup")
    return JSONResponse(wire(backup_out(found)))


async def delete_backup(request: Request) -> Response:
    """Delete the CR; the operator's finalizer forgets the snapshot, then it is gone."""
    who = await writer(request)
    name = checked_object_name(request.path_params["backup"], "backup")
    gw = state_of(request)
    found = await _get(gw, BACKUP_KIND, who, name, "backup")
    try:
        deleted = await gw.kube.delete(BACKUP_KIND, who.namespace, name)
    except KubeError as exc:
        raise kube_problem(exc, name, "backup") from exc
    if not deleted:
        raise problems.not_found(name, "backup")
    cr = await _timeline_cr(gw, who, found)
    await recorder.record(gw, who, cr, RequestType.BACKUP_DELETE, audit.backup_delete_message(name))
    view = backup_out(found).model_copy(update={"deleting": True})
    return _accepted(wire(view), backup_location(name))


async def verify_backup(request: Request) -> Response:
    """Ask for one verification: a new value of the annotation the operator answers once."""
    who = await writer(request)
    name = checked_object_name(request.path_params["backup"], "backup")
    gw = state_of(request)
    found = await _get(gw, BACKUP_KIND, who, name, "backup")
    why = backup_plans.unusable(found)
    if why is not None:
        raise problems.conflict(why)
    patch = {
        "metadata": {"annotations": {VERIFY_REQUEST_ANNOTATION: backup_plans.rfc3339(utcnow())}}
    }
    try:
        after = await gw.kube.merge_patch(BACKUP_KIND, who.namespace, name, patch)
    except KubeError as exc:
        raise kube_problem(exc, name, "backup") from exc
    cr = await _timeline_cr(gw, who, found)
    await recorder.record(gw, who, cr, RequestType.VERIFY, audit.verify_message(name))
    return _accepted(wire(backup_out(after)), backup_location(name))


async def restore_backup(request: Request) -> Response:
    who = await writer(request)
    name = checked_object_name(request.path_params["backup"], "backup")
    body = await optional_body(request, RestoreCreate)
    gw = state_of(request)
    backup = await _get(gw, BACKUP_KIND, who, name, "backup")
    why = backup_plans.unusable(backup)
    if why is not None:
        raise problems.conflict(why)
    source = backup_server(backup)
    target = body.server or source
    existing = await _server_or_none(gw, who, target)
    if existing is not None:
        return await _restore_into(gw, who, backup, existing)
    return await _restore_as_new(gw, who, backup, target)


async def _restore_into(
    gw: GatewayState, who: auth.Principal, backup: Obj, server: Obj
) -> Response:
    target = server["metadata"]["name"]
    why = backup_plans.busy(server)
    if why is not None:
        raise problems.conflict(why)
    name = backup["metadata"]["name"]
    manifest = backup_plans.restore_manifest(target, name, who.namespace, who.tenant, utcnow())
    restore = manifest["metadata"]["name"]
    try:
        created = await gw.kube.create(manifest)
    except KubeError as exc:
        raise kube_problem(exc, restore, "restore") from exc
    message = audit.restore_message(name, backup_server(backup), new_server=False)
    await recorder.record(gw, who, server, RequestType.RESTORE, message)
    accepted = RestoreAccepted(
        server=target,
        backup=name,
        new_server=False,
        restore=restore_out(created),
        location=restore_location(restore),
    )
    return _accepted(wire(accepted), accepted.location)


async def _restore_as_new(
    gw: GatewayState, who: auth.Principal, backup: Obj, target: str
) -> Response:
    """A new server ``target`` whose spec.restoreFrom names the backup: the operator restores
    the world before its first start."""
    name, source = backup["metadata"]["name"], backup_server(backup)
    # The target does not exist: when it is the backup's own server, the source is gone.
    source_cr = None if source == target else await _server_or_none(gw, who, source)
    source_spec = (source_cr or {}).get("spec")
    spec = backup_plans.restored_server_spec(
        source_spec if isinstance(source_spec, dict) else None, backup.get("status") or {}, name
    )
    try:
        create = schemas.validate_create({"name": target, "spec": spec})
    except ValidationError as exc:
        raise problems.from_validation_error(exc) from exc
    document = schemas.spec_document(create.spec)
    try:
        created = await gw.kube.create(cr_body(target, who.namespace, document, who.tenant))
    except KubeError as exc:
        raise kube_problem(exc, target) from exc
    message = audit.restore_message(name, source, new_server=True)
    await recorder.record(gw, who, created, RequestType.RESTORE, message)
    location = f"{schemas.API_PREFIX}/servers/{target}"
    accepted = RestoreAccepted(server=target, backup=name, new_server=True, location=location)
    return _accepted(wire(accepted), location)


async def get_restore(request: Request) -> Response:
    who = await principal(request)
    name = checked_object_name(request.path_params["restore"], "restore")
    found = await _get(state_of(request), RESTORE_KIND, who, name, "restore")
    return JSONResponse(wire(restore_out(found)))
