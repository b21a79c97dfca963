"""The OpenAPI 3.1 document served at ``/openapi.json``, built from the wire models.

Every schema comes from a pydantic model in :mod:`craftplane_gateway.schemas`
(the spec from the same model as the CRD), hoisted into
``components/schemas`` so every ``$ref`` resolves inside the document.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from craftplane.contracts.crd import MAX_NAME_LENGTH, NAME_PATTERN
from craftplane.contracts.phases import ServerState
from craftplane_gateway import auth, backup_models, schemas
from craftplane_gateway.console_models import ConsoleCommand, ConsoleReply
from craftplane_gateway.problems import PROBLEM_MEDIA_TYPE

OPENAPI_VERSION: Final = "3.1.0"
JSON: Final = "application/json"
MERGE_PATCH: Final = "application/merge-patch+json"
METRICS_MEDIA_TYPE: Final = "text/plain; version=0.0.4"
LOG_TEXT: Final = "text/plain; charset=utf-8"
EVENT_STREAM: Final = "text/event-stream"
REF_TEMPLATE: Final = "#/components/schemas/{model}"

Names = Mapping[str, str]
"""A model's class name -> its name in components/schemas."""


@dataclass(frozen=True)
class Endpoint:
    """One row of the route table: what Starlette serves and what the document says."""

    method: str
    """Lower case, as OpenAPI spells it."""
    path: str
    handler: Callable[..., Any]
    operation: Callable[[Names], dict[str, Any]]
    """The OpenAPI operation object, given the component names of the models."""
    public: bool = False
    """Served without a token."""


_MODELS: Final[list[tuple[type[BaseModel], JsonSchemaMode]]] = [
    (schemas.ServerCreate, "validation"),
    (schemas.ServerPatch, "validation"),
    (schemas.ServerOut, "serialization"),
    (schemas.ServerPage, "serialization"),
    (schemas.TimelineEntry, "serialization"),
    (schemas.TimelinePage, "serialization"),
    (schemas.Accepted, "serialization"),
    (ConsoleCommand, "validation"),
    (ConsoleReply, "serialization"),
    (backup_models.BackupCreate, "validation"),
    (backup_models.RestoreCreate, "validation"),
    (backup_models.BackupOut, "serialization"),
    (backup_models.BackupPage, "serialization"),
    (backup_models.RestoreOut, "serialization"),
    (backup_models.RestoreAccepted, "serialization"),
    (schemas.Health, "serialization"),
    (schemas.Readiness, "serialization"),
    (schemas.ProblemDetails, "serialization"),
]

# The problem responses, by status: (component name, description).
_PROBLEMS: Final = {
    400: (
        "BadRequest",
        "Malformed request: invalid JSON, bad query parameter, or a token in the URL.",
    ),
    401: ("Unauthorized", "Missing, expired, unsigned or wrongly signed token."),
    403: ("Forbidden", "Cross-origin state change authenticated by cookie only."),
    404: (
        "NotFound",
        "No such server (backup, restore) for this tenant (another tenant's looks the same); "
        "on every route, when the token's tenant has no tenant namespace.",
    ),
    409: (
        "Conflict",
        "The name is taken, or the state of the server (or backup) does not allow this now.",
    ),
    413: ("PayloadTooLarge", "The body is longer than the gateway reads (1 MiB)."),
    415: ("UnsupportedMediaType", "The body is not JSON."),
    422: ("Unprocessable", "The body is invalid; `errors` names each field."),
    429: (
        "TooManyRequests",
        "The rate limit (console per tenant, writes per token subject) is used up; retry "
        "after Retry-After.",
    ),
    503: (
        "Unavailable",
        "The database, the cluster, or the server's node or game process cannot be reached;"
        " retry later.",
    ),
}


def ref(name: str) -> dict[str, str]:
    return {"$ref": REF_TEMPLATE.format(model=name)}


def _strip_extensions(node: Any) -> Any:
    """Drop the CRD-only ``x-kubernetes-*`` keywords (CEL rules and list types)."""
    if isinstance(node, dict):
        return {
            k: _strip_extensions(v)
            for k, v in node.items()
            if not (isinstance(k, str) and k.startswith("x-kubernetes-"))
        }
    if isinstance(node, list):
        return [_strip_extensions(v) for v in node]
    return node


def _component_schemas() -> tuple[dict[str, str], dict[str, Any]]:
    """(model name -> component name, components/schemas)."""
    refs, top = models_json_schema(_MODELS, ref_template=REF_TEMPLATE)
    names: dict[str, str] = {}
    for (model, _mode), entry in refs.items():
        names[model.__name__] = entry["$ref"].rsplit("/", 1)[-1]
    defs = _strip_extensions(top.get("$defs", {}))
    assert isinstance(defs, dict)
    return names, defs


def _problem_response(description: str, status: int) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": description,
        "content": {PROBLEM_MEDIA_TYPE: {"schema": ref("ProblemDetails")}},
    }
    if status == 401:
        response["headers"] = {"WWW-Authenticate": {"$ref": "#/components/headers/WWWAuthenticate"}}
    if status in (429, 503):
        response["headers"] = {"Retry-After": {"$ref": "#/components/headers/RetryAfter"}}
    return response


def problem_responses(*statuses: int) -> dict[str, Any]:
    return {
        str(status): {"$ref": f"#/components/responses/{_PROBLEMS[status][0]}"}
        for status in statuses
    }


def json_response(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {JSON: {"schema": schema}}}


def accepted(names: Names, description: str) -> dict[str, Any]:
    response = json_response(ref(names["Accepted"]), description)
    response["headers"] = {"Location": {"$ref": "#/components/headers/Location"}}
    return response


