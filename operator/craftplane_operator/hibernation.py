"""Sleeping when empty and waking on join (pure): from spec.hibernation, what
status.hibernation remembers, the wake request annotation, the server's phase (derived as if
awake) and its player count, to whether it sleeps now, the record to write and the events.

Level-based: every decision is a function of the status, the annotations, what is observed and
the time, so an operator restart resumes the clock, a wake or a failure where it was. The
operator never writes spec.stopped for a sleep (see `craftplane.contracts.hibernation`): an
asleep server is *planned* as stopped, the way a restore's hold is, so the day-2 stop path
(save-all, then 0 replicas) puts it to sleep.

- Awake, Running, nobody online: the clock (emptySince) runs; past afterEmptyMinutes it falls
  asleep (the reconciler confirms the count with a fresh ping first).
- Asleep: a wake request written at or after hibernatedAt, not answered before, wakes it;
  after MAX_FAILED_WAKES failed wakes in a row only an owner's request does (a join's not),
  until the spec changes (a new generation forgets the failures) or the owner stops it.
- Waking: Running ends it (lastStartSeconds); Error or wakeTimeoutSeconds without Running is a
  failed wake: back to sleep, Warning WakeFailed.
- The owner's stop (or a restore's hold) wins: awake, the clock and failures forgotten.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Final

from pydantic import ValidationError

from craftplane.contracts.hibernation import (
    ARCHIVED_REASON,
    HIBERNATING_REASON,
    MAX_FAILED_WAKES,
    WAKE_FAILED_REASON,
    WAKING_REASON,
    Hibernation,
    WakeRequest,
    describe_requester,
)
from craftplane.contracts.status import (
    ArchiveState,
    ArchiveStatus,
    HibernationState,
    HibernationStatus,
    Phase,
)
from craftplane.contracts.times import rfc3339
from craftplane_operator.builders.context import ServerContext
from craftplane_operator.disruption import Notice
from craftplane_operator.phase import Derived

MINUTE_SECONDS: Final = 60.0
MAX_FAILURE_TEXT: Final = 1024

State = HibernationState


@dataclass(frozen=True)
class Given:
    config: Hibernation | None  # spec.hibernation
    stopped: bool  # the owner's spec.stopped, or a restore's hold
    generation: int
    request: WakeRequest | None  # the wake-requested-at/-by annotations
    record: HibernationStatus | None  # status.hibernation
    phase: Phase  # derived as if awake (from the owner's spec)
    detail: str  # that derivation's message: why a failed wake failed
    players: int | None  # online, by the last ping; None: not known
    now: datetime
    minute: float = MINUTE_SECONDS  # seconds in a minute of afterEmptyMinutes (tests shorten it)


@dataclass(frozen=True)
class Sleep:
    """The decision: the state the server is planned in and what status.hibernation says."""

    state: State
    record: HibernationStatus | None  # None: no spec.hibernation, nothing to remember
    notices: tuple[Notice, ...] = ()
    wake_at: datetime | None = None  # when to look again (a deadline of the clock or a wake)
    # Falls asleep in this pass: the reconciler pings for a fresh count and plans again first.
    confirm_empty: bool = False
    # status.archive (the backup side's): archived or restoring, it stays stopped whatever
    # the sleep says, so its StatefulSet never makes an empty volume and starts on it.
    archive: ArchiveStatus | None = None

    @property
    def archived(self) -> bool:
        return self.archive is not None and self.archive.state in HELD_STATES

    @property
    def asleep(self) -> bool:
        return self.state is State.ASLEEP

    @property
    def blocked(self) -> bool:
        """Joins no longer wake it: too many failed wakes in a row."""
        return self.record is not None and self.record.failed_wakes >= MAX_FAILED_WAKES


HELD_STATES: Final = frozenset({ArchiveState.ARCHIVED, ArchiveState.RESTORING})
AWAKE: Final = Sleep(State.AWAKE, None)


def read_record(status: Mapping[str, Any]) -> HibernationStatus | None:
    """status.hibernation, or None when absent or not readable (written by hand)."""
    raw = status.get("hibernation")
    if not isinstance(raw, Mapping):
        return None
    try:
        return HibernationStatus.model_validate(raw)
    except ValidationError:
        return None


def read_archive(status: Mapping[str, Any]) -> ArchiveStatus | None:
    """status.archive, or None when absent or not readable."""
    raw = status.get("archive")
    if not isinstance(raw, Mapping):
        return None
    try:
        return ArchiveStatus.model_validate(raw)
    except ValidationError:
        return None


def decide(given: Given) -> Sleep:
    if given.config is None:
        return AWAKE
    record = _current(given)
    if given.stopped:
        # The owner's stop wins; starting it again starts a fresh clock and fresh tries.
        kept = record.model_copy(
            update={
                "state": State.AWAKE,
                "empty_since": None,
                "failed_wakes": 0,
                "failed_generation": None,
                "last_failure": "",
            }
        )
        return Sleep(State.AWAKE, kept)
    if record.state is State.ASLEEP:
        return _asleep(given, record)
    if record.state is State.WAKING:
        return _waking(given, given.config, record)
    return _awake(given, given.config, record)


def _current(given: Given) -> HibernationStatus:
    record = given.record or HibernationStatus()
    if record.failed_generation is not None and record.failed_generation != given.generation:
        # A changed spec (a fix, one hopes) deserves fresh tries.
        return record.model_copy(
            update={"failed_wakes": 0, "failed_generation": None, "last_failure": ""}
        )
    return record


def _deadline(since: datetime, config: Hibernation, minute: float) -> datetime:
    return since + timedelta(seconds=config.after_empty_minutes * minute)


def _awake(given: Given, config: Hibernation, record: HibernationStatus) -> Sleep:
    if given.phase is not Phase.RUNNING or given.players is None:
        # Only a Running server with a known count sleeps; the clock waits as it is.
        return Sleep(State.AWAKE, record)
    if given.players > 0:
        return Sleep(State.AWAKE, record.model_copy(update={"empty_since": None}))
    since = record.empty_since or given.now
    deadline = _deadline(since, config, given.minute)
    if given.now < deadline:
        return Sleep(
            State.AWAKE, record.model_copy(update={"empty_since": since}), wake_at=deadline
        )
    minutes = config.after_empty_minutes
    asleep = record.model_copy(
        update={"state": State.ASLEEP, "hibernated_at": given.now, "empty_since": None}
    )
    notice = Notice(
        False,
        HIBERNATING_REASON,
        f"hibernated: nobody online for {minutes} minute{'s' if minutes != 1 else ''} "
        "(the world is saved first); a player joining wakes it",
    )
    return Sleep(State.ASLEEP, asleep, (notice,), confirm_empty=True)


def answers(request: WakeRequest | None, record: HibernationStatus) -> bool:
    """Whether ``request`` wakes the sleeping server: written at or after it fell asleep (a
    request from before is stale: the join it stood for was answered or gave up), and not the
    one answered last."""
    if request is None or record.hibernated_at is None:
        return False
    return request.value != record.wake_request and request.at >= record.hibernated_at


def _asleep(given: Given, record: HibernationStatus) -> Sleep:
    request = given.request
    if request is None or not answers(request, record):
        return Sleep(State.ASLEEP, record)
    blocked = record.failed_wakes >= MAX_FAILED_WAKES
    if blocked and request.by_join:
        return Sleep(State.ASLEEP, record)  # the WakeOnJoin condition says why
    assert given.config is not None
    woken = record.model_copy(
        update={
            "state": State.WAKING,
            "woken_at": given.now,
            "woken_by": request.by,
            "wake_request": request.value,
            # An owner's request is a fresh start; a join's continues the count.
            "failed_wakes": record.failed_wakes if request.by_join else 0,
        }
    )
    notice = Notice(False, WAKING_REASON, f"woken by {describe_requester(request.by)}")
    timeout = timedelta(seconds=given.config.wake_timeout_seconds)
    return Sleep(State.WAKING, woken, (notice,), wake_at=given.now + timeout)


def _waking(given: Given, config: Hibernation, record: HibernationStatus) -> Sleep:
    woken_at = record.woken_at or given.now
    if given.phase is Phase.RUNNING:
        took = max(0, round((given.now - woken_at).total_seconds()))
        awake = record.model_copy(
            update={
                "state": State.AWAKE,
                "last_start_seconds": took,
                "failed_wakes": 0,
                "failed_generation": None,
                "last_failure": "",
                # Nobody on it yet (the player woken is still joining): the clock starts.
                "empty_since": given.now if given.players == 0 else None,
            }
        )
        clock = _deadline(given.now, config, given.minute) if given.players == 0 else None
        return Sleep(State.AWAKE, awake, wake_at=clock)
    deadline = woken_at + timedelta(seconds=config.wake_timeout_seconds)
    if given.phase is Phase.ERROR:
        failure = given.detail
    elif given.now >= deadline:
        failure = f"not Running {config.wake_timeout_seconds} s after the wake: {given.detail}"
    else:
        return Sleep(State.WAKING, record, wake_at=deadline)
    failed = record.failed_wakes + 1
    asleep = record.model_copy(
        update={
            "state": State.ASLEEP,
            "hibernated_at": given.now,
            "failed_wakes": failed,
            "failed_generation": given.generation,
            "last_failure": failure[:MAX_FAILURE_TEXT],
        }
    )
    message = f"the wake by {describe_requester(record.woken_by)} failed: {failure}; back to sleep"
    if failed >= MAX_FAILED_WAKES:
        message += f"; {_blocked_text(failed)}"
    return Sleep(State.ASLEEP, asleep, (Notice(True, WAKE_FAILED_REASON, message),))


def _blocked_text(failed: int) -> str:
    return (
        f"after {failed} failed wakes in a row a join no longer wakes it, until the spec "
        "changes or its owner stops and starts it"
    )


def blocked_message(record: HibernationStatus) -> str:
    """The WakeOnJoin condition's message while joins no longer wake the server."""
    return f"{_blocked_text(record.failed_wakes)} (last failure: {record.last_failure})"


