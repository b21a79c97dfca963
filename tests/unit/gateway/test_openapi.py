from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.routing import Route, WebSocketRoute

from craftplane_gateway.openapi import build_openapi
from craftplane_gateway.routes import table

pytestmark = pytest.mark.unit

METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}
ROUTES = {(endpoint.method, endpoint.path) for endpoint in table.ENDPOINTS}
PUBLIC = {endpoint.path for endpoint in table.ENDPOINTS if endpoint.public}


@pytest.fixture(scope="module")
def doc() -> dict[str, Any]:
    return build_openapi("1.2.3", table.ENDPOINTS)


def refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            else:
                yield from refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from refs(item)


def resolve(doc: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/"), f"external or relative $ref {ref}"
    node: Any = doc
    for part in ref[2:].split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        assert isinstance(node, dict) and part in node, f"dangling $ref {ref}"
        node = node[part]
    return node


def deref(doc: dict[str, Any], node: Any) -> Any:
    while isinstance(node, dict) and "$ref" in node:
        node = resolve(doc, node["$ref"])
    return node


def operations(doc: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any], dict[str, Any]]]:
    for path, item in doc["paths"].items():
        for method, operation in item.items():
            if method in METHODS:
                yield path, method, item, operation


def test_header(doc: dict[str, Any]) -> None:
    assert doc["openapi"].startswith("3.1")
    assert doc["info"]["version"] == "1.2.3"
    json.dumps(doc)  # plain JSON


def test_every_route_is_documented(doc: dict[str, Any]) -> None:
    documented = {(method, path) for path, method, _, _ in operations(doc)}
    assert documented == ROUTES
    assert len(ROUTES) == len(table.ENDPOINTS)  # one row per (method, path)
    assert {
        ("get", "/api/v1/servers"),
        ("post", "/api/v1/servers"),
        ("get", "/api/v1/servers/{name}"),
        ("patch", "/api/v1/servers/{name}"),
        ("delete", "/api/v1/servers/{name}"),
        ("post", "/api/v1/servers/{name}/start"),
        ("post", "/api/v1/servers/{name}/stop"),
        ("get", "/api/v1/servers/{name}/events"),
        ("get", "/api/v1/servers/{name}/backups"),
        ("post", "/api/v1/servers/{name}/backups"),
        ("get", "/api/v1/backups/{backup}"),
        ("delete", "/api/v1/backups/{backup}"),
        ("post", "/api/v1/backups/{backup}/verify"),
        ("post", "/api/v1/backups/{backup}/restore"),
        ("get", "/api/v1/restores/{restore}"),
        ("get", "/healthz"),
        ("get", "/readyz"),
        ("get", "/metrics"),
        ("get", "/openapi.json"),
    } <= ROUTES
    assert {"/healthz", "/readyz", "/metrics", "/openapi.json"} == PUBLIC


def test_starlette_serves_exactly_the_table() -> None:
    served = table.routes()
    http = {
        (method.lower(), route.path)
        for route in served
        if isinstance(route, Route)
        for method in route.methods or ()
        if method != "HEAD"
    }
    assert http == ROUTES
    assert [route.path for route in served if isinstance(route, WebSocketRoute)] == ["/api/v1/ws"]


def test_the_served_document_is_the_built_one() -> None:
    from starlette.applications import Starlette
    from starlette.testclient import TestClient

    with TestClient(Starlette(routes=table.routes())) as client:
        served = client.get("/openapi.json")
    assert served.status_code == 200
    assert served.json()["paths"] == build_openapi("x", table.ENDPOINTS)["paths"]


def test_every_ref_resolves(doc: dict[str, Any]) -> None:
    found = list(refs(doc))
    assert found
    for ref in found:
        resolve(doc, ref)
    assert "$defs" not in json.dumps(doc)


def test_every_component_schema_is_used(doc: dict[str, Any]) -> None:
    used = {ref.rsplit("/", 1)[-1] for ref in refs(doc) if ref.startswith("#/components/schemas/")}
    assert set(doc["components"]["schemas"]) == used


def test_path_parameters_declared(doc: dict[str, Any]) -> None:
    for path, _method, item, operation in operations(doc):
        declared = {
            p["name"]
            for p in (
                deref(doc, p)
                for p in [*item.get("parameters", []), *operation.get("parameters", [])]
            )
            if p["in"] == "path"
        }
        assert declared == set(re.findall(r"{(\w+)}", path)), path
        for param in (deref(doc, p) for p in item.get("parameters", [])):
            if param["in"] == "path":
                assert param["required"] is True


def test_operation_ids_unique(doc: dict[str, Any]) -> None:
    ids = [operation["operationId"] for _, _, _, operation in operations(doc)]
    assert len(ids) == len(set(ids))


def test_security(doc: dict[str, Any]) -> None:
    schemes = doc["components"]["securitySchemes"]
    assert schemes["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": schemes["bearerAuth"]["description"],
    }
    assert {"bearerAuth": []} in doc["security"]
    for path, _method, _item, operation in operations(doc):
        if path in PUBLIC:
            assert operation["security"] == []
        else:
            assert "security" not in operation  # the document default: authenticated
            assert "401" in operation["responses"]


