from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from pydantic import ValidationError

from craftplane.contracts.phases import PROJECTED_STATUS
from craftplane_gateway import problems, schemas, ws_frames
from craftplane_gateway.schemas import (
    ServerLinks,
    ServerOut,
    ServerState,
    merge_patch,
    merge_spec,
)
from craftplane_gateway.ws_frames import parse_client_frame

pytestmark = pytest.mark.unit

CURRENT: dict[str, Any] = {
    "eula": True,
    "type": "PAPER",
    "version": "1.21.4",
    "resources": {"cpu": "1", "memory": "2Gi"},
    "properties": {"maxPlayers": 20, "motd": "hi", "serverProperties": {"pvp": "true"}},
    "allowlist": ["alice", "bob_1"],
    "stopped": True,
}


def test_create_accepts_a_minimal_body() -> None:
    created = schemas.validate_create({"name": "survival", "spec": {"eula": True}})
    assert created.name == "survival"
    assert schemas.spec_document(created.spec) == {"eula": True}


def test_create_writes_only_what_was_sent() -> None:
    created = schemas.validate_create(
        {"name": "s", "spec": {"eula": True, "properties": {"maxPlayers": 5}}}
    )
    assert schemas.spec_document(created.spec) == {"eula": True, "properties": {"maxPlayers": 5}}


@pytest.mark.parametrize(
    "name",
    ["", "A", "1abc", "-a", "a-", "a.b", "a_b", "a" * 53],
)
def test_create_refuses_bad_names(name: str) -> None:
    with pytest.raises(ValidationError) as caught:
        schemas.validate_create({"name": name, "spec": {"eula": True}})
    assert [e["field"] for e in problems.field_errors(caught.value)] == ["name"]


def test_create_allows_longest_name() -> None:
    assert schemas.validate_create({"name": "a" * 52, "spec": {"eula": True}}).name == "a" * 52


def test_merge_patch_rfc7386() -> None:
    # Examples from RFC 7386, appendix A.
    assert merge_patch({"a": "b"}, {"a": "c"}) == {"a": "c"}
    assert merge_patch({"a": "b"}, {"b": "c"}) == {"a": "b", "b": "c"}
    assert merge_patch({"a": "b"}, {"a": None}) == {}
    assert merge_patch({"a": [{"b": "c"}]}, {"a": [1]}) == {"a": [1]}
    assert merge_patch({"a": {"b": "c"}}, {"a": {"b": "d", "c": None}}) == {"a": {"b": "d"}}
    assert merge_patch(["a"], {"a": "b"}) == {"a": "b"}
    assert merge_patch({"a": "foo"}, "bar") == "bar"
    assert merge_patch({"e": None}, {"a": 1}) == {"e": None, "a": 1}
    assert merge_patch({}, {"a": {"bb": {"ccc": None}}}) == {"a": {"bb": {}}}


def test_merge_patch_leaves_inputs_alone() -> None:
    target = {"a": {"b": [1]}}
    patch = {"a": {"c": {"d": 1}}}
    merged = merge_patch(target, patch)
    merged["a"]["b"].append(2)
    merged["a"]["c"]["d"] = 2
    assert target == {"a": {"b": [1]}}
    assert patch == {"a": {"c": {"d": 1}}}


def test_merge_spec_merges_and_validates() -> None:
    spec = merge_spec(
        CURRENT,
        {"properties": {"maxPlayers": 40, "motd": None}, "stopped": False, "allowlist": ["carol"]},
    )
    assert spec.properties.max_players == 40
    assert spec.properties.motd == "A Craftplane server"  # null restores the default
    assert spec.properties.server_properties == {"pvp": "true"}
    assert spec.allowlist == ["carol"]
    assert spec.stopped is False
    assert spec.type == "PAPER"


def test_merge_spec_errors_name_fields() -> None:
    with pytest.raises(ValidationError) as caught:
        merge_spec(
            CURRENT,
            {
                "resources": {"memory": "1Mi"},
                "eula": False,
                "properties": {"max_players": 3},
            },
        )
    problem = problems.from_validation_error(caught.value, prefix="spec")
    assert {e["field"] for e in problem.errors} == {
        "spec.resources.memory",
        "spec.eula",
        "spec.properties.max_players",
    }


def test_merge_spec_removing_a_required_field() -> None:
    with pytest.raises(ValidationError) as caught:
        merge_spec(CURRENT, {"eula": None})
    assert [e["field"] for e in problems.field_errors(caught.value, prefix="spec")] == ["spec.eula"]


def test_patch_body_shape() -> None:
    assert schemas.validate_patch({"spec": {"stopped": True}}).spec == {"stopped": True}
    with pytest.raises(ValidationError):
        schemas.validate_patch({"name": "rename", "spec": {}})
    with pytest.raises(ValidationError):
        schemas.validate_patch({"spec": [1]})


