"""Hibernation inside a plan: the decision (`hibernation.decide`) from what one reconcile
gathered, and its mark on the plan's status, events and next wake-up."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from craftplane.contracts.hibernation import wake_request
from craftplane.contracts.status import ArchiveState
from craftplane_operator.builders.context import ServerContext
from craftplane_operator.conditions import wake_condition
from craftplane_operator.gathered import Gathered
from craftplane_operator.hibernation import (
    Given,
    Sleep,
    decide,
    describe,
    read_archive,
    read_record,
)
from craftplane_operator.phase import Observed, derive
from craftplane_operator.upkeep import Day2


def sleep_of(
    seen: Gathered, status: Mapping[str, Any], server: ServerContext, awake: Observed
) -> Sleep:
    """The decision for ``server`` (as the owner's spec, or a restore's hold, has it), from
    ``awake``: what is observed, derived as if it were not asleep."""
    derived = derive(awake, seen.now)
    players = seen.players.online if seen.players is not None else None
    archive = read_archive(status)
    stopped = server.spec.stopped
    if archive is not None and archive.state is ArchiveState.RESTORING and server.held:
        # The archive's own restore holds it: that is this wake's work, not an owner's stop
        # (which would forget the wake; a failed restore would then start another at once).
        stopped = bool(((seen.body or {}).get("spec") or {}).get("stopped"))
    given = Given(
        config=server.spec.hibernation,
        stopped=stopped,
        generation=server.generation,
        request=wake_request(server.annotations),
        record=read_record(status),
        phase=derived.phase,
        detail=derived.message,
        players=players,
        now=seen.now,
        minute=seen.hibernation_minute,
    )
    return replace(decide(given), archive=archive)


def _earliest(*moments: datetime | None) -> datetime | None:
    known = [moment for moment in moments if moment is not None]
    return min(known) if known else None


def mark(
    day2: Day2,
    sleep: Sleep,
    server: ServerContext,
    previous: Sequence[Mapping[str, Any]],
    now: datetime,
) -> Day2:
    """The day-2 part with the sleep's record, its WakeOnJoin condition, its events, its
    deadline among the wake-ups (the clock's end, a wake's timeout), and the phase saying it."""
    upkept = replace(
        day2.upkept,
        hibernation=sleep.record,
        wake_on_join=wake_condition(sleep, previous, server.generation, now),
    )
    upkeep = replace(day2.upkeep, wake_at=_earliest(day2.upkeep.wake_at, sleep.wake_at))
    return replace(
        day2,
        derived=describe(day2.derived, sleep, server.spec.hibernation),
        upkept=upkept,
        upkeep=upkeep,
        notices=day2.notices + sleep.notices,
    )
