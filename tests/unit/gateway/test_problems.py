from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.testclient import TestClient

from craftplane.contracts.spec import MinecraftServerSpec
from craftplane_gateway import problems
from craftplane_gateway.problems import PROBLEM_MEDIA_TYPE, Problem
from craftplane_gateway.schemas import ProblemDetails, validate_create

pytestmark = pytest.mark.unit


def fields(problem: Problem) -> dict[str, str]:
    return {e["field"]: e["message"] for e in problem.errors}


def create_errors(body: Any) -> dict[str, str]:
    with pytest.raises(ValidationError) as caught:
        validate_create(body)
    problem = problems.from_validation_error(caught.value)
    assert problem.status == 422
    return fields(problem)


def test_validation_paths_use_camel_case_aliases() -> None:
    errors = create_errors(
        {
            "name": "Not_Valid",
            "spec": {
                "eula": False,
                "resources": {"memory": "1Mi"},
                "properties": {"maxPlayers": 0},
            },
        }
    )
    assert set(errors) == {
        "name",
        "spec.eula",
        "spec.resources.memory",
        "spec.properties.maxPlayers",
    }
    assert errors["spec.eula"].startswith("eula must be true")
    assert errors["spec.resources.memory"].startswith("memory must be at least 512Mi")
    assert not any(m.startswith("Value error") for m in errors.values())


def test_missing_fields_and_unknown_fields() -> None:
    errors = create_errors({"spec": {"maxplayers": 3}, "extra": 1})
    assert errors == {
        "name": "Field required",
        "spec.eula": "Field required",
        "spec.maxplayers": "unknown field",
        "extra": "unknown field",
    }


def test_snake_case_keys_are_unknown_fields() -> None:
    errors = create_errors({"name": "ok", "spec": {"eula": True, "properties": {"max_players": 3}}})
    assert errors == {"spec.properties.max_players": "unknown field"}


def test_list_indices_and_map_keys() -> None:
    errors = create_errors(
        {
            "name": "ok",
            "spec": {
                "eula": True,
                "env": [{"name": "FINE"}, {"name": "EULA"}],
                "properties": {"serverProperties": {"Bad Key": "1"}},
            },
        }
    )
    assert set(errors) == {"spec.env[1].name", "spec.properties.serverProperties[Bad Key]"}
    assert errors["spec.properties.serverProperties[Bad Key]"].startswith("invalid key")


def test_body_that_is_not_an_object() -> None:
    assert create_errors([1, 2]) == {
        "body": "Input should be a valid dictionary or instance of ServerCreate"
    }


def test_python_names_are_reported_by_alias() -> None:
    # A spec built in code (by field name) still reports camelCase paths.
    with pytest.raises(ValidationError) as caught:
        MinecraftServerSpec.model_validate({"eula": True, "properties": {"view_distance": 1}})
    problem = problems.from_validation_error(caught.value, prefix="spec")
    assert list(fields(problem)) == ["spec.properties.viewDistance"]


def test_cross_field_rule_names_the_object() -> None:
    with pytest.raises(ValidationError) as caught:
        MinecraftServerSpec.model_validate({"eula": True, "service": {"nodePort": 30001}})
    problem = problems.from_validation_error(caught.value, prefix="spec")
    assert fields(problem) == {"spec.service": "nodePort may only be set when type is NodePort"}


ADMISSION_SINGLE = (
    'MinecraftServer.craftplane.io "x" is invalid: spec.type: Unsupported value: "BOGUS": '
    'supported values: "VANILLA", "PAPER"'
)
ADMISSION_MANY = (
    'MinecraftServer.craftplane.io "x" is invalid: ['
    'spec.eula: Invalid value: "boolean": eula must be true: running a server means accepting '
    "the Minecraft EULA (https://aka.ms/MinecraftEULA), "
    'spec.resources.memory: Invalid value: "string": memory must be at least 512Mi; a smaller '
    "server cannot start, "
    "spec.allowlist: Too many: 101: must have at most 100 items, "
    "spec.env[0].value: Required value, "
    'metadata.name: Invalid value: "Bad_Name": a lowercase RFC 1123 label must consist of '
    "lower case alphanumeric characters or '-', and must start and end with an alphanumeric "
    "character, "
    'spec.version: Invalid value: "abc": spec.version in body should match '
    "'^(LATEST|[0-9]+(\\.[0-9]+){1,3})$']"
)