def test_problem_responses(doc: dict[str, Any]) -> None:
    expected = {
        ("get", "/api/v1/servers"): {"400", "401", "404", "503"},
        ("post", "/api/v1/servers"): {"400", "401", "404", "409", "422", "503"},
        ("get", "/api/v1/servers/{name}"): {"401", "404", "503"},
        ("patch", "/api/v1/servers/{name}"): {"400", "401", "404", "409", "422", "503"},
        ("delete", "/api/v1/servers/{name}"): {"401", "404", "503"},
        ("post", "/api/v1/servers/{name}/start"): {"401", "404", "503"},
        ("get", "/api/v1/servers/{name}/events"): {"400", "401", "404", "503"},
        ("get", "/api/v1/servers/{name}/backups"): {"401", "404", "503"},
        ("post", "/api/v1/servers/{name}/backups"): {"401", "404", "409", "415", "422", "429"},
        ("get", "/api/v1/backups/{backup}"): {"401", "404", "503"},
        ("delete", "/api/v1/backups/{backup}"): {"401", "404", "429", "503"},
        ("post", "/api/v1/backups/{backup}/verify"): {"401", "404", "409", "429", "503"},
        ("post", "/api/v1/backups/{backup}/restore"): {"401", "404", "409", "422", "429", "503"},
        ("get", "/api/v1/restores/{restore}"): {"401", "404", "503"},
    }
    for path, method, _item, operation in operations(doc):
        responses = operation["responses"]
        assert expected.get((method, path), set()) <= set(responses), (method, path)
        for status, response in responses.items():
            response = deref(doc, response)
            if int(status) >= 400 and path not in PUBLIC:
                content = response["content"]
                assert list(content) == ["application/problem+json"]
                problem = deref(doc, content["application/problem+json"]["schema"])
                assert {"type", "title", "status"} <= set(problem["required"])
    # Every authenticated route answers 404 for a tenant without its tenant namespace.
    for path, method, _item, operation in operations(doc):
        if path not in PUBLIC:
            assert "404" in operation["responses"], (method, path)
    unavailable = doc["components"]["responses"]["Unavailable"]
    assert "Retry-After" in unavailable["headers"]
    assert "WWW-Authenticate" in doc["components"]["responses"]["Unauthorized"]["headers"]


def test_bodies_and_results(doc: dict[str, Any]) -> None:
    create = doc["paths"]["/api/v1/servers"]["post"]
    body = deref(doc, create["requestBody"]["content"]["application/json"]["schema"])
    assert body["required"] == ["name", "spec"]
    assert body["additionalProperties"] is False
    spec = deref(doc, body["properties"]["spec"])
    assert "eula" in spec["required"]
    resources = deref(doc, spec["properties"]["resources"])
    assert "memory" in deref(doc, resources)["properties"]
    assert "x-kubernetes" not in json.dumps(doc)
    assert "Location" in create["responses"]["202"]["headers"]

    patch = doc["paths"]["/api/v1/servers/{name}"]["patch"]
    assert set(patch["requestBody"]["content"]) == {
        "application/merge-patch+json",
        "application/json",
    }

    listing = doc["paths"]["/api/v1/servers"]["get"]
    page = deref(doc, listing["responses"]["200"]["content"]["application/json"]["schema"])
    assert set(page["properties"]) == {"items", "nextCursor"}
    server = deref(doc, page["properties"]["items"]["items"])
    assert {"createdAt", "updatedAt", "players", "links", "status"} <= set(server["properties"])
    status = deref(doc, server["properties"]["status"])
    assert set(status["enum"]) == {
        "deploying",
        "running",
        "stopped",
        "failed",
        "terminating",
        "deleted",
    }


def test_query_parameters(doc: dict[str, Any]) -> None:
    listing = doc["paths"]["/api/v1/servers"]["get"]
    params = {p["name"]: p for p in (deref(doc, p) for p in listing["parameters"])}
    assert set(params) == {"status", "limit", "cursor"}
    assert params["limit"]["schema"]["minimum"] == 1
    assert params["limit"]["schema"]["maximum"] == 200
    assert "running" in params["status"]["schema"]["enum"]
    timeline = doc["paths"]["/api/v1/servers/{name}/events"]["get"]
    assert {deref(doc, p)["name"] for p in timeline["parameters"]} == {"limit", "before"}
    for _path, _method, _item, operation in operations(doc):
        for param in (deref(doc, p) for p in operation.get("parameters", [])):
            assert param["name"] not in {"token", "access_token"}


def test_backup_routes(doc: dict[str, Any]) -> None:
    backups = doc["paths"]["/api/v1/servers/{name}/backups"]
    page = deref(doc, backups["get"]["responses"]["200"]["content"]["application/json"]["schema"])
    backup = deref(doc, page["properties"]["items"]["items"])
    assert {
        "name", "phase", "reason", "message", "trigger", "snapshotId", "sizeBytes", "addedBytes",
        "files", "durationSeconds", "startedAt", "completedAt", "gameVersion", "serverType",
        "progress", "verification",
    } <= set(backup["properties"])  # fmt: skip
    create = backups["post"]
    assert create["requestBody"]["required"] is False
    body = deref(doc, create["requestBody"]["content"]["application/json"]["schema"])
    assert body["additionalProperties"] is False and set(body["properties"]) == {"verify"}
    assert "Location" in create["responses"]["202"]["headers"]
    restore = doc["paths"]["/api/v1/backups/{backup}/restore"]["post"]
    body = deref(doc, restore["requestBody"]["content"]["application/json"]["schema"])
    assert body["additionalProperties"] is False and set(body["properties"]) == {"server"}
    accepted = restore["responses"]["202"]["content"]["application/json"]["schema"]
    assert set(deref(doc, accepted)["properties"]) >= {"server", "backup", "newServer", "restore"}
    for path in ("/api/v1/backups/{backup}", "/api/v1/restores/{restore}"):
        [declared] = [deref(doc, p) for p in doc["paths"][path]["parameters"]]
        assert declared["schema"]["maxLength"] == 253
    assert {tag["name"] for tag in doc["tags"]} >= {"backups"}