# -- what the rest of the plan makes of it ---------------------------------------------------


def planned(server: ServerContext, sleep: Sleep) -> ServerContext:
    """The server as its planning sees it: stopped while asleep or archived (its spec.stopped
    untouched)."""
    if sleep.archived:
        return replace(server, spec=server.spec.model_copy(update={"stopped": True}))
    if not sleep.asleep or sleep.record is None or sleep.record.hibernated_at is None:
        return server
    spec = server.spec.model_copy(update={"stopped": True})
    return replace(server, spec=spec, hibernating=rfc3339(sleep.record.hibernated_at))


def _archived_message(archive: ArchiveStatus, record: HibernationStatus) -> str:
    if archive.state is ArchiveState.RESTORING or record.state is State.WAKING:
        who = describe_requester(record.woken_by) if record.state is State.WAKING else "a start"
        return (
            f"Archived; woken by {who}: restoring the world from backup {archive.backup}, "
            "then starting."
        )
    return (
        f"Archived: the world is in backup {archive.backup} (verified) and its volume is "
        "deleted; a player joining or a wake restores it first."
    )


def describe(derived: Derived, sleep: Sleep, config: Hibernation | None) -> Derived:
    """The phase's reason and message say that it sleeps, or that it was woken (over the
    stop path's own "Saving the world before ...": the first phase event of a sleep, which the
    timeline shows, says why)."""
    record = sleep.record
    if record is None or config is None:
        return derived
    if sleep.archived and sleep.archive is not None and derived.phase is Phase.STOPPED:
        message = _archived_message(sleep.archive, record)
        return replace(derived, reason=ARCHIVED_REASON, message=message)
    if sleep.asleep and derived.phase is Phase.STOPPED:
        minutes = config.after_empty_minutes
        after = f"after {minutes} minute{'s' if minutes != 1 else ''} with nobody online"
        if sleep.blocked:
            message = f"Hibernating; {blocked_message(record)}."
        elif derived.progressing:
            message = f"Hibernating {after}: saving the world and stopping; a join wakes it."
        else:
            message = f"Hibernating {after}; a player joining wakes it."
        return replace(derived, reason=HIBERNATING_REASON, message=message)
    if sleep.state is State.WAKING and derived.phase is Phase.STARTING:
        who = describe_requester(record.woken_by)
        return replace(derived, reason=WAKING_REASON, message=f"Woken by {who}: {derived.message}")
    return derived
