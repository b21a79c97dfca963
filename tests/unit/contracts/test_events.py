from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from pydantic import ValidationError

from craftplane.contracts.events import (
    DUPLICATE_WINDOW_SECONDS,
    STREAM_MAX_AGE_SECONDS,
    STREAM_NAME,
    STREAM_SUBJECTS,
    Event,
    EventType,
    InvalidEvent,
    ServerRef,
    SyncEvent,
    SyncScope,
    decode,
    encode,
    msg_id,
    phase_event_type,
    subject_for,
)
from craftplane.contracts.status import Phase

pytestmark = pytest.mark.unit

REF = ServerRef(uid="0b6c-uid", namespace="team-a", name="survival", tenant="acme")
T0 = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)


def running(**changes: Any) -> Event:
    fields: dict[str, Any] = {
        "type": EventType.K8S_RUNNING,
        "server": REF,
        "phase": Phase.RUNNING,
        "generation": 2,
        "address": "10.0.0.1",
        "port": 25565,
        "players_online": 0,
        "players_max": 20,
        "reason": "PodReady",
        "time": T0,
    }
    fields.update(changes)
    return Event(**fields)


def test_stream_settings() -> None:
    assert STREAM_NAME == "CRAFTPLANE"
    assert STREAM_SUBJECTS == ["craftplane.>"]
    assert STREAM_MAX_AGE_SECONDS == 24 * 3600
    assert DUPLICATE_WINDOW_SECONDS == 120


def test_event_type_values_are_the_reference_names() -> None:
    assert {t.value for t in EventType} == {
        "server.created",
        "server.updated",
        "server.deleted",
        "server.status.changed",
        "k8s.starting",
        "k8s.running",
        "k8s.stopped",
        "k8s.error",
        "sync.required",
        "sync.complete",
    }


@pytest.mark.parametrize(
    ("phase", "event_type"),
    [
        (Phase.STARTING, EventType.K8S_STARTING),
        (Phase.RUNNING, EventType.K8S_RUNNING),
        (Phase.STOPPED, EventType.K8S_STOPPED),
        (Phase.ERROR, EventType.K8S_ERROR),
        (Phase.TERMINATING, EventType.SERVER_STATUS_CHANGED),
    ],
)
def test_phase_event_type(phase: Phase, event_type: EventType) -> None:
    assert phase_event_type(phase) is event_type


@pytest.mark.parametrize(
    ("event", "subject"),
    [
        (running(), "craftplane.k8s.running.team-a.survival"),
        (
            Event(type=EventType.SERVER_STATUS_CHANGED, server=REF),
            # One token for "status.changed": every type has five tokens.
            "craftplane.server.status_changed.team-a.survival",
        ),
        (SyncEvent(type=EventType.SYNC_REQUIRED), "craftplane.sync.required._all._all"),
        (
            SyncEvent(type=EventType.SYNC_REQUIRED, server=SyncScope(namespace="team-a")),
            "craftplane.sync.required.team-a._all",
        ),
        (
            SyncEvent(type=EventType.SYNC_COMPLETE, server=SyncScope(namespace="a", name="b")),
            "craftplane.sync.complete.a.b",
        ),
        (
            Event(type=EventType.SERVER_CREATED, server=ServerRef(namespace="ns", name="a.b")),
            "craftplane.server.created.ns.a_b",
        ),
    ],
)
def test_subject_for(event: Event | SyncEvent, subject: str) -> None:
    assert subject_for(event) == subject


def test_server_events_need_a_namespace_and_name() -> None:
    with pytest.raises(ValidationError, match=r"server\s+Field required"):
        Event(type=EventType.K8S_RUNNING)  # type: ignore[call-arg]
    with pytest.raises(ValidationError, match=r"name\s+Field required"):
        Event(type=EventType.SERVER_DELETED, server=ServerRef(namespace="team-a"))  # type: ignore[call-arg]
    with pytest.raises(ValidationError, match=r"name\s+String should have at least 1"):
        ServerRef(namespace="team-a", name="")
    with pytest.raises(InvalidEvent):
        decode(b'{"schema_version": 2, "type": "k8s.running", "server": {"namespace": "a"}}')