def _object_name(key: str, description: str) -> dict[str, Any]:
    return {
        "name": key,
        "in": "path",
        "required": True,
        "description": description,
        "schema": {
            "type": "string",
            "pattern": backup_models.OBJECT_NAME_PATTERN,
            "minLength": 1,
            "maxLength": backup_models.MAX_OBJECT_NAME,
        },
    }


# A path's placeholders and the parameters declaring them.
_PATH_PARAMETERS: Final = {
    "{name}": "ServerName",
    "{backup}": "BackupName",
    "{restore}": "RestoreName",
}


def _parameters() -> dict[str, Any]:
    return {
        "ServerName": {
            "name": "name",
            "in": "path",
            "required": True,
            "description": "Name of the server.",
            "schema": {
                "type": "string",
                "pattern": NAME_PATTERN,
                "minLength": 1,
                "maxLength": MAX_NAME_LENGTH,
            },
        },
        "BackupName": _object_name("backup", "Name of the MinecraftBackup."),
        "RestoreName": _object_name("restore", "Name of the MinecraftRestore."),
        "StatusFilter": {
            "name": "status",
            "in": "query",
            "required": False,
            "description": "Only servers in this projected status.",
            "schema": {"type": "string", "enum": [s.value for s in ServerState]},
        },
        "Limit": {
            "name": "limit",
            "in": "query",
            "required": False,
            "description": "Page size.",
            "schema": {
                "type": "integer",
                "minimum": 1,
                "maximum": schemas.MAX_PAGE_SIZE,
                "default": schemas.DEFAULT_PAGE_SIZE,
            },
        },
        "Cursor": {
            "name": "cursor",
            "in": "query",
            "required": False,
            "description": "nextCursor of the previous page (opaque).",
            "schema": {"type": "string", "maxLength": 512},
        },
        "Tail": {
            "name": "tail",
            "in": "query",
            "required": False,
            "description": "How many of the last log lines to start with.",
            "schema": {"type": "integer", "minimum": 1, "maximum": 5000, "default": 200},
        },
        "Follow": {
            "name": "follow",
            "in": "query",
            "required": False,
            "description": "Keep streaming new lines until the pod goes away.",
            "schema": {"type": "string", "enum": ["true", "false"], "default": "false"},
        },
        "Previous": {
            "name": "previous",
            "in": "query",
            "required": False,
            "description": "The log of the container's previous instance (after a crash).",
            "schema": {"type": "string", "enum": ["true", "false"], "default": "false"},
        },
        "Before": {
            "name": "before",
            "in": "query",
            "required": False,
            "description": "nextCursor of the previous timeline page (opaque): older events.",
            "schema": {"type": "string", "maxLength": 512},
        },
    }


def param(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/parameters/{name}"}


def _paths(names: Names, endpoints: Iterable[Endpoint]) -> dict[str, Any]:
    paths: dict[str, Any] = {}
    for endpoint in endpoints:
        item = paths.setdefault(endpoint.path, {})
        declared = [param(p) for key, p in _PATH_PARAMETERS.items() if key in endpoint.path]
        if declared:
            item["parameters"] = declared
        operation = endpoint.operation(names)
        if endpoint.public:
            operation["security"] = []
        item[endpoint.method] = operation
    return paths


def build_openapi(version: str, endpoints: Iterable[Endpoint]) -> dict[str, Any]:
    """The OpenAPI 3.1 document of ``endpoints`` (the gateway's: ``routes.table.ENDPOINTS``;
    the WebSocket is described in the ``/api/v1/ws`` frame models, which OpenAPI cannot
    express)."""
    names, component_schemas = _component_schemas()
    document: dict[str, Any] = {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": "Craftplane gateway",
            "version": version,
            "description": (
                "Minecraft servers as MinecraftServer resources, per tenant. Writes go to "
                "Kubernetes and answer 202; reads come from the event projection. Errors are "
                "RFC 9457 problem details. Tokens go in the Authorization header (or the "
                f"{auth.COOKIE_NAME} cookie), never in the URL."
            ),
        },
        "servers": [{"url": "/"}],
        "tags": [
            {"name": "servers", "description": "The tenant's Minecraft servers."},
            {"name": "console", "description": "A server's console and log."},
            {
                "name": "backups",
                "description": "Backups of a server's world, verifying and restoring them.",
            },
            {"name": "operations", "description": "Health, readiness, metrics."},
        ],
        "security": [{"bearerAuth": []}, {"cookieAuth": []}],
        "paths": _paths(names, endpoints),
        "components": {
            "schemas": component_schemas,
            "securitySchemes": {
                "bearerAuth": {
                    "type": "http",
                    "scheme": "bearer",
                    "bearerFormat": "JWT",
                    "description": "A token from `craftplane token mint <tenant>`.",
                },
                "cookieAuth": {"type": "apiKey", "in": "cookie", "name": auth.COOKIE_NAME},
            },
            "parameters": _parameters(),
            "headers": {
                "Location": {
                    "description": "URL of the server, backup or restore the request is about.",
                    "schema": {"type": "string"},
                },
                "RetryAfter": {
                    "description": "Seconds to wait before retrying.",
                    "schema": {"type": "integer", "minimum": 0},
                },
                "WWWAuthenticate": {
                    "description": "Bearer challenge (RFC 6750).",
                    "schema": {"type": "string"},
                },
            },
            "responses": {
                name: _problem_response(description, status)
                for status, (name, description) in _PROBLEMS.items()
            },
        },
    }
    return copy.deepcopy(document)