def test_admission_single_error() -> None:
    problem = problems.from_kube_admission(ADMISSION_SINGLE)
    assert problem.status == 422
    assert fields(problem) == {
        "spec.type": 'unsupported value "BOGUS": supported values: "VANILLA", "PAPER"'
    }
    assert "spec.type" in (problem.detail or "")


def test_admission_policy_denial_names_the_field() -> None:
    message = (
        'minecraftservers.craftplane.io "x" is invalid: : ValidatingAdmissionPolicy '
        "'craftplane-tenant-policy' with binding 'craftplane-tenant-policy' denied request: "
        "spec.service.type: Service type LoadBalancer is not allowed (allowed: ClusterIP) "
        "(CraftplanePolicy default, rule serviceTypes)"
    )
    for status in (message, {"message": message, "details": {"causes": [{"message": message}]}}):
        problem = problems.from_kube_admission(status)
        assert problem.status == 422
        assert fields(problem) == {
            "spec.service.type": "Service type LoadBalancer is not allowed (allowed: "
            "ClusterIP) (CraftplanePolicy default, rule serviceTypes)"
        }


def test_a_missing_policy_denial_names_the_spec() -> None:
    """craftplane-unknown-policy's refusal (a namespace naming a policy that does not exist)
    is about the whole spec, not one field of it."""
    message = (
        'minecraftservers.craftplane.io "x" is invalid: : ValidatingAdmissionPolicy '
        "'craftplane-unknown-policy' with binding 'craftplane-unknown-policy' denied request: "
        "spec: namespace tenant-acme names CraftplanePolicy gold, which does not exist; ask "
        "the cluster admin (rule policyExists)"
    )
    expected = {
        "spec": "namespace tenant-acme names CraftplanePolicy gold, which does not exist; ask "
        "the cluster admin (rule policyExists)"
    }
    for status in (
        message,
        {"message": message, "reason": "Invalid", "details": {"causes": [{"message": message}]}},
    ):
        problem = problems.from_kube_admission(status)
        assert problem.status == 422
        assert fields(problem) == expected


def test_admission_aggregate() -> None:
    errors = problems.from_kube_admission(ADMISSION_MANY).errors
    assert [e["field"] for e in errors] == [
        "spec.eula",
        "spec.resources.memory",
        "spec.allowlist",
        "spec.env[0].value",
        "name",
        "spec.version",
    ]
    messages = [e["message"] for e in errors]
    assert messages[0].startswith("eula must be true")
    assert messages[0].endswith("(https://aka.ms/MinecraftEULA)")
    assert messages[1] == "memory must be at least 512Mi; a smaller server cannot start"
    assert messages[2] == "must have at most 100 items"
    assert messages[3] == "required value"
    assert messages[4].endswith("and must start and end with an alphanumeric character")
    assert messages[5].startswith("spec.version in body should match")


def test_admission_cel_field_path() -> None:
    message = (
        'MinecraftServer.craftplane.io "x" is invalid: spec.service.nodePort: Invalid value: '
        '"object": nodePort may only be set when type is NodePort'
    )
    assert fields(problems.from_kube_admission(message)) == {
        "spec.service.nodePort": "nodePort may only be set when type is NodePort"
    }


def test_admission_status_causes_preferred() -> None:
    status = {
        "kind": "Status",
        "code": 422,
        "reason": "Invalid",
        "message": "ignored when causes are present",
        "details": {
            "name": "x",
            "kind": "MinecraftServer",
            "causes": [
                {
                    "reason": "FieldValueInvalid",
                    "message": 'Invalid value: "1Mi": memory must be at least 512Mi',
                    "field": "spec.resources.memory",
                },
                {"reason": "FieldValueRequired", "message": "Required value", "field": "spec.eula"},
            ],
        },
    }
    assert fields(problems.from_kube_admission(status)) == {
        "spec.resources.memory": "memory must be at least 512Mi",
        "spec.eula": "required value",
    }


