"""The day-2 part of a plan (pure): announced stops and restarts, the restart schedule and
the live allowlist, joined to what `planning` decides about the children and status."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from craftplane.contracts.status import Phase, Players
from craftplane_operator.allowlist_sync import (
    REASON_DRIFT_KEPT,
    REASON_DRIFT_REVERTED,
    REASON_SYNCED,
    Applied,
    Desired,
    SyncOutcome,
    read_applied,
)
from craftplane_operator.builders.context import ServerContext
from craftplane_operator.conditions import Upkept, allowlist_condition
from craftplane_operator.disruption import CountdownView, Inputs, Notice, Upkeep, plan_upkeep
from craftplane_operator.phase import Derived

Obj = dict[str, Any]

DRIFT_REASONS = (REASON_DRIFT_REVERTED, REASON_DRIFT_KEPT)


@dataclass(frozen=True)
class AllowlistJob:
    """Sync the running server's allowlist and ops with the spec."""

    desired: Desired
    applied: Applied


@dataclass(frozen=True)
class Day2:
    children: list[Obj]  # the desired children, the StatefulSet held back or bumped
    upkeep: Upkeep
    derived: Derived
    upkept: Upkept
    notices: tuple[Notice, ...]
    allowlist: AllowlistJob | None


def plan_day2(
    server: ServerContext,
    status: Mapping[str, Any],
    live: Mapping[str, Obj | None],
    desired: Sequence[Obj],
    derived: Derived,
    *,
    players: Players | None,
    countdown: CountdownView | None,
    outcome: SyncOutcome | None,
    now: datetime,
) -> Day2:
    # The pod's own readiness, not the derived phase: with spec.stopped set the phase already
    # reads Stopped while the server still runs and must be told and saved first.
    running = derived.phase is Phase.RUNNING or _ready(live.get("Pod"))
    online = players.online if players is not None and running else 0
    sts = next((c for c in desired if c["kind"] == "StatefulSet"), None)
    children = [c for c in desired if c["kind"] != "StatefulSet"]
    upkeep = Upkeep(sts)
    if sts is not None:
        given = Inputs(
            server, status, live.get("StatefulSet"), sts, running, online, countdown, now
        )
        upkeep = plan_upkeep(given)
        if upkeep.statefulset is not None:
            children.append(upkeep.statefulset)
    if upkeep.message is not None:
        derived = replace(derived, message=upkeep.message, progressing=True)
    previous = status.get("conditions") or []
    spec = server.spec
    applied = read_applied(server.annotations)
    # Nothing to keep in sync while the spec names nobody and the operator applied nothing:
    # the allowlist is off (the image starts it off), so no RCON traffic for such servers.
    rcon = spec.rcon.enabled and bool(
        spec.allowlist or spec.ops or applied.ops or applied.allowlist or applied.enabled
    )
    condition = (
        allowlist_condition(outcome, previous, server.generation, now, running=running)
        if rcon
        else None
    )
    upkept = Upkept(
        allowlist=condition,
        next_restart=upkeep.next_restart,
        last_restart=upkeep.last_restart or status.get("lastRestart"),
    )
    notices = upkeep.notices + _drift_notices(previous, outcome if running else None)
    job = None
    if rcon and running:
        wanted = Desired(tuple(spec.allowlist), tuple(spec.ops), spec.allowlist_mode)
        job = AllowlistJob(wanted, applied)
    return Day2(children, upkeep, derived, upkept, notices, job)


def _ready(pod: Mapping[str, Any] | None) -> bool:
    if pod is None or (pod.get("metadata") or {}).get("deletionTimestamp"):
        return False
    conditions = (pod.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def _drift_notices(
    previous: Sequence[Mapping[str, Any]], outcome: SyncOutcome | None
) -> tuple[Notice, ...]:
    """A Warning once per new drift or failure of the allowlist sync (not on every pass)."""
    if outcome is None or outcome.reason == REASON_SYNCED:
        return ()
    before = next((c for c in previous if c.get("type") == "AllowlistSynced"), {})
    if (before.get("reason"), before.get("message")) == (outcome.reason, outcome.message):
        return ()
    reason = "AllowlistDrift" if outcome.reason in DRIFT_REASONS else "AllowlistNotSynced"
    return (Notice(True, reason, outcome.message),)
