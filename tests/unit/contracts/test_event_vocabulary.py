"""The envelope's vocabulary: kinds, the subject layout and its filters, the version 1 reader."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

import pytest

from craftplane.contracts.events import (
    SCHEMA_VERSION,
    STREAM_SUBJECTS,
    Event,
    EventKind,
    EventType,
    ServerRef,
    SyncEvent,
    SyncScope,
    decode,
    encode,
    subject,
    subject_filter,
    subject_for,
)
from craftplane.contracts.status import Phase

pytestmark = pytest.mark.unit

T0 = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)

# Published by the version 1 code (ids computed by it): they must read the same today.
V1_RUNNING = (
    '{"schema_version":1,"id":"6ebd665e461a732206d681a7199dd76ad4006448abc6a38d34514afce16d0501",'
    '"type":"k8s.running","server":{"uid":"0b6c-uid","namespace":"team-a","name":"survival",'
    '"tenant":"acme"},"phase":"Running","generation":2,"address":"10.0.0.1","port":25565,'
    '"players_online":0,"players_max":20,"reason":"PodReady","message":null,"revision":"41",'
    '"correlation_id":null,"time":"2025-01-01T12:00:00Z"}'
)
V1_SYNC_COMPLETE = (
    '{"schema_version":1,"id":"a11120f411ea8ae68d3ddbb4b29d1037f82c65edb64406c7066556476dccb091",'
    '"type":"sync.complete","server":{"uid":"","namespace":"team-a","name":null,"tenant":null},'
    '"phase":null,"generation":null,"address":null,"port":null,"players_online":null,'
    '"players_max":null,"reason":null,"message":"3 servers re-published","revision":null,'
    '"correlation_id":"abc","time":"2025-01-01T12:00:00Z"}'
)
V1_CREATED = (
    '{"schema_version":1,"id":"00a0bfe5ec39c7bae7711c34baf0b919075bb490023474188bc618f6b0108c97",'
    '"type":"server.created","server":{"uid":"0b6c-uid","namespace":"team-a","name":"survival",'
    '"tenant":"acme"},"phase":null,"generation":1,"address":null,"port":null,'
    '"players_online":null,"players_max":20,"reason":null,"message":"PAPER 1.21.1",'
    '"revision":null,"correlation_id":null,"time":"2025-01-01T12:00:00Z"}'
)


def nats_match(pattern: str, subject: str) -> bool:
    """NATS wildcard matching: ``*`` is one token, a final ``>`` one or more."""
    want, have = pattern.split("."), subject.split(".")
    for i, token in enumerate(want):
        if token == ">":
            return len(have) > i
        if i >= len(have) or token not in ("*", have[i]):
            return False
    return len(want) == len(have)


def test_every_type_has_a_kind_and_the_kinds_are_the_design_s() -> None:
    by_kind = {kind: {t.value for t in EventType if t.kind is kind} for kind in EventKind}
    assert by_kind == {
        EventKind.SPEC: {"server.created", "server.updated", "server.deleted"},
        EventKind.STATUS: {
            "server.status.changed",
            "k8s.starting",
            "k8s.running",
            "k8s.stopped",
            "k8s.error",
        },
        EventKind.SYNC: {"sync.required", "sync.complete"},
    }
    assert {t for t in EventType if t.is_sync} == {t for t in EventType if t.kind is EventKind.SYNC}


@pytest.mark.parametrize("event_type", list(EventType))
def test_every_subject_has_five_tokens_and_the_documented_filters_match(
    event_type: EventType,
) -> None:
    name = subject(event_type, "team-a", "survival")
    assert len(name.split(".")) == 5
    assert all(re.fullmatch(r"[A-Za-z0-9_-]+", token) for token in name.split("."))
    for pattern in (
        "craftplane.*.*.team-a.survival",  # the README's filter for one server
        subject_filter(namespace="team-a", name="survival"),
        subject_filter(namespace="team-a"),
        subject_filter(event_type),
        subject_filter(event_type, namespace="team-a", name="survival"),
        subject_filter(),
        *STREAM_SUBJECTS,
    ):
        assert nats_match(pattern, name), pattern
    assert not nats_match(subject_filter(namespace="team-b"), name)
    assert not nats_match(subject_filter(namespace="team-a", name="creative"), name)
    others = [t for t in EventType if t is not event_type]
    assert not any(nats_match(subject_filter(event_type), subject(t, "a", "b")) for t in others)


def test_subject_filters() -> None:
    assert subject_filter() == "craftplane.>"
    assert subject_filter(EventType.SYNC_REQUIRED) == "craftplane.sync.required.>"
    assert subject_filter(namespace="team-a") == "craftplane.*.*.team-a.>"
    assert subject_filter(namespace="team-a", name="a.b") == "craftplane.*.*.team-a.a_b"
    assert (
        subject_filter(EventType.SERVER_STATUS_CHANGED, name="s")
        == "craftplane.server.status_changed.*.s"
    )
    # What every consumer subscribes with also takes messages of the older six-token layout,
    # still in the stream for up to a day after an upgrade.
    old = "craftplane.server.status.changed.team-a.survival"
    assert nats_match(subject_filter(), old)
    assert all(nats_match(pattern, old) for pattern in STREAM_SUBJECTS)


def test_subject_for_uses_the_layout() -> None:
    ref = ServerRef(uid="u", namespace="ns", name="n")
    event = Event(type=EventType.SERVER_STATUS_CHANGED, server=ref, phase=Phase.TERMINATING)
    assert subject_for(event) == subject(EventType.SERVER_STATUS_CHANGED, "ns", "n")
    sync = SyncEvent(type=EventType.SYNC_REQUIRED, server=SyncScope(namespace="ns"))
    assert subject_for(sync) == "craftplane.sync.required.ns._all"


@pytest.mark.parametrize("payload", [V1_RUNNING, V1_SYNC_COMPLETE, V1_CREATED])
def test_version_1_events_read_as_version_2_with_their_ids(payload: str) -> None:
    wire = json.loads(payload)
    event = decode(payload.encode())
    assert event.schema_version == SCHEMA_VERSION == 2
    assert event.id == wire["id"]
    assert event.time == T0
    # The id a version 1 producer computed is the one computed now, so a re-publication
    # after the upgrade is still a duplicate.
    del wire["id"]
    assert decode(json.dumps(wire).encode()).id == event.id
    # And it goes out again as version 2.
    assert json.loads(encode(event))["schema_version"] == 2


def test_version_1_spec_events_get_their_type_and_version_from_the_message() -> None:
    created = decode(V1_CREATED.encode())
    assert isinstance(created, Event)
    assert (created.server_type, created.version) == ("PAPER", "1.21.1")
    assert created.message == "PAPER 1.21.1"
    odd = json.loads(V1_CREATED)
    odd["message"] = "PAPER"  # not "<type> <version>": nothing to read
    unread = decode(json.dumps(odd).encode())
    assert isinstance(unread, Event)
    assert (unread.server_type, unread.version) == (None, None)
    # Only spec events' messages are read; a status event's message is prose.
    running = json.loads(V1_RUNNING)
    running["message"] = "PAPER 1.21.1"
    status = decode(json.dumps(running).encode())
    assert isinstance(status, Event)
    assert status.server_type is None


def test_version_2_spec_events_carry_type_and_version_as_fields() -> None:
    ref = ServerRef(uid="u", namespace="ns", name="n")
    event = Event(type=EventType.SERVER_UPDATED, server=ref, server_type="PAPER", version="1.21")
    wire = json.loads(encode(event))
    assert (wire["server_type"], wire["version"]) == ("PAPER", "1.21")
    wire["message"] = "FABRIC 1.20"  # prose is never read in version 2
    read = decode(json.dumps(wire).encode())
    assert isinstance(read, Event)
    assert (read.server_type, read.version) == ("PAPER", "1.21")


def test_version_1_sync_events_read_as_sync_events() -> None:
    complete = decode(V1_SYNC_COMPLETE.encode())
    assert isinstance(complete, SyncEvent)
    assert complete.server == SyncScope(namespace="team-a")
    assert complete.correlation_id == "abc"
    everything = json.loads(V1_SYNC_COMPLETE)
    everything["server"] = None
    assert decode(json.dumps(everything).encode()).server == SyncScope()


@pytest.mark.parametrize(
    ("message", "parsed"),
    [("PAPER 1.21.1", ("PAPER", "1.21.1")), ("VANILLA LATEST", ("VANILLA", "LATEST")),
     (None, (None, None)), ("", (None, None)), ("one two three", (None, None))],
)  # fmt: skip
def test_version_1_messages(message: str | None, parsed: tuple[str | None, str | None]) -> None:
    # Moved from the gateway's rules (parse_type_version): only the v1 reader reads messages.
    wire = json.loads(V1_CREATED)
    wire["message"] = message
    event = decode(json.dumps(wire).encode())
    assert isinstance(event, Event)
    assert (event.server_type, event.version) == parsed
