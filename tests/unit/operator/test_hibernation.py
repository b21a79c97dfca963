"""The hibernation decider, case by case: the empty clock, players coming back, the owner's stop,
wake requests older and newer than the sleep, failed wakes and their bound, and an operator
restart in the middle of each (everything it needs is in the status)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from craftplane.contracts.hibernation import (
    HIBERNATING_REASON,
    WAKE_FAILED_REASON,
    WAKE_REQUEST_ANNOTATION,
    WAKE_REQUESTER_ANNOTATION,
    WAKING_REASON,
    Hibernation,
    wake_annotations,
    wake_request,
)
from craftplane.contracts.status import HibernationState, HibernationStatus, Phase
from craftplane_operator.hibernation import Given, Sleep, decide, describe, planned, read_record
from craftplane_operator.phase import Derived, Reason
from tests.unit.operator.factories import server

pytestmark = pytest.mark.unit

NOW = datetime(2025, 1, 1, 12, 0, 0, tzinfo=UTC)
CONFIG = Hibernation(after_empty_minutes=10, wake_timeout_seconds=300)
AWAKE, ASLEEP, WAKING = HibernationState.AWAKE, HibernationState.ASLEEP, HibernationState.WAKING


def ago(**delta: float) -> datetime:
    return NOW - timedelta(**delta)


def request(at: datetime, by: str = "join:Steve") -> dict[str, str]:
    return {
        WAKE_REQUEST_ANNOTATION: at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        WAKE_REQUESTER_ANNOTATION: by,
    }


def given(
    record: HibernationStatus | None = None,
    *,
    phase: Phase = Phase.RUNNING,
    players: int | None = 0,
    annotations: dict[str, str] | None = None,
    stopped: bool = False,
    generation: int = 3,
    config: Hibernation | None = CONFIG,
    detail: str = "The server is starting.",
) -> Given:
    return Given(
        config=config,
        stopped=stopped,
        generation=generation,
        request=wake_request(annotations or {}),
        record=record,
        phase=phase,
        detail=detail,
        players=players,
        now=NOW,
    )


def rec(state: HibernationState = AWAKE, **fields: Any) -> HibernationStatus:
    return HibernationStatus(state=state, **fields)


def _with(record: HibernationStatus, **fields: Any) -> HibernationStatus:
    return record.model_copy(update=fields)


SLEPT = rec(ASLEEP, hibernated_at=ago(minutes=5))
WOKEN = rec(WAKING, hibernated_at=ago(minutes=5), woken_at=ago(seconds=42), woken_by="join:Steve")
BLOCKED = rec(
    ASLEEP,
    hibernated_at=ago(minutes=5),
    failed_wakes=3,
    failed_generation=3,
    last_failure="The server refused to start",
)


@dataclass(frozen=True)
class Expect:
    state: HibernationState
    record: dict[str, Any]  # the fields of the record that matter here
    notices: tuple[tuple[bool, str], ...] = ()
    wake_at: datetime | None = None
    confirm_empty: bool = False


CASES: list[tuple[str, Given, Expect]] = [
    ("no spec.hibernation: never", given(config=None), Expect(AWAKE, {})),
    (
        "running and empty: the clock starts, and wakes the operator at its end",
        given(),
        Expect(AWAKE, {"empty_since": NOW}, wake_at=NOW + timedelta(minutes=10)),
    ),
    (
        "still empty, before the end: the clock goes on as it was",
        given(rec(empty_since=ago(minutes=5))),
        Expect(AWAKE, {"empty_since": ago(minutes=5)}, wake_at=NOW + timedelta(minutes=5)),
    ),
    (
        "empty for the whole time: asleep now, after a fresh count",
        given(rec(empty_since=ago(minutes=10))),
        Expect(
            ASLEEP,
            {"hibernated_at": NOW, "empty_since": None},
            notices=((False, HIBERNATING_REASON),),
            confirm_empty=True,
        ),
    ),
    (
        "players back before the end: the clock stops",
        given(rec(empty_since=ago(minutes=9)), players=2),
        Expect(AWAKE, {"empty_since": None}),
    ),
    (
        "a count not known (no ping yet): nothing is decided on it",
        given(rec(empty_since=ago(minutes=20)), players=None),
        Expect(AWAKE, {"empty_since": ago(minutes=20)}),
    ),
    (
        "only a Running server sleeps",
        given(rec(empty_since=ago(minutes=20)), phase=Phase.STARTING),
        Expect(AWAKE, {"empty_since": ago(minutes=20)}),
    ),
    (
        "the owner's stop wins: awake, the clock and the failures forgotten",
        given(BLOCKED, stopped=True),
        Expect(AWAKE, {"failed_wakes": 0, "empty_since": None, "last_failure": ""}),
    ),
    (
        "asleep, no request: stays asleep, no alarm",
        given(SLEPT, phase=Phase.STARTING),
        Expect(ASLEEP, {"hibernated_at": ago(minutes=5)}),
    ),
    (
        "a request from before the sleep is stale",
        given(SLEPT, annotations=request(ago(minutes=6))),
        Expect(ASLEEP, {"woken_at": None}),
    ),
    (
        "a request written in the second it fell asleep wakes it",
        given(SLEPT, annotations=request(ago(minutes=5))),
        Expect(
            WAKING,
            {"woken_at": NOW, "woken_by": "join:Steve"},
            notices=((False, WAKING_REASON),),
            wake_at=NOW + timedelta(seconds=300),
        ),
    ),
    (
        "a newer request wakes it, and remembers which one it answered",
        given(SLEPT, annotations=request(ago(seconds=1))),
        Expect(
            WAKING,
            {"woken_at": NOW, "wake_request": "2025-01-01T11:59:59Z"},
            notices=((False, WAKING_REASON),),
            wake_at=NOW + timedelta(seconds=300),
        ),
    ),
    (
        "the request answered last does not wake it again",
        given(
            _with(SLEPT, wake_request="2025-01-01T11:59:59Z"),
            annotations=request(ago(seconds=1)),
        ),
        Expect(ASLEEP, {}),
    ),
    (
        "after 3 failed wakes a join no longer wakes it",
        given(BLOCKED, annotations=request(ago(seconds=1))),
        Expect(ASLEEP, {"failed_wakes": 3}),
    ),
    (
        "an owner's request still does, and starts the count afresh",
        given(BLOCKED, annotations=request(ago(seconds=1), by="alice")),
        Expect(
            WAKING,
            {"woken_by": "alice", "failed_wakes": 0},
            notices=((False, WAKING_REASON),),
            wake_at=NOW + timedelta(seconds=300),
        ),
    ),
    (
        "a changed spec (a new generation) forgets the failures: joins wake it again",
        given(BLOCKED, annotations=request(ago(seconds=1)), generation=4),
        Expect(
            WAKING,
            {"failed_wakes": 0},
            notices=((False, WAKING_REASON),),
            wake_at=NOW + timedelta(seconds=300),
        ),
    ),
    (
        "waking, still starting: waits for its deadline",
        given(WOKEN, phase=Phase.STARTING),
        Expect(WAKING, {}, wake_at=ago(seconds=42) + timedelta(seconds=300)),
    ),
    (
        "woken and Running: awake, and how long it took is kept for the router",
        given(_with(WOKEN, failed_wakes=2, failed_generation=3), players=None),
        Expect(AWAKE, {"last_start_seconds": 42, "failed_wakes": 0, "empty_since": None}),
    ),
    (
        "woken into an Error: back to sleep with a Warning",
        given(WOKEN, phase=Phase.ERROR, detail="The server keeps crashing"),
        Expect(
            ASLEEP,
            {
                "hibernated_at": NOW,
                "failed_wakes": 1,
                "failed_generation": 3,
                "last_failure": "The server keeps crashing",
            },
            notices=((True, WAKE_FAILED_REASON),),
        ),
    ),
    (
        "woken and not Running within the timeout: back to sleep with a Warning",
        given(_with(WOKEN, woken_at=ago(seconds=300)), phase=Phase.STARTING),
        Expect(ASLEEP, {"failed_wakes": 1}, notices=((True, WAKE_FAILED_REASON),)),
    ),
]


@pytest.mark.parametrize(("seen", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_decide(seen: Given, expected: Expect) -> None:
    got = decide(seen)
    assert got.state is expected.state
    assert (got.record is None) == (seen.config is None)
    for field, value in expected.record.items():
        assert getattr(got.record, field) == value, field
    assert tuple((n.warning, n.reason) for n in got.notices) == expected.notices
    assert got.wake_at == expected.wake_at
    assert got.confirm_empty is expected.confirm_empty


def test_the_third_failed_wake_says_joins_no_longer_wake_it() -> None:
    third = _with(WOKEN, failed_wakes=2, failed_generation=3)
    got = decide(given(third, phase=Phase.ERROR, detail="The server keeps crashing"))
    assert got.asleep and got.blocked and got.record is not None
    assert got.record.failed_wakes == 3
    (notice,) = got.notices
    assert "a join (Steve) failed: The server keeps crashing" in notice.message
    assert "no longer wakes it" in notice.message


def test_a_sleep_and_its_wake_repeated_change_nothing_more() -> None:
    """Each decision, fed its own record, decides the same again (no new events, no drift)."""
    for seen in (
        given(rec(empty_since=ago(minutes=10))),
        given(SLEPT, annotations=request(ago(seconds=1)), phase=Phase.STARTING),
        given(WOKEN, phase=Phase.ERROR),
        given(WOKEN),
    ):
        first = decide(seen)
        again = decide(replace(seen, record=first.record))
        assert again.state is first.state
        assert again.record == first.record
        assert again.notices == ()


def _restarted(record: HibernationStatus) -> HibernationStatus | None:
    """What a new operator process reads back: the record as the status holds it (JSON)."""
    return read_record({"hibernation": record.model_dump(mode="json", by_alias=True)})


@pytest.mark.parametrize(
    ("before", "after"),
    [
        # The clock: started before the restart, it ends at the same moment after it.
        (given(rec(empty_since=ago(minutes=4))), NOW + timedelta(minutes=6)),
        # A wake: its timeout still counts from when it was answered.
        (given(WOKEN, phase=Phase.STARTING), ago(seconds=42) + timedelta(seconds=300)),
    ],
)
def test_an_operator_restart_resumes_where_the_status_says(before: Given, after: datetime) -> None:
    first = decide(before)
    assert first.record is not None
    resumed = decide(replace(before, record=_restarted(first.record)))
    assert resumed.wake_at == after
    assert resumed.record == first.record


def test_an_operator_restart_mid_wake_measures_the_whole_start() -> None:
    read = _restarted(WOKEN)
    assert read is not None and read.state is WAKING
    got = decide(given(read, players=None))
    assert got.record is not None and got.record.last_start_seconds == 42


@pytest.mark.parametrize(
    "raw",
    [None, "asleep", {"state": "Dozing"}, {"hibernatedAt": "yesterday"}, {"failedWakes": -1}],
)
def test_a_record_that_cannot_be_read_is_no_record(raw: object) -> None:
    assert read_record({"hibernation": raw}) is None


def test_the_router_writes_what_the_operator_reads() -> None:
    found = wake_request(wake_annotations(NOW, "St§eve\n"))
    assert found is not None
    assert (found.value, found.at, found.by, found.player) == (
        "2025-01-01T12:00:00Z",
        NOW,
        "join:Steve",
        "Steve",
    )
    assert found.by_join


# -- what the plan makes of a decision -------------------------------------------------------


def _derived(phase: Phase, reason: Reason, *, progressing: bool = False) -> Derived:
    return Derived(phase, reason, "The detail.", progressing=progressing)


def _sleep(state: HibernationState, record: HibernationStatus) -> Sleep:
    return Sleep(state, record)


@pytest.mark.parametrize(
    ("sleep", "derived", "reason", "message"),
    [
        (
            _sleep(ASLEEP, SLEPT),
            _derived(Phase.STOPPED, Reason.STOPPED),
            HIBERNATING_REASON,
            "Hibernating after 10 minutes with nobody online; a player joining wakes it.",
        ),
        (
            _sleep(ASLEEP, SLEPT),
            _derived(Phase.STOPPED, Reason.STOPPING, progressing=True),
            HIBERNATING_REASON,
            "Hibernating after 10 minutes with nobody online: saving the world and stopping; "
            "a join wakes it.",
        ),
        (
            _sleep(ASLEEP, BLOCKED),
            _derived(Phase.STOPPED, Reason.STOPPED),
            HIBERNATING_REASON,
            "Hibernating; after 3 failed wakes in a row a join no longer wakes it, until the spec "
            "changes or its owner stops and starts it (last failure: The server refused to start).",
        ),
        (
            _sleep(WAKING, WOKEN),
            _derived(Phase.STARTING, Reason.POD_STARTING),
            WAKING_REASON,
            "Woken by a join (Steve): The detail.",
        ),
        (
            _sleep(WAKING, _with(WOKEN, woken_by="alice")),
            _derived(Phase.STARTING, Reason.CREATING),
            WAKING_REASON,
            "Woken by alice: The detail.",
        ),
        # Awake: the phase says what it says.
        (_sleep(AWAKE, rec()), _derived(Phase.RUNNING, Reason.RUNNING), "Running", "The detail."),
    ],
)
def test_the_phase_says_it_sleeps_or_was_woken(
    sleep: Sleep, derived: Derived, reason: str, message: str
) -> None:
    described = describe(derived, sleep, CONFIG)
    assert (described.phase, described.reason, described.message) == (
        derived.phase,
        reason,
        message,
    )


def test_an_asleep_server_is_planned_stopped_with_its_own_spec_untouched() -> None:
    owner = server({"hibernation": {"afterEmptyMinutes": 10}})
    asleep = planned(owner, Sleep(ASLEEP, SLEPT))
    assert asleep.spec.stopped and asleep.hibernating == "2025-01-01T11:55:00Z"
    assert not owner.spec.stopped
    assert planned(owner, Sleep(WAKING, WOKEN)) is owner
