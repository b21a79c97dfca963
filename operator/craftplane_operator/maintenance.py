"""Announced stops and restarts, restart requests and the restart schedule (pure).

Everything here is a function of the spec, what the status recorded and the time, so an
operator restart neither loses nor doubles a restart: the durable memory is
`status.lastRestart` (which request was answered) and `status.nextRestart` (which slot of
the schedule is awaited).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final
from zoneinfo import ZoneInfo

from cronsim import CronSim

from craftplane.contracts.lifecycle import (
    RESTART_REQUEST_ANNOTATION,
    RESTART_REQUESTER_ANNOTATION,
    RestartSchedule,
)
from craftplane.contracts.times import rfc3339

# When the countdown speaks, in seconds before the stop, as they fall inside it.
MARKS: Final = (600, 300, 120, 60, 30, 10, 5, 4, 3, 2, 1)
SCHEDULE_BY: Final = "schedule"


@dataclass(frozen=True)
class Step:
    """Say `message` `offset` seconds after the countdown started."""

    offset: int
    message: str


def _span(seconds: int) -> str:
    if seconds >= 60 and seconds % 60 == 0:
        minutes = seconds // 60
        return f"{minutes} minute{'s' if minutes != 1 else ''}"
    return f"{seconds} second{'s' if seconds != 1 else ''}"


def countdown(seconds: int, verb: str) -> tuple[Step, ...]:
    """The announcements of a countdown of `seconds` before the server is `verb` ("restarting",
    "stopping"): one at the start, then at each mark inside it."""
    if seconds <= 0:
        return ()
    marks = [seconds, *(m for m in MARKS if m < seconds)]
    return tuple(Step(seconds - m, f"Server {verb} in {_span(m)}") for m in marks)


def progress_message(verb: str, remaining: int, players: int) -> str:
    """status.message while a countdown runs."""
    who = f"{players} player{'s' if players != 1 else ''}"
    return f"{verb.capitalize()} in {remaining} s (announced to {who})"


@dataclass(frozen=True)
class RestartRequest:
    requested_at: str  # the annotation's value, or the schedule's slot (RFC 3339)
    by: str


def requested_restart(
    annotations: Mapping[str, str], last_restart: Mapping[str, Any] | None
) -> RestartRequest | None:
    """A restart asked for by annotation and not answered yet (each value counts once)."""
    value = (annotations.get(RESTART_REQUEST_ANNOTATION) or "").strip()
    if not value or value == (last_restart or {}).get("requestedAt"):
        return None
    return RestartRequest(value, annotations.get(RESTART_REQUESTER_ANNOTATION, "")[:253])


def slot_after(cron: str, time_zone: str, after: datetime) -> datetime:
    """The first slot of `cron` strictly after `after`, in UTC. cronsim reads the fields in
    the time zone: a slot inside a spring-forward gap runs at the first minute after it, one
    inside an autumn overlap runs once, at its first occurrence."""
    slots = CronSim(cron, after.astimezone(ZoneInfo(time_zone)))
    return next(slots).astimezone(UTC)


def is_slot_of(cron: str, time_zone: str, moment: datetime) -> bool:
    """Whether `moment` is a slot of `cron` (the schedule may have changed since it was noted)."""
    return slot_after(cron, time_zone, moment - timedelta(minutes=1)) == moment.astimezone(UTC)


def next_slot(schedule: RestartSchedule, after: datetime) -> datetime:
    """The first restart slot strictly after `after`, in UTC (see `slot_after`)."""
    return slot_after(schedule.cron, schedule.time_zone, after)


def is_slot(schedule: RestartSchedule, moment: datetime) -> bool:
    return is_slot_of(schedule.cron, schedule.time_zone, moment)


@dataclass(frozen=True)
class ScheduleState:
    next_restart: datetime  # what status.nextRestart shows
    due: RestartRequest | None = None  # restart now (with a countdown if players are online)
    message: str | None = None  # why a due restart waits
    wake_at: datetime | None = None  # when to look again (the slot or the waiting deadline)


def scheduled(
    schedule: RestartSchedule,
    noted: datetime | None,
    answered: str | None,
    now: datetime,
    players: int,
) -> ScheduleState:
    """The schedule's state: `noted` is status.nextRestart, `answered` the requestedAt of
    status.lastRestart. A slot is due once `now` reaches it, until a restart answers it."""
    if noted is None or not is_slot(schedule, noted):
        upcoming = next_slot(schedule, now)
        return ScheduleState(upcoming, wake_at=upcoming)
    if noted > now:
        return ScheduleState(noted, wake_at=noted)
    slot = rfc3339(noted)
    if answered == slot:
        upcoming = next_slot(schedule, max(now, noted))
        return ScheduleState(upcoming, wake_at=upcoming)
    deadline = noted + timedelta(minutes=schedule.max_delay_minutes)
    if schedule.when_empty_only and players > 0 and now < deadline:
        local = noted.astimezone(ZoneInfo(schedule.time_zone)).strftime("%H:%M")
        who = f"{players} player{'s' if players != 1 else ''}"
        message = f"Restart due since {local}, waiting for {who} to leave"
        # A player leaving changes the count, which reconciles at once; the deadline wakes.
        return ScheduleState(noted, message=message, wake_at=deadline)
    return ScheduleState(noted, due=RestartRequest(slot, SCHEDULE_BY))
