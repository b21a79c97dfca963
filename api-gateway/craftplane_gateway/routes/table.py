"""The route table: every HTTP endpoint once, with its handler and its OpenAPI operation.

Starlette's routes (:func:`routes`), the OpenAPI paths (``/openapi.json``) and the tests'
route list all come from :data:`ENDPOINTS`, so a route cannot be served undocumented or
documented unserved.
"""

from __future__ import annotations

from typing import Any, Final

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route, WebSocketRoute

from craftplane_gateway.openapi import (
    EVENT_STREAM,
    JSON,
    LOG_TEXT,
    MERGE_PATCH,
    METRICS_MEDIA_TYPE,
    Endpoint,
    Names,
    accepted,
    build_openapi,
    json_response,
    param,
    problem_responses,
    ref,
)
from craftplane_gateway.routes import backup_ops, backups, console, health, logs, servers, ws
from craftplane_gateway.schemas import API_PREFIX

SERVERS: Final = f"{API_PREFIX}/servers"
SERVER: Final = f"{SERVERS}/{{name}}"
BACKUP: Final = f"{API_PREFIX}/backups/{{backup}}"
RESTORE: Final = f"{API_PREFIX}/restores/{{restore}}"
WEBSOCKET: Final = f"{API_PREFIX}/ws"


def _list_servers(names: Names) -> dict[str, Any]:
    return {
        "operationId": "listServers",
        "summary": "List the tenant's servers",
        "description": "From the projection, ordered by name.",
        "tags": ["servers"],
        "parameters": [param("StatusFilter"), param("Limit"), param("Cursor")],
        "responses": {
            "200": json_response(ref(names["ServerPage"]), "One page of servers."),
            **problem_responses(400, 401, 404, 503),
        },
    }


def _create_server(names: Names) -> dict[str, Any]:
    return {
        "operationId": "createServer",
        "summary": "Create a server",
        "description": (
            "Validates the spec with the CRD's model and writes the MinecraftServer "
            "in the tenant's namespace; the server then converges (watch the "
            "WebSocket or GET it)."
        ),
        "tags": ["servers"],
        "requestBody": {
            "required": True,
            "content": {JSON: {"schema": ref(names["ServerCreate"])}},
        },
        "responses": {
            "202": accepted(names, "The CR was written."),
            **problem_responses(400, 401, 403, 404, 409, 413, 415, 422, 429, 503),
        },
    }


def _get_server(names: Names) -> dict[str, Any]:
    return {
        "operationId": "getServer",
        "summary": "Get a server",
        "tags": ["servers"],
        "responses": {
            "200": json_response(ref(names["ServerOut"]), "The server."),
            **problem_responses(400, 401, 404, 503),
        },
    }


def _patch_server(names: Names) -> dict[str, Any]:
    return {
        "operationId": "patchServer",
        "summary": "Change a server's spec",
        "description": (
            "A JSON merge patch (RFC 7386) of the spec; the merged spec is validated "
            "like a new one."
        ),
        "tags": ["servers"],
        "requestBody": {
            "required": True,
            "content": {
                MERGE_PATCH: {"schema": ref(names["ServerPatch"])},
                JSON: {"schema": ref(names["ServerPatch"])},
            },
        },
        "responses": {
            "202": accepted(names, "The CR was patched."),
            **problem_responses(400, 401, 403, 404, 409, 413, 415, 422, 429, 503),
        },
    }


def _delete_server(names: Names) -> dict[str, Any]:
    return {
        "operationId": "deleteServer",
        "summary": "Delete a server",
        "description": "The world volume is kept unless spec.storage.retainOnDelete is false.",
        "tags": ["servers"],
        "responses": {
            "202": accepted(names, "Deletion started."),
            **problem_responses(400, 401, 403, 404, 429, 503),
        },
    }


def _action(verb: str, effect: str) -> Any:
    def operation(names: Names) -> dict[str, Any]:
        return {
            "operationId": f"{verb}Server",
            "summary": f"{verb.capitalize()} a server",
            "description": effect,
            "tags": ["servers"],
            "responses": {
                "202": accepted(names, "The CR was patched."),
                **problem_responses(400, 401, 403, 404, 409, 429, 503),
            },
        }

    return operation


def _console(names: Names) -> dict[str, Any]:
    return {
        "operationId": "runConsoleCommand",
        "summary": "Run a console command over RCON",
        "description": (
            "One command on the server's console; the answer is its RCON reply. Limited per "
            "tenant (REST and WebSocket together; 429 with Retry-After when used up, checked "
            "before RCON is reached). Recorded in the timeline as request.console."
        ),
        "tags": ["console"],
        "requestBody": {
            "required": True,
            "content": {JSON: {"schema": ref(names["ConsoleCommand"])}},
        },
        "responses": {
            "200": json_response(ref(names["ConsoleReply"]), "The server's reply."),
            **problem_responses(400, 401, 403, 404, 409, 413, 415, 422, 429, 503),
        },
    }


