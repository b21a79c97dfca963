"""The projection rule without a database: which event wins, and the row it leaves."""

from __future__ import annotations

from dataclasses import replace

import pytest

from craftplane.contracts.events import AnyEvent, Event, EventType, SyncEvent
from craftplane.contracts.status import Phase
from craftplane_gateway.db.models import ServerRow
from craftplane_gateway.db.rules import (
    RowVersion,
    Verdict,
    decide,
    event_status,
    fold,
    parse_revision,
    project,
    unprojectable,
)
from tests.gateway.db.factories import at, deleted, spec, state

pytestmark = pytest.mark.unit

SYNC = SyncEvent(type=EventType.SYNC_REQUIRED)
LIVE_20 = RowVersion(revision=20, event_time=at(20), spec_generation=2)
LIVE_NO_REV = RowVersion(revision=None, event_time=at(20), spec_generation=2)
CREATED_ONLY = RowVersion(spec_generation=1)
GONE = RowVersion(deleted=True, revision=20, event_time=at(20), spec_generation=2)

# fmt: off
CASES = [
    # (id, row, event, verdict)
    ("new server, state", None, state(Phase.STARTING), Verdict.APPLY),
    ("new server, spec", None, spec(), Verdict.APPLY),
    ("new server, delete", None, deleted(), Verdict.APPLY),
    ("sync, no row", None, SYNC, Verdict.NOT_STATE),
    ("sync, row", LIVE_20, SYNC, Verdict.NOT_STATE),
    ("newer revision", LIVE_20, state(Phase.STOPPED, rev=21, t=21), Verdict.APPLY),
    ("older revision", LIVE_20, state(Phase.STARTING, rev=10, t=10), Verdict.STALE),
    ("older revision, later clock", LIVE_20, state(Phase.ERROR, rev=19, t=99), Verdict.STALE),
    ("newer revision, earlier clock", LIVE_20, state(Phase.ERROR, rev=21, t=1), Verdict.APPLY),
    ("same revision, later", LIVE_20, state(Phase.RUNNING, rev=20, t=21), Verdict.APPLY),
    ("same revision, same time", LIVE_20, state(Phase.RUNNING, rev=20, t=20), Verdict.STALE),
    ("same revision, earlier", LIVE_20, state(Phase.RUNNING, rev=20, t=19), Verdict.STALE),
    ("event without revision, later", LIVE_20, state(Phase.STOPPED, rev=None, t=21), Verdict.APPLY),
    ("event without revision, earlier", LIVE_20, state(Phase.STOPPED, rev=None, t=19), Verdict.STALE),
    ("non-numeric revision, later", LIVE_20, state(Phase.STOPPED, rev="x7", t=21), Verdict.APPLY),
    ("non-numeric revision, earlier", LIVE_20, state(Phase.STOPPED, rev="x7", t=9), Verdict.STALE),
    ("row without revision, later", LIVE_NO_REV, state(Phase.STOPPED, rev=5, t=21), Verdict.APPLY),
    ("row without revision, earlier", LIVE_NO_REV, state(Phase.STOPPED, rev=99, t=19), Verdict.STALE),
    ("row without state yet", CREATED_ONLY, state(Phase.STARTING, rev=1, t=-50), Verdict.APPLY),
    ("spec, newer generation", LIVE_20, spec(EventType.SERVER_UPDATED, generation=3), Verdict.APPLY),
    ("spec, same generation", LIVE_20, spec(EventType.SERVER_UPDATED, generation=2), Verdict.APPLY),
    ("spec, older generation", LIVE_20, spec(EventType.SERVER_CREATED, generation=1), Verdict.STALE),
    ("spec without generation", LIVE_20, spec(generation=None), Verdict.STALE),
    ("spec without generation, none known", RowVersion(), spec(generation=None), Verdict.APPLY),
    ("delete over newer state", LIVE_20, deleted(t=-100), Verdict.APPLY),
    ("deleted row, newer state", GONE, state(Phase.RUNNING, rev=99, t=99), Verdict.DELETED),
    ("deleted row, spec", GONE, spec(EventType.SERVER_UPDATED, generation=9), Verdict.DELETED),
    ("deleted row, delete again", GONE, deleted(t=30), Verdict.DELETED),
]
# fmt: on


