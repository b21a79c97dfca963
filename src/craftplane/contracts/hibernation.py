"""Sleep when empty, wake on join: `spec.hibernation`, and the names the operator writes and
the router reads, in one place.

The operator stops a Running server nobody has been on for `afterEmptyMinutes` and reports it
as phase Stopped with reason HIBERNATING (the Ready condition's reason). It never writes
`spec.stopped` for it: that field is the owner's intent, and a GitOps tool would revert an
operator's write to it and the server would flap (stopped by the operator, started by the
tool, ...). Hibernation is the operator's own decision, recorded in `status.hibernation`; the
StatefulSet goes to 0 replicas while `spec.stopped` stays false. `spec.stopped: true` is still
the owner's stop (reason Stopped) and wins over hibernation.

The router, on a login to a hibernating server, asks for a wake by merge-patching the two
WAKE_* annotations (and nothing else: its RBAC and the ValidatingAdmissionPolicy of
`router_admission` say so). The operator answers a request written at or after the server
went to sleep: phase Starting with reason WAKING, until it is Running.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from pydantic import Field

from craftplane.contracts.base import ApiModel
from craftplane.contracts.times import parse_time, rfc3339

# The Ready condition's reason (what status readers and the router look at).
HIBERNATING_REASON: Final = "Hibernating"  # phase Stopped: asleep, a join wakes it
WAKING_REASON: Final = "Waking"  # phase Starting: woken, on its way to Running
# Phase Stopped of an archived server: its world is in a verified backup and its volume is
# gone (spec.hibernation.archiveAfterDays); a join or a wake restores it before it starts.
ARCHIVED_REASON: Final = "Archived"
# Reasons of a Stopped server the platform put to sleep and can wake again.
SLEEP_REASONS: Final = frozenset({HIBERNATING_REASON, ARCHIVED_REASON})
# Kubernetes Events of the archive (the backup side writes them on the server).
ARCHIVING_REASON: Final = "Archiving"  # the archive backup was asked for
ARCHIVE_FAILED_REASON: Final = "ArchiveFailed"  # Warning: the volume is kept
ARCHIVE_ABANDONED_REASON: Final = "ArchiveAbandoned"  # woken before the archive was done
UNARCHIVING_REASON: Final = "Unarchiving"  # restoring the world from the archive
UNARCHIVED_REASON: Final = "Unarchived"  # the world is back on a volume
UNARCHIVE_FAILED_REASON: Final = "UnarchiveFailed"  # Warning: still archived
MAX_ARCHIVE_DAYS: Final = 3650
# The Kubernetes Event of a wake that did not reach Running (Warning).
WAKE_FAILED_REASON: Final = "WakeFailed"

# The WakeOnJoin condition (only on servers with spec.hibernation): True while a join wakes
# the server, False (reason WAKE_FAILED_REASON) once MAX_FAILED_WAKES wakes in a row failed.
WAKE_ENABLED_REASON: Final = "Enabled"
MAX_FAILED_WAKES: Final = 3

# `kubectl annotate mcs/<name> craftplane.io/wake-requested-at=<RFC 3339>` asks for one wake;
# the router writes it (with the requester `join:<player>`) on a login to a hibernating server.
WAKE_REQUEST_ANNOTATION: Final = "craftplane.io/wake-requested-at"
WAKE_REQUESTER_ANNOTATION: Final = "craftplane.io/wake-requested-by"
# The requester of a wake asked by a player's login. Any other requester is an owner's (kubectl
# annotate): it is answered even after failed wakes, and starts the count of failures afresh.
JOIN_PREFIX: Final = "join:"
# Java Edition names: 3-16 letters, digits and underscores (offline servers accept 1-16).
PLAYER_PATTERN: Final = r"^[A-Za-z0-9_]{1,16}$"
JOIN_REQUESTER_PATTERN: Final = rf"^{JOIN_PREFIX}[A-Za-z0-9_]{{1,16}}$"
MAX_PLAYER_NAME: Final = 16
UNKNOWN_PLAYER: Final = "unknown"
# RFC 3339 in UTC with whole seconds, as Kubernetes writes times.
TIME_PATTERN: Final = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$"
MAX_REQUESTER: Final = 253

DEFAULT_WAKE_TIMEOUT_SECONDS: Final = 300
MIN_EMPTY_MINUTES: Final = 1
MAX_EMPTY_MINUTES: Final = 10080  # a week

_NOT_A_NAME: Final = re.compile(r"[^A-Za-z0-9_]")


class Hibernation(ApiModel):
    """Stop the server when nobody is online, and start it again when a player joins."""

    after_empty_minutes: int = Field(
        ge=MIN_EMPTY_MINUTES,
        le=MAX_EMPTY_MINUTES,
        description=(
            "Stop the Running server after this many minutes with no player online (by the "
            "operator's Server List Ping), saving its world first. It is then Stopped with "
            "reason Hibernating: spec.stopped stays false (it is the owner's; the operator "
            "never writes it, so GitOps tools do not fight it), and a player joining through "
            "the router wakes it. spec.stopped: true is the owner's stop and wins."
        ),
    )
    wake_timeout_seconds: int = Field(
        default=DEFAULT_WAKE_TIMEOUT_SECONDS,
        ge=30,
        le=3600,
        description=(
            "A woken server that is not Running within this long (or fails, e.g. crash-loops) "
            f"goes back to hibernation with a Warning event {WAKE_FAILED_REASON}. After "
            f"{MAX_FAILED_WAKES} failed wakes in a row a join no longer wakes it (condition "
            "WakeOnJoin False) until the spec changes or the owner stops and starts it. A wake "
            "of an archived server counts the restore of its world in this time."
        ),
    )
    archive_after_days: int | None = Field(
        default=None,
        ge=1,
        le=MAX_ARCHIVE_DAYS,
        description=(
            "Archive a server that has hibernated this many days: its world is backed up "
            "(needs the tenant's backup repository), the backup verified by booting it, and "
            "only then its volume deleted (phase Stopped, reason Archived, no storage used). A "
            "join or a wake restores the world from that backup before the server starts. A "
            "server its owner stopped (spec.stopped) is never archived: that stop means keep "
            "it as it is."
        ),
    )


def player_name(raw: str) -> str:
    """A player's name as it may go into the requester annotation: only the characters a
    Minecraft name has, at most 16 (a client can send anything in its Login Start)."""
    return _NOT_A_NAME.sub("", raw)[:MAX_PLAYER_NAME] or UNKNOWN_PLAYER


def join_requester(player: str) -> str:
    return f"{JOIN_PREFIX}{player_name(player)}"


def wake_annotations(at: datetime, player: str) -> dict[str, str]:
    """What the router merges into the server's annotations to ask for a wake."""
    return {WAKE_REQUEST_ANNOTATION: rfc3339(at), WAKE_REQUESTER_ANNOTATION: join_requester(player)}


@dataclass(frozen=True)
class WakeRequest:
    value: str  # the annotation as written (a request is answered once per value)
    at: datetime
    by: str

    @property
    def by_join(self) -> bool:
        return self.by.startswith(JOIN_PREFIX)

    @property
    def player(self) -> str:
        return self.by.removeprefix(JOIN_PREFIX) if self.by_join else ""


def wake_request(annotations: Mapping[str, str]) -> WakeRequest | None:
    """The wake asked for by the annotations, or None (absent, or not a time)."""
    value = str(annotations.get(WAKE_REQUEST_ANNOTATION) or "").strip()
    at = parse_time(value)
    if at is None:
        return None
    by = str(annotations.get(WAKE_REQUESTER_ANNOTATION) or "")[:MAX_REQUESTER]
    return WakeRequest(value, at, by)


def describe_requester(by: str) -> str:
    """How a wake's requester reads in a message: "a join (Steve)", or the owner's name."""
    if by.startswith(JOIN_PREFIX):
        return f"a join ({by.removeprefix(JOIN_PREFIX)})"
    return by or "a request"
