"""Retention after a scheduled backup completes (pure).

A prune Job applies spec.backups.retention with `restic forget --keep-*` to this server's
scheduled snapshots (its host and uid tags: manual backups and other servers' are never
touched) and reports the short ids it kept. The scheduled MinecraftBackups of the server
whose snapshot was not kept are then marked pruned (their finalizer forgets nothing more)
and deleted. Whatever the outcome, the backup is marked as having had its retention: the
next scheduled backup applies it again anyway.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from craftplane.contracts.backup import BACKUP_KIND, BackupPhase, BackupTrigger
from craftplane_operator.backups import observe as o
from craftplane_operator.backups.actions import (
    Action,
    Create,
    Delete,
    PatchObject,
    Record,
    Step,
    record_both,
    wait,
)
from craftplane_operator.backups.jobs import retention_job, scheduling
from craftplane_operator.backups.names import (
    PRUNED_ANNOTATION,
    RETENTION_ANNOTATION,
    SUFFIX_RETENTION,
    job_name,
)
from craftplane_operator.backups.queueing import repository_busy, server_of
from craftplane_operator.backups.scripts import retention_args
from craftplane_operator.backups.seen import BackupSeen

WAIT_SECONDS = 10.0


def _annotate(body: Mapping[str, Any], key: str) -> PatchObject:
    meta = o.meta(body)
    patch = {"metadata": {"annotations": {key: "true"}}}
    return PatchObject(BACKUP_KIND, meta["namespace"], meta["name"], patch)


def doomed(
    backups: Sequence[Mapping[str, Any]], server: str, server_uid: str, kept: Sequence[str]
) -> list[Mapping[str, Any]]:
    """The scheduled, completed backups of this server (this uid) whose snapshot was forgotten."""
    found = []
    for backup in backups:
        status = o.status(backup)
        snapshot = str(status.get("snapshotId") or "")
        if (
            backup.get("kind") != BACKUP_KIND
            or server_of(backup) != server
            or status.get("trigger") != BackupTrigger.SCHEDULED.value
            or status.get("phase") != BackupPhase.COMPLETED.value
            or status.get("serverUid") != server_uid
            or not snapshot
            or o.deleting(backup)
            or any(o.same_snapshot(snapshot, k) for k in kept)
        ):
            continue
        found.append(backup)
    return found


def plan_retention(seen: BackupSeen) -> Step | None:
    backup = seen.backup
    status = o.status(backup)
    if (
        status.get("phase") != BackupPhase.COMPLETED.value
        or status.get("trigger") != BackupTrigger.SCHEDULED.value
        or o.annotations_of(backup).get(RETENTION_ANNOTATION) == "true"
    ):
        return None
    done = _annotate(backup, RETENTION_ANNOTATION)
    body, spec = seen.server.body, seen.server.spec
    uid = str(status.get("serverUid") or "")
    # The server is gone or another one took its name: its schedule no longer applies.
    if body is None or spec is None or o.meta(body).get("uid") != uid:
        return Step((done,))
    server = o.meta(body)["name"]
    retention = spec.backups.retention
    if not retention_args(retention):
        return Step((done,))
    view = seen.retention
    if view.job is None:
        return _start(seen, server, uid, done)
    outcome = o.job_outcome(view.job, view.pod, "Retention")
    stuck = o.job_stuck(view.pod, seen.now) if outcome is None else None
    if outcome is None and stuck is None:
        return wait(WAIT_SECONDS)
    cleanup = Delete("Job", o.meta(view.job)["namespace"], o.meta(view.job)["name"])
    if outcome is None or not outcome.succeeded:
        detail = stuck if outcome is None else f"{outcome.message}: {outcome.termination}"
        message = f"retention of server {server}'s scheduled backups failed: {detail}"
        return Step((*record_both(backup, body, True, "RetentionFailed", message), done, cleanup))
    kept = o.kept_ids(outcome.termination)
    if kept is None:
        message = "retention ran, but its list of kept snapshots was unreadable: no backup deleted"
        return Step((Record(backup, True, "RetentionUnknown", message), done, cleanup))
    return _apply(seen, server, uid, kept, done, cleanup)


def _start(seen: BackupSeen, server: str, uid: str, done: PatchObject) -> Step:
    backup, body = seen.backup, seen.server.body
    if seen.repository:
        message = f"no retention: {seen.repository}"
        return Step((*record_both(backup, body, True, "RetentionFailed", message), done))
    refused = seen.refusals.get("retention")
    if refused is not None:
        message = f"no retention: the API server refused its Job: {refused}"
        return Step((*record_both(backup, body, True, "RetentionFailed", message), done))
    name = job_name(o.meta(backup)["name"], SUFFIX_RETENTION)
    if repository_busy(seen.repository_jobs, name, prune=True):
        return wait(WAIT_SECONDS)
    assert seen.server.spec is not None
    job = retention_job(
        backup,
        server,
        uid,
        seen.server.spec.backups.retention,
        scheduling(seen.server.statefulset),
        seen.config.jobs,
    )
    args = " ".join(retention_args(seen.server.spec.backups.retention))
    message = f"applying the retention ({args}) to server {server}'s scheduled snapshots"
    return Step((Create(job, "retention"), Record(backup, False, "RetentionStarted", message)))


def _apply(
    seen: BackupSeen, server: str, uid: str, kept: Sequence[str], done: Action, cleanup: Action
) -> Step:
    gone = doomed(seen.queue, server, uid, kept)
    marks = tuple(_annotate(b, PRUNED_ANNOTATION) for b in gone)
    deletions = tuple(Delete(BACKUP_KIND, o.meta(b)["namespace"], o.meta(b)["name"]) for b in gone)
    names = ", ".join(o.meta(b)["name"] for b in gone) or "none"
    message = (
        f"retention kept {len(kept)} scheduled snapshots of server {server}; "
        f"deleted the backups whose snapshots it forgot: {names}"
    )
    record = Record(seen.backup, False, "RetentionApplied", message)
    return Step((*marks, done, cleanup, *deletions, record))