@pytest.mark.parametrize(
    ("row", "event", "verdict"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_decide(row: RowVersion | None, event: Event, verdict: Verdict) -> None:
    assert decide(row, event) is verdict


@pytest.mark.parametrize(
    ("value", "number"),
    [
        ("123", 123),
        ("007", 7),
        ("0", 0),
        (None, None),
        ("", None),
        ("abc", None),
        ("-5", None),
        ("1.5", None),
        ("\u0661\u0662", None),  # Arabic-Indic digits are decimal but not a resourceVersion
        (str(2**63 - 1), 2**63 - 1),
        (str(2**63), None),
    ],
)
def test_parse_revision(value: str | None, number: int | None) -> None:
    assert parse_revision(value) == number


@pytest.mark.parametrize(
    ("event", "status"),
    [
        (state(Phase.STARTING), "deploying"),
        (state(Phase.RUNNING), "running"),
        (state(Phase.STOPPED), "stopped"),
        (state(Phase.ERROR), "failed"),
        (state(Phase.TERMINATING), "terminating"),
        (deleted(), "deleted"),
        (spec(), None),
        (spec(EventType.SERVER_UPDATED), None),
    ],
)
def test_event_status(event: Event, status: str | None) -> None:
    assert event_status(event) == status


def test_spec_events_are_read_by_their_fields_not_their_message() -> None:
    # (How a version 1 event's message is read is tested with the contracts' v1 reader.)
    row = _row(spec(message="PAPER 1.21.1", server_type="FABRIC", version="1.20.1"))
    assert (row.server_type, row.version) == ("FABRIC", "1.20.1")
    row = fold(row, spec(EventType.SERVER_UPDATED, generation=2, message="just some prose"), 2)
    assert (row.server_type, row.version) == ("FABRIC", "1.20.1")


def _row(*events: Event) -> ServerRow:
    row: ServerRow | None = None
    for seq, event in enumerate(events, 1):
        _, row = project(row, event, seq)
    assert row is not None
    return row


def test_state_event_creates_a_row_with_its_state() -> None:
    row = _row(state(Phase.RUNNING, rev=20, t=5))
    assert (row.status, row.phase, row.last_revision, row.last_stream_seq) == (
        "running", "Running", 20, 1,
    )  # fmt: skip
    assert (row.address, row.port, row.players_online, row.players_max) == (
        "survival.team-a.svc", 25565, 0, 20,
    )  # fmt: skip
    assert row.created_at == row.updated_at == row.last_event_time == at(5)


def test_spec_event_creates_a_deploying_row_without_phase_state() -> None:
    row = _row(spec(generation=1, t=0))
    assert (row.status, row.phase, row.server_type, row.version) == (
        "deploying", None, "PAPER", "1.21.1",
    )  # fmt: skip
    assert (row.generation, row.spec_generation, row.last_revision, row.last_event_time) == (
        1, 1, None, None,
    )  # fmt: skip


def test_spec_event_leaves_newer_phase_state_alone() -> None:
    running = _row(state(Phase.RUNNING, rev=20, t=5))
    row = fold(
        running, spec(EventType.SERVER_UPDATED, generation=2, t=1, message="PAPER 1.21.4"), 2
    )
    assert (row.status, row.phase, row.address, row.last_revision) == (
        "running", "Running", "survival.team-a.svc", 20,
    )  # fmt: skip
    assert (row.generation, row.spec_generation, row.version) == (2, 2, "1.21.4")
    assert row.last_event_time == at(5)  # spec events do not move the state's order
    assert row.created_at == at(1)  # the earliest known moment


def test_state_event_keeps_players_max_when_it_has_none() -> None:
    row = _row(state(Phase.RUNNING, rev=20, t=5), state(Phase.STOPPED, rev=21, t=6))
    assert (row.status, row.address, row.players_online, row.players_max) == (
        "stopped", None, None, 20,
    )  # fmt: skip


def test_delete_is_final() -> None:
    row = _row(state(Phase.RUNNING, rev=20, t=5), deleted(t=7))
    assert (row.status, row.deleted_at, row.players_online) == ("deleted", at(7), None)
    verdict, after = project(row, state(Phase.RUNNING, rev=30, t=9), 3)
    assert verdict is Verdict.DELETED and after == row


def test_duplicate_state_changes_nothing_visible() -> None:
    row = _row(state(Phase.RUNNING, rev=20, t=5))
    verdict, after = project(row, state(Phase.RUNNING, rev=20, t=5), 2)
    assert verdict is Verdict.STALE and after == row


def test_tenant_is_filled_in_later_but_never_erased() -> None:
    first = _row(state(Phase.STARTING, rev=1, t=1, tenant=None))
    assert first.tenant is None
    row = fold(first, state(Phase.RUNNING, rev=2, t=2, tenant="a"), 2)
    assert row.tenant == "a"
    row = fold(row, state(Phase.STOPPED, rev=3, t=3, tenant=None), 3)
    assert row.tenant == "a"


def test_sync_events_are_not_folded() -> None:
    with pytest.raises(ValueError):
        fold(None, SYNC, 1)


@pytest.mark.parametrize(
    ("event", "problem"),
    [
        (state(Phase.RUNNING), None),
        (SYNC, None),
        (state(Phase.RUNNING, uid=""), "uid"),
        (state(Phase.RUNNING, message="bad\x00byte"), "NUL"),
        (state(Phase.RUNNING, players_online=2**63), "range"),
    ],
)
def test_unprojectable(event: AnyEvent, problem: str | None) -> None:
    found = unprojectable(event)
    if problem is None:
        assert found is None
    else:
        assert found is not None and problem in found


def test_rows_compare_on_visible_fields_only() -> None:
    row = _row(state(Phase.RUNNING, rev=20, t=5))
    assert replace(row, last_stream_seq=99).visible() == row.visible()
    assert replace(row, players_online=3).visible() != row.visible()