def _logs(_: Names) -> dict[str, Any]:
    line = {"type": "string"}
    return {
        "operationId": "streamServerLogs",
        "summary": "The server's log, streamed",
        "description": (
            "The minecraft container's log from the pod log API, one line per \\n as plain "
            "text, or as server-sent events (`data: <line>`) with Accept: text/event-stream. "
            "With follow=true the stream stays open until the pod goes away."
        ),
        "tags": ["console"],
        "parameters": [param("Tail"), param("Follow"), param("Previous")],
        "responses": {
            "200": {
                "description": "The log lines.",
                "content": {LOG_TEXT: {"schema": line}, EVENT_STREAM: {"schema": line}},
            },
            **problem_responses(400, 401, 403, 404, 409, 503),
        },
    }


def _server_events(names: Names) -> dict[str, Any]:
    return {
        "operationId": "listServerEvents",
        "summary": "A server's event timeline, newest first",
        "tags": ["servers"],
        "parameters": [param("Limit"), param("Before")],
        "responses": {
            "200": json_response(ref(names["TimelinePage"]), "One page of events."),
            **problem_responses(400, 401, 404, 503),
        },
    }


def _healthz(names: Names) -> dict[str, Any]:
    return {
        "operationId": "healthz",
        "summary": "Liveness",
        "tags": ["operations"],
        "responses": {"200": json_response(ref(names["Health"]), "Alive.")},
    }


def _readyz(names: Names) -> dict[str, Any]:
    return {
        "operationId": "readyz",
        "summary": "Readiness: NATS, the database and Kubernetes answer",
        "tags": ["operations"],
        "responses": {
            "200": json_response(ref(names["Readiness"]), "Ready."),
            "503": json_response(ref(names["Readiness"]), "A dependency does not answer."),
        },
    }


def _metrics(_: Names) -> dict[str, Any]:
    return {
        "operationId": "metrics",
        "summary": "Prometheus metrics",
        "tags": ["operations"],
        "responses": {
            "200": {
                "description": "Prometheus text exposition format.",
                "content": {METRICS_MEDIA_TYPE: {"schema": {"type": "string"}}},
            },
        },
    }


def _openapi(_: Names) -> dict[str, Any]:
    return {
        "operationId": "openapi",
        "summary": "This document",
        "tags": ["operations"],
        "responses": {"200": json_response({"type": "object"}, "The OpenAPI document.")},
    }


async def openapi_document(_: Request) -> Response:
    return JSONResponse(build_openapi(health.VERSION, ENDPOINTS))


ENDPOINTS: Final[tuple[Endpoint, ...]] = (
    Endpoint("get", SERVERS, servers.list_servers, _list_servers),
    Endpoint("post", SERVERS, servers.create_server, _create_server),
    Endpoint("get", SERVER, servers.get_server, _get_server),
    Endpoint("patch", SERVER, servers.patch_server, _patch_server),
    Endpoint("delete", SERVER, servers.delete_server, _delete_server),
    Endpoint(
        "post",
        f"{SERVER}/start",
        servers.start_server,
        _action("start", "Sets spec.stopped to false."),
    ),
    Endpoint(
        "post",
        f"{SERVER}/stop",
        servers.stop_server,
        _action("stop", "Sets spec.stopped to true; the world is kept."),
    ),
    Endpoint(
        "post",
        f"{SERVER}/restart",
        servers.restart_server,
        _action(
            "restart",
            "Asks the operator for a restart (the craftplane.io/restart-requested-at and "
            "-by annotations); it announces, saves and replaces the pod.",
        ),
    ),
    Endpoint("post", f"{SERVER}/console", console.post_console, _console),
    Endpoint("get", f"{SERVER}/logs", logs.server_logs, _logs),
    Endpoint("get", f"{SERVER}/events", servers.server_events, _server_events),
    Endpoint("get", f"{SERVER}/backups", backups.list_backups, backup_ops.list_backups),
    Endpoint("post", f"{SERVER}/backups", backups.create_backup, backup_ops.create_backup),
    Endpoint("get", BACKUP, backups.get_backup, backup_ops.get_backup),
    Endpoint("delete", BACKUP, backups.delete_backup, backup_ops.delete_backup),
    Endpoint("post", f"{BACKUP}/verify", backups.verify_backup, backup_ops.verify_backup),
    Endpoint("post", f"{BACKUP}/restore", backups.restore_backup, backup_ops.restore_backup),
    Endpoint("get", RESTORE, backups.get_restore, backup_ops.get_restore),
    Endpoint("get", "/healthz", health.healthz, _healthz, public=True),
    Endpoint("get", "/readyz", health.readyz, _readyz, public=True),
    Endpoint("get", "/metrics", health.prometheus, _metrics, public=True),
    Endpoint("get", "/openapi.json", openapi_document, _openapi, public=True),
)


def routes() -> list[BaseRoute]:
    """Starlette's routes for every endpoint, and the WebSocket."""
    served: list[BaseRoute] = [
        Route(endpoint.path, endpoint.handler, methods=[endpoint.method.upper()])
        for endpoint in ENDPOINTS
    ]
    served.append(WebSocketRoute(WEBSOCKET, ws.endpoint))
    return served