def test_server_states_cover_the_projection() -> None:
    assert {s.value for s in PROJECTED_STATUS.values()} | {"deleted"} == {
        s.value for s in ServerState
    }


def server(**overrides: Any) -> ServerOut:
    values: dict[str, Any] = {
        "name": "survival",
        "namespace": "tenant-acme",
        "tenant": "acme",
        "uid": "u-1",
        "status": "running",
        "phase": "Running",
        "address": "10.0.0.5",
        "port": 25565,
        "players": {"online": 1, "max": 20},
        "type": "PAPER",
        "version": "1.21.4",
        "created_at": datetime(2025, 1, 1, 13, 0, tzinfo=timezone(timedelta(hours=1))),
        "updated_at": datetime(2025, 1, 1, 12, 5, tzinfo=UTC),
        "links": ServerLinks.for_server("survival"),
    }
    values.update(overrides)
    return ServerOut.model_validate(values)


def test_server_out_is_camel_case_json() -> None:
    body = server().model_dump(mode="json")
    assert body["createdAt"] == "2025-01-01T12:00:00Z"
    assert body["updatedAt"] == "2025-01-01T12:05:00Z"
    assert body["players"] == {"online": 1, "max": 20}
    assert body["links"] == {
        "self": "/api/v1/servers/survival",
        "events": "/api/v1/servers/survival/events",
        "start": "/api/v1/servers/survival/start",
        "stop": "/api/v1/servers/survival/stop",
    }
    assert "created_at" not in body
    # And it reads back from its own JSON (the dashboard's view of it).
    assert ServerOut.model_validate(body) == server()


def test_pages_and_accepted() -> None:
    page = schemas.ServerPage(items=[server()], next_cursor="abc").model_dump(mode="json")
    assert page["nextCursor"] == "abc"
    accepted = schemas.Accepted(name="s", location="/api/v1/servers/s").model_dump(mode="json")
    assert accepted == {"name": "s", "status": "accepted", "location": "/api/v1/servers/s"}
    entry = schemas.TimelineEntry(
        id="e1", type="k8s.running", time=datetime(2025, 1, 1, tzinfo=UTC), status="running"
    )
    timeline = schemas.TimelinePage(items=[entry]).model_dump(mode="json")
    assert timeline["items"][0]["type"] == "k8s.running"
    assert timeline["nextCursor"] is None


def test_client_frames() -> None:
    auth = parse_client_frame('{"type": "auth", "token": "t"}')
    assert isinstance(auth, ws_frames.AuthFrame)
    assert auth.token == "t"
    everything = parse_client_frame('{"type": "subscribe", "servers": "all"}')
    assert isinstance(everything, ws_frames.SubscribeFrame)
    assert everything.servers == "all"
    some = parse_client_frame('{"type": "subscribe", "servers": ["a", "b"]}')
    assert isinstance(some, ws_frames.SubscribeFrame)
    assert some.servers == ["a", "b"]
    ping = parse_client_frame(b'{"type": "ping", "id": "7"}')
    assert isinstance(ping, ws_frames.PingFrame)
    assert ping.id == "7"


@pytest.mark.parametrize(
    "text",
    [
        "not json",
        '{"type": "nope"}',
        '{"type": "auth"}',
        '{"type": "subscribe", "servers": "some"}',
        '{"type": "subscribe", "servers": ["Bad_Name"]}',
        '{"type": "ping", "extra": 1}',
    ],
)
def test_bad_client_frames(text: str) -> None:
    with pytest.raises(ValidationError):
        parse_client_frame(text)


def test_server_frames_json() -> None:
    frames = [
        ws_frames.SnapshotFrame(servers=[server()]),
        ws_frames.EventFrame(
            server=ws_frames.ServerDelta(name="survival", namespace="tenant-acme", uid="u-1"),
            event=ws_frames.EventInfo(
                id="e1", type="k8s.running", time=datetime(2025, 1, 1, tzinfo=UTC)
            ),
        ),
        ws_frames.MetricsFrame(
            players_by_server={"survival": 1}, servers_by_status={ServerState.RUNNING: 1}
        ),
        ws_frames.ErrorFrame(code="not_found", message="server 'x' not found"),
        ws_frames.PongFrame(id="7"),
    ]
    for frame in frames:
        text = ws_frames.frame_json(frame)
        assert ws_frames.SERVER_FRAME.validate_json(text) == frame
    metrics = ws_frames.frame_json(frames[2])
    assert metrics == (
        '{"type":"metrics","playersByServer":{"survival":1},"serversByStatus":{"running":1}}'
    )