def test_sync_and_server_events_are_apart() -> None:
    with pytest.raises(ValidationError, match="is a SyncEvent"):
        Event(type=EventType.SYNC_REQUIRED, server=REF)
    with pytest.raises(ValidationError, match="is an Event"):
        SyncEvent(type=EventType.K8S_RUNNING)
    # A sync request needs no server at all; on the wire, null and absent mean every server.
    every = SyncEvent(type=EventType.SYNC_REQUIRED, time=T0)
    assert every.server == SyncScope()
    wire = json.loads(encode(every))
    assert isinstance(decode(encode(every)), SyncEvent)
    wire["server"] = None
    assert decode(json.dumps(wire).encode()) == every


def test_id_is_msg_id_and_same_state_gives_same_id() -> None:
    first = running()
    later = running(time=T0 + timedelta(minutes=1), message="different prose")
    assert first.id == msg_id(first)
    assert first.id == later.id
    assert len(first.id) == 64


@pytest.mark.parametrize(
    "change",
    [
        {"type": EventType.K8S_STARTING},
        {"server": REF.model_copy(update={"uid": "other-uid"})},
        {"generation": 3},
        {"phase": Phase.ERROR},
        {"address": "10.0.0.2"},
        {"port": 30001},
        {"players_online": 1},
        {"players_max": 21},
        {"reason": "Recovered"},
    ],
)
def test_different_state_gives_different_id(change: dict[str, Any]) -> None:
    assert running(**change).id != running().id


def test_sync_requests_are_never_deduplicated_against_each_other() -> None:
    first = SyncEvent(type=EventType.SYNC_REQUIRED, time=T0)
    second = SyncEvent(type=EventType.SYNC_REQUIRED, time=T0 + timedelta(seconds=30))
    assert first.id != second.id
    assert SyncEvent(type=EventType.SYNC_REQUIRED, time=T0).id == first.id


def test_encode_decode_round_trip() -> None:
    event = running(message="ready", players_online=3)
    data = encode(event)
    assert isinstance(data, bytes)
    assert decode(data) == event
    wire = json.loads(data)
    assert wire["schema_version"] == 2
    assert wire["type"] == "k8s.running"
    assert wire["server"] == {
        "uid": "0b6c-uid",
        "namespace": "team-a",
        "name": "survival",
        "tenant": "acme",
    }
    assert wire["time"] == "2025-01-01T12:00:00Z"


def test_decode_keeps_the_producers_id_and_ignores_unknown_fields() -> None:
    wire = json.loads(encode(running()))
    wire["id"] = "from-producer"
    wire["added_in_a_later_minor_version"] = True
    assert decode(json.dumps(wire).encode()).id == "from-producer"


def test_times_are_normalised_to_utc() -> None:
    tokyo = timezone(timedelta(hours=9))
    event = running(time=datetime(2025, 1, 1, 21, 0, tzinfo=tokyo))
    assert event.time == T0
    assert event.time.tzinfo is UTC


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"not json",
        b"\xff\xfe\x00",
        b"null",
        b"[]",
        b'{"type": "k8s.exploded"}',
        b'{"type": "k8s.running"}',
        b'{"schema_version": 3, "type": "sync.required", "time": "2025-01-01T00:00:00Z"}',
        b'{"schema_version": 1, "type": "k8s.running", "time": "2025-01-01T00:00:00Z"}',
        b'{"type": "sync.required", "time": "2025-01-01T00:00:00"}',
    ],
)
def test_decode_refuses_garbage(data: bytes) -> None:
    with pytest.raises(InvalidEvent):
        decode(data)


def test_a_recurring_state_is_a_new_event_but_its_state_key_is_the_same() -> None:
    from craftplane.contracts.events import Event, EventType, ServerRef, msg_id, state_key

    ref = ServerRef(uid="u-1", namespace="ns", name="lobby")
    first = Event(type=EventType.K8S_RUNNING, server=ref, players_online=0, revision="10")
    again = Event(type=EventType.K8S_RUNNING, server=ref, players_online=0, revision="12")
    republished = Event(type=EventType.K8S_RUNNING, server=ref, players_online=0, revision="10")
    assert msg_id(first) != msg_id(again)
    assert msg_id(first) == msg_id(republished)
    assert state_key(first) == state_key(again)
