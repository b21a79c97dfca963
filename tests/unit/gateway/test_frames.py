"""What WebSocket clients are sent for an event: the server as the projection will show it."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from craftplane.contracts.cr_events import ObservedServer, phase_event
from craftplane.contracts.events import Event, EventType, ServerRef, SyncEvent
from craftplane.contracts.status import Phase
from craftplane_gateway import ws_frames
from craftplane_gateway.db.models import ClusterServer
from craftplane_gateway.db.rules import fold
from craftplane_gateway.frames import FINAL_REVISION, delta_from_event, delta_from_row, server_view

pytestmark = pytest.mark.unit

REF = ServerRef(uid="u-1", namespace="team-a", name="survival", tenant="acme")
T0 = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)


def terminating() -> Event:
    return Event(
        type=EventType.SERVER_STATUS_CHANGED,
        server=REF,
        phase=Phase.TERMINATING,
        generation=3,
        reason="Deleting",
        message="the server is being deleted",
        revision="77",
        time=T0,
    )


def test_a_terminating_delta_keeps_its_reason_and_message() -> None:
    delta = delta_from_event(terminating())
    assert delta is not None
    server = delta.frame["server"]
    assert (server["status"], server["phase"]) == ("terminating", "Terminating")
    assert (server["reason"], server["message"]) == ("Deleting", "the server is being deleted")
    # What the projection makes of the same event: a client is told what the row will say.
    row = fold(None, terminating(), 1)
    assert (row.reason, row.message, row.address, row.players_online) == (
        server["reason"],
        server["message"],
        server["address"],
        server["players"],
    )
    assert delta.frame["event"]["reason"] == "Deleting"
    assert delta.order == (77, T0.timestamp())


@pytest.mark.parametrize("event_type", [t for t in EventType if t.kind.value == "status"])
def test_every_status_event_carries_the_state_fields(event_type: EventType) -> None:
    view = server_view(Event(type=event_type, server=REF, reason="R", message="M"))
    assert {"address", "port", "players", "reason", "message"} <= set(view)


def test_spec_events_do_not_speak_about_the_state() -> None:
    view = server_view(Event(type=EventType.SERVER_UPDATED, server=REF, generation=2))
    assert not {"address", "port", "players", "reason", "message"} & set(view)
    created = server_view(Event(type=EventType.SERVER_CREATED, server=REF))
    assert created["status"] == "deploying"


def test_deleted_is_final_and_sync_events_are_not_sent() -> None:
    deleted = delta_from_event(Event(type=EventType.SERVER_DELETED, server=REF, time=T0))
    assert deleted is not None
    assert deleted.frame["server"]["status"] == "deleted"
    assert deleted.order[0] == FINAL_REVISION
    assert delta_from_event(SyncEvent(type=EventType.SYNC_REQUIRED)) is None
    no_tenant = REF.model_copy(update={"tenant": None})
    assert delta_from_event(Event(type=EventType.K8S_RUNNING, server=no_tenant)) is None


def test_the_gateway_reads_a_cr_into_the_operators_events() -> None:
    # Both sides use the contracts' mapping, so a polled state has the operator's event id.
    body = {
        "metadata": {"uid": "u-1", "namespace": "team-a", "name": "survival", "generation": 2,
                     "resourceVersion": "41"},
        "spec": {"type": "PAPER", "version": "1.21.1", "properties": {"maxPlayers": 30}},
        "status": {"phase": "Running", "observedGeneration": 2,
                   "address": {"host": "10.0.0.1", "port": 25565},
                   "players": {"online": 3, "max": 30},
                   "conditions": [{"type": "Ready", "status": "True", "reason": "PodReady"}]},
    }  # fmt: skip
    observed = ObservedServer.from_cr(body, "acme")
    state = observed.phase_event(time=T0)
    assert state is not None
    assert (state.type, state.server, state.players_online, state.reason) == (
        EventType.K8S_RUNNING, REF, 3, "PodReady",
    )  # fmt: skip
    spec = observed.spec_event(EventType.SERVER_CREATED, time=T0)
    assert (spec.server_type, spec.version, spec.players_max, spec.generation) == (
        "PAPER", "1.21.1", 30, 2,
    )  # fmt: skip


def _cr(**status: Any) -> dict[str, Any]:
    return {
        "metadata": {"uid": "u", "namespace": "ns", "name": "n", "generation": 4,
                     "resourceVersion": "9"},
        "spec": {"type": "FABRIC"},
        "status": status,
    }  # fmt: skip


def test_the_gateway_s_cluster_view_is_the_same_mapping() -> None:
    cr = _cr(phase="Running", observedGeneration=4, address={"host": "h", "port": 1})
    polled = ClusterServer.from_cr(cr, "t")
    assert isinstance(polled, ObservedServer)
    operator = phase_event(cr, "t")
    gateway = polled.phase_event()
    assert operator is not None and gateway is not None
    assert gateway.id == operator.id
    assert ClusterServer.coerce(ObservedServer.from_cr(cr, "t")) == polled


def _as_sent(frame: dict[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps(frame, separators=(",", ":"), default=str))


@pytest.mark.parametrize(
    "event",
    [
        terminating(),
        Event(type=EventType.K8S_RUNNING, server=REF, phase=Phase.RUNNING, address="h", port=1,
              players_online=2, players_max=None, revision="3", time=T0),
        Event(type=EventType.SERVER_CREATED, server=REF, generation=1, server_type="PAPER",
              version="1.21", time=T0),
        Event(type=EventType.SERVER_DELETED, server=REF, phase=Phase.TERMINATING, time=T0),
    ],
)  # fmt: skip
def test_event_frames_are_what_the_model_documents(event: Event) -> None:
    delta = delta_from_event(event)
    assert delta is not None
    sent = _as_sent(delta.frame)
    frame = ws_frames.SERVER_FRAME.validate_python(sent)
    assert isinstance(frame, ws_frames.EventFrame)
    # Every key the frame carries is a field of the model (nothing undocumented is sent).
    assert frame.model_dump(mode="json", by_alias=True, exclude_unset=True).keys() == sent.keys()
    assert set(sent["server"]) == frame.server.model_fields_set | {"name", "namespace", "uid"}


@pytest.mark.parametrize("reason", ["cluster", "projection"])
def test_polled_frames_are_what_the_model_documents(reason: str) -> None:
    row = fold(None, terminating(), 1)
    sent = _as_sent(delta_from_row(row.to_json(), reason=reason).frame)
    frame = ws_frames.SERVER_FRAME.validate_python(sent)
    assert isinstance(frame, ws_frames.EventFrame)
    assert frame.event.type == f"{reason}.observed" and frame.event.id is None
    camel = {
        ws_frames.ServerDelta.model_fields[name].alias or name
        for name in frame.server.model_fields_set
    }
    assert set(sent["server"]) == camel
