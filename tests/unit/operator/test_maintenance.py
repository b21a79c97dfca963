"""Countdowns, restart requests and the restart schedule (pure)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from craftplane.contracts.lifecycle import (
    RESTART_REQUEST_ANNOTATION,
    RESTART_REQUESTER_ANNOTATION,
    RestartSchedule,
)
from craftplane_operator.maintenance import (
    RestartRequest,
    Step,
    countdown,
    next_slot,
    progress_message,
    requested_restart,
    scheduled,
)

pytestmark = pytest.mark.unit


def utc(year: int, month: int, day: int, hour: int, minute: int) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


@pytest.mark.parametrize(
    ("seconds", "offsets", "first"),
    [
        (0, [], None),
        (1, [0], "Server restarting in 1 second"),
        (3, [0, 1, 2], "Server restarting in 3 seconds"),
        (10, [0, 5, 6, 7, 8, 9], "Server restarting in 10 seconds"),
        (45, [0, 15, 35, 40, 41, 42, 43, 44], "Server restarting in 45 seconds"),
        (120, [0, 60, 90, 110, 115, 116, 117, 118, 119], "Server restarting in 2 minutes"),
    ],
)
def test_countdown_steps(seconds: int, offsets: list[int], first: str | None) -> None:
    steps = countdown(seconds, "restarting")
    assert [s.offset for s in steps] == offsets
    if first is not None:
        assert steps[0].message == first
        assert steps[-1] == Step(seconds - 1, "Server restarting in 1 second")


def test_countdown_speaks_of_the_stop() -> None:
    assert countdown(5, "stopping")[0].message == "Server stopping in 5 seconds"
    assert progress_message("stopping", 10, 1) == "Stopping in 10 s (announced to 1 player)"
    assert progress_message("restarting", 3, 2) == "Restarting in 3 s (announced to 2 players)"


@pytest.mark.parametrize(
    ("annotations", "last", "expected"),
    [
        ({}, None, None),
        (
            {RESTART_REQUEST_ANNOTATION: "2026-01-01T00:00:00Z"},
            None,
            RestartRequest("2026-01-01T00:00:00Z", ""),
        ),
        (
            {RESTART_REQUEST_ANNOTATION: "t2", RESTART_REQUESTER_ANNOTATION: "alice"},
            {"requestedAt": "t1"},
            RestartRequest("t2", "alice"),
        ),
        ({RESTART_REQUEST_ANNOTATION: "t1"}, {"requestedAt": "t1", "by": "x"}, None),
        ({RESTART_REQUEST_ANNOTATION: "  "}, None, None),
    ],
    ids=["none", "new", "newer than the last", "already answered", "blank"],
)
def test_requested_restart(
    annotations: dict[str, str], last: dict[str, str] | None, expected: RestartRequest | None
) -> None:
    assert requested_restart(annotations, last) == expected


BERLIN_0230 = RestartSchedule(cron="30 2 * * *", time_zone="Europe/Berlin")


@pytest.mark.parametrize(
    ("schedule", "after", "slot"),
    [
        (RestartSchedule(cron="0 4 * * *"), utc(2026, 1, 1, 3, 0), utc(2026, 1, 1, 4, 0)),
        (RestartSchedule(cron="0 4 * * *"), utc(2026, 1, 1, 4, 0), utc(2026, 1, 2, 4, 0)),
        # Winter: Berlin is UTC+1.
        (BERLIN_0230, utc(2026, 3, 27, 12, 0), utc(2026, 3, 28, 1, 30)),
        # Spring forward: 02:30 does not exist on 29 March; it runs at 03:00 CEST.
        (BERLIN_0230, utc(2026, 3, 28, 12, 0), utc(2026, 3, 29, 1, 0)),
        # Summer: UTC+2.
        (BERLIN_0230, utc(2026, 3, 29, 12, 0), utc(2026, 3, 30, 0, 30)),
        # Fall back: 02:30 happens twice on 25 October; it runs once, the first time.
        (BERLIN_0230, utc(2026, 10, 24, 12, 0), utc(2026, 10, 25, 0, 30)),
        (BERLIN_0230, utc(2026, 10, 25, 0, 30), utc(2026, 10, 26, 1, 30)),
    ],
)
def test_next_slot(schedule: RestartSchedule, after: datetime, slot: datetime) -> None:
    assert next_slot(schedule, after) == slot


DAILY = RestartSchedule(cron="0 4 * * *")
PATIENT = RestartSchedule(cron="0 4 * * *", when_empty_only=True, max_delay_minutes=60)
SLOT = utc(2026, 1, 1, 4, 0)


def test_schedule_without_a_noted_slot_notes_the_next() -> None:
    state = scheduled(DAILY, None, None, utc(2026, 1, 1, 10, 0), 0)
    assert state.next_restart == utc(2026, 1, 2, 4, 0)
    assert state.due is None
    assert state.wake_at == state.next_restart


def test_a_slot_of_another_schedule_is_noted_afresh() -> None:
    state = scheduled(DAILY, utc(2026, 1, 1, 3, 17), None, utc(2026, 1, 1, 3, 30), 0)
    assert (state.next_restart, state.due) == (SLOT, None)


def test_schedule_before_the_slot_waits_for_it() -> None:
    state = scheduled(DAILY, SLOT, None, utc(2026, 1, 1, 3, 59), 3)
    assert (state.next_restart, state.due, state.wake_at) == (SLOT, None, SLOT)


@pytest.mark.parametrize(
    ("schedule", "now", "players", "due", "message"),
    [
        (DAILY, utc(2026, 1, 1, 4, 0), 0, True, None),
        (DAILY, utc(2026, 1, 1, 4, 0), 5, True, None),
        (PATIENT, utc(2026, 1, 1, 4, 0), 0, True, None),
        (
            PATIENT,
            utc(2026, 1, 1, 4, 30),
            2,
            False,
            "Restart due since 04:00, waiting for 2 players to leave",
        ),
        (PATIENT, utc(2026, 1, 1, 5, 0), 2, True, None),
    ],
    ids=["due, empty", "due with players (countdown)", "waiting not needed", "waiting", "forced"],
)
def test_due_waiting_forced(
    schedule: RestartSchedule, now: datetime, players: int, due: bool, message: str | None
) -> None:
    state = scheduled(schedule, SLOT, None, now, players)
    assert state.next_restart == SLOT
    assert state.due == (RestartRequest("2026-01-01T04:00:00Z", "schedule") if due else None)
    assert state.message == message
    if message:
        assert state.wake_at == utc(2026, 1, 1, 5, 0)


def test_an_answered_slot_moves_on() -> None:
    state = scheduled(DAILY, SLOT, "2026-01-01T04:00:00Z", utc(2026, 1, 1, 4, 1), 0)
    assert state.due is None
    assert state.next_restart == utc(2026, 1, 2, 4, 0)


def test_the_waiting_message_is_in_the_schedules_zone() -> None:
    zoned = RestartSchedule(cron="0 4 * * *", time_zone="Europe/Berlin", when_empty_only=True)
    slot = utc(2026, 1, 1, 3, 0)
    state = scheduled(zoned, slot, None, utc(2026, 1, 1, 3, 10), 1)
    assert state.message == "Restart due since 04:00, waiting for 1 player to leave"