def test_admission_status_without_causes_uses_message() -> None:
    assert list(fields(problems.from_kube_admission({"message": ADMISSION_SINGLE}))) == [
        "spec.type"
    ]


def test_strict_decoding_unknown_fields() -> None:
    message = 'strict decoding error: unknown field "spec.maxplayers", unknown field "spec.foo"'
    assert fields(problems.from_kube_admission(message)) == {
        "spec.maxplayers": "unknown field",
        "spec.foo": "unknown field",
    }


def test_unparseable_admission_message_is_kept_whole() -> None:
    assert fields(problems.from_kube_admission("the server is on fire")) == {
        "body": "the server is on fire"
    }


def test_constructors() -> None:
    assert problems.bad_request("x").status == 400
    unauthorized = problems.unauthorized()
    assert unauthorized.status == 401
    assert unauthorized.headers == {"WWW-Authenticate": 'Bearer realm="craftplane"'}
    invalid = problems.unauthorized('bad "quoted" reason', invalid=True)
    assert invalid.headers["WWW-Authenticate"] == (
        'Bearer realm="craftplane", error="invalid_token", '
        "error_description=\"bad 'quoted' reason\""
    )
    assert problems.forbidden("no").status == 403
    assert problems.name_taken("survival").status == 409
    assert problems.name_taken("survival").type == "https://craftplane.io/problems/name-taken"
    unavailable = problems.service_unavailable("database unreachable", retry_after=7)
    assert unavailable.status == 503
    assert unavailable.headers == {"Retry-After": "7"}
    assert problems.unsupported_media_type(["application/json"]).status == 415


def test_not_found_leaks_nothing() -> None:
    # The route raises the same problem whether the server is absent or
    # belongs to another tenant: bodies must be identical.
    absent = problems.not_found("survival").to_dict()
    not_yours = problems.not_found("survival").to_dict()
    assert absent == not_yours
    assert "tenant" not in json.dumps(absent)


def test_problem_body_matches_the_openapi_model() -> None:
    problem = problems.unprocessable([{"field": "spec.eula", "message": "must be true"}])
    problem.instance = "/api/v1/servers"
    body = problem.to_dict()
    ProblemDetails.model_validate(body)
    assert body == {
        "type": "https://craftplane.io/problems/validation",
        "title": "Unprocessable content",
        "status": 422,
        "detail": "1 invalid field: spec.eula: must be true",
        "instance": "/api/v1/servers",
        "errors": [{"field": "spec.eula", "message": "must be true"}],
    }


async def boom(request: Request) -> Response:
    raise problems.service_unavailable("database unreachable")


async def crash(request: Request) -> Response:
    raise RuntimeError("secret internals")


def test_handlers() -> None:
    app = Starlette(
        routes=[Route("/boom", boom), Route("/crash", crash)],
        exception_handlers=dict(problems.EXCEPTION_HANDLERS),
    )
    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/boom")
        assert response.status_code == 503
        assert response.headers["content-type"] == PROBLEM_MEDIA_TYPE
        assert response.headers["retry-after"] == "5"
        assert response.json() == {
            "type": "https://craftplane.io/problems/unavailable",
            "title": "Service unavailable",
            "status": 503,
            "detail": "database unreachable",
            "instance": "/boom",
        }
        missing = client.get("/nowhere")
        assert missing.status_code == 404
        assert missing.headers["content-type"] == PROBLEM_MEDIA_TYPE
        wrong_method = client.delete("/boom")
        assert wrong_method.status_code == 405
        assert wrong_method.headers["content-type"] == PROBLEM_MEDIA_TYPE
        assert "GET" in wrong_method.headers["allow"]
        crashed = client.get("/crash")
        assert crashed.status_code == 500
        assert crashed.headers["content-type"] == PROBLEM_MEDIA_TYPE
        assert "secret" not in crashed.text
