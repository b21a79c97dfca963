"""A server's backup side (pure): its backup schedule, its spec.restoreFrom, its restore hold.

The schedule works like the restart schedule: status.nextBackup is the slot awaited and
status.lastScheduledBackup the last slot acted on (backed up or skipped), so an operator
restart neither loses nor doubles a slot. At a slot a MinecraftBackup
`<server>-<yyyymmdd-hhmm>` is created (not owned by the server: backups outlive it). With
pauseWhenEmpty a slot is skipped when no player was online since the last scheduled backup
(status.playersSinceBackup, set whenever the operator counts a player).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final
from zoneinfo import ZoneInfo

from pydantic import ValidationError

from craftplane.contracts import names
from craftplane.contracts.backup import (
    RESTORE_HOLD_ANNOTATION,
    RESTORE_KIND,
    BackupPolicy,
    BackupTrigger,
    RestorePhase,
)
from craftplane.contracts.spec import MinecraftServerSpec
from craftplane_operator.backups import observe as o
from craftplane_operator.backups.actions import (
    Action,
    Create,
    Delete,
    PatchObject,
    PatchStatus,
    Record,
    Step,
    changed,
)
from craftplane_operator.backups.archive_plan import plan_archive
from craftplane_operator.backups.bodies import backup_of, restore_of
from craftplane_operator.backups.hold import awaiting_restore_from
from craftplane_operator.backups.names import (
    SLOT_ANNOTATION,
    restore_from_name,
    scheduled_backup_name,
)
from craftplane_operator.backups.seen import ServerSeen
from craftplane_operator.maintenance import is_slot_of, slot_after

TERMINAL: Final = (RestorePhase.COMPLETED.value, RestorePhase.FAILED.value)


@dataclass(frozen=True)
class ServerStep:
    step: Step
    wake_at: datetime | None = None  # the next slot


def _spec(server: Mapping[str, Any]) -> MinecraftServerSpec | None:
    try:
        return MinecraftServerSpec.model_validate(server.get("spec") or {})
    except ValidationError:
        return None


def plan_server(seen: ServerSeen) -> ServerStep:
    """One step for the server; the first need wins."""
    server = seen.server
    if o.deleting(server):
        return ServerStep(Step())
    stale = _stale_hold(seen)
    if stale is not None:
        return ServerStep(stale)
    spec = _spec(server)
    if spec is None:
        return ServerStep(Step())
    restore = _restore_from(seen)
    if restore is not None:
        return ServerStep(restore)
    archive = plan_archive(seen)
    if archive is not None and not archive[0].settled:
        return ServerStep(*archive)
    scheduled = _schedule(seen, spec.backups)
    if archive is None:
        return scheduled
    # The archive waits (on its backup, or its day): the schedule goes on meanwhile.
    waiting, due = archive
    moments = [moment for moment in (scheduled.wake_at, due) if moment is not None]
    requeue = waiting.requeue_after or scheduled.step.requeue_after
    step = Step(scheduled.step.actions, requeue_after=requeue)
    return ServerStep(step, min(moments) if moments else None)


def _stale_hold(seen: ServerSeen) -> Step | None:
    """A hold whose restore is gone or finished (deleted mid-way, or its last write lost)."""
    server = seen.server
    holder = o.annotations_of(server).get(RESTORE_HOLD_ANNOTATION)
    if not holder:
        return None
    if seen.holder is not None and o.status(seen.holder).get("phase") not in TERMINAL:
        return None
    meta = o.meta(server)
    patch = {"metadata": {"annotations": {RESTORE_HOLD_ANNOTATION: None}}}
    message = f"restore {holder} is gone or finished: the server is no longer held stopped"
    return Step(
        (
            PatchObject(names.KIND, meta["namespace"], meta["name"], patch),
            Record(server, False, "RestoreHoldReleased", message),
        )
    )


def _restore_from(seen: ServerSeen) -> Step | None:
    """The MinecraftRestore that gives a server that never ran its world (spec.restoreFrom)."""
    server = seen.server
    backup = awaiting_restore_from(server, seen.pvc, seen.statefulset)
    existing = seen.restore_from
    meta = o.meta(server)
    name = restore_from_name(meta["name"])
    if backup is None:
        return None
    if existing is not None:
        if (existing.get("spec") or {}).get("backup") == backup:
            return None
        if o.status(existing).get("phase") in TERMINAL and not o.deleting(existing):
            return Step((Delete(RESTORE_KIND, meta["namespace"], name),))  # restoreFrom changed
        return None
    body = restore_of(meta, name, backup, owned=True)
    message = f"the new server starts from backup {backup} (spec.restoreFrom): restore {name}"
    create = Create(body, "restore-from", about=server)
    return Step((create, Record(server, False, "RestoreFromBackup", message)))


def _status_patch(seen: ServerSeen, desired: dict[str, Any]) -> tuple[Action, ...]:
    meta = o.meta(seen.server)
    patch = changed(o.status(seen.server), desired)
    return (
        () if patch is None else (PatchStatus(names.KIND, meta["namespace"], meta["name"], patch),)
    )


def _schedule(seen: ServerSeen, policy: BackupPolicy) -> ServerStep:
    server, now = seen.server, seen.now
    status = o.status(server)
    cron, zone = policy.schedule, policy.time_zone
    if cron is None:
        return ServerStep(Step(_status_patch(seen, {"nextBackup": None})))
    desired: dict[str, Any] = {}
    if seen.players > 0 and status.get("playersSinceBackup") is not True:
        desired["playersSinceBackup"] = True
    noted = o.parse_time(status.get("nextBackup"))
    if noted is None or not is_slot_of(cron, zone, noted):
        upcoming = slot_after(cron, zone, now)
        desired["nextBackup"] = o.rfc3339(upcoming)
        return ServerStep(Step(_status_patch(seen, desired)), upcoming)
    if noted > now:
        return ServerStep(Step(_status_patch(seen, desired)), noted)
    slot = o.rfc3339(noted)
    upcoming = slot_after(cron, zone, max(now, noted))
    desired.update(nextBackup=o.rfc3339(upcoming), lastScheduledBackup=slot)
    if status.get("lastScheduledBackup") == slot:
        return ServerStep(Step(_status_patch(seen, desired)), upcoming)
    return ServerStep(_slot(seen, policy, noted, desired), upcoming)


def _slot(seen: ServerSeen, policy: BackupPolicy, slot: datetime, desired: dict[str, Any]) -> Step:
    """Back up (or skip) the slot that is due; the status records it was acted on."""
    server = seen.server
    meta, status = o.meta(server), o.status(server)
    local = slot.astimezone(ZoneInfo(policy.time_zone)).strftime("%Y-%m-%d %H:%M %Z")
    players = seen.players > 0 or status.get("playersSinceBackup") is True
    if policy.pause_when_empty and not players:
        message = f"scheduled backup of {local} skipped: no player was online since the last one (pauseWhenEmpty)"
        return Step(
            (*_status_patch(seen, desired), Record(server, False, "BackupSkipped", message))
        )
    if seen.pvc is None:
        message = f"scheduled backup of {local} skipped: the server has no world yet"
        return Step(
            (*_status_patch(seen, desired), Record(server, False, "BackupSkipped", message))
        )
    name = scheduled_backup_name(meta["name"], slot)
    annotations = {SLOT_ANNOTATION: o.rfc3339(slot)}
    body = backup_of(meta, name, BackupTrigger.SCHEDULED, annotations=annotations)
    desired["playersSinceBackup"] = seen.players > 0
    message = f"scheduled backup {name} for the slot of {local}"
    # The backup first: were the status written first and the creation then lost, the slot
    # would count as done without a backup.
    create = Create(body, "scheduled", about=server)
    record = Record(server, False, "BackupScheduled", message)
    return Step((create, *_status_patch(seen, desired), record))
