"""A MinecraftBackup being deleted (pure): its saves resumed, its Jobs stopped, its snapshot
forgotten (`restic forget <id> --prune`), then its finalizer removed. Nothing to forget (no
snapshot, or retention forgot it already) or no repository to forget it in: it goes at once,
the latter with a Warning."""

from __future__ import annotations

from typing import Final

from craftplane.contracts.backup import BACKUP_FINALIZER
from craftplane.contracts.status import ArchiveState
from craftplane_operator.backups import observe as o
from craftplane_operator.backups.actions import (
    Action,
    Create,
    Delete,
    Record,
    Step,
    finalizers_patch,
    record_both,
    status_step,
    wait,
)
from craftplane_operator.backups.jobs import forget_job
from craftplane_operator.backups.names import PRUNED_ANNOTATION, SUFFIX_FORGET, job_name
from craftplane_operator.backups.queueing import repository_busy
from craftplane_operator.backups.saves import log_tail, resume_saves
from craftplane_operator.backups.seen import BackupSeen

WAIT_SECONDS: Final = 10.0


def _release(seen: BackupSeen, *before: Action) -> Step:
    backup = seen.backup
    finalizers = [f for f in o.meta(backup).get("finalizers") or [] if f != BACKUP_FINALIZER]
    return Step((*before, finalizers_patch(backup, finalizers)))


def _archive_kept(seen: BackupSeen, name: str, server: str) -> Step | None:
    """The archive of a server whose volume is gone is the only copy of its world: deleting
    it waits until the world is back on a volume (or the server is gone)."""
    archive = o.status(seen.server.body).get("archive")
    if not isinstance(archive, dict) or archive.get("backup") != name:
        return None
    if archive.get("state") not in (ArchiveState.ARCHIVED.value, ArchiveState.RESTORING.value):
        return None
    message = (
        f"kept: the only copy of server {server}'s world (archived, its volume deleted); "
        "it is deleted once a wake or start has restored the world, or the server is deleted"
    )
    desired = {"message": message}
    return Step(status_step(seen.backup, desired).actions, requeue_after=WAIT_SECONDS * 6)


def plan_deletion(seen: BackupSeen) -> Step:
    """Forget the snapshot (unless retention did), then let the backup go."""
    backup = seen.backup
    if BACKUP_FINALIZER not in (o.meta(backup).get("finalizers") or []):
        return Step()
    resumed = resume_saves(seen)
    if resumed is not None:
        return resumed
    meta = o.meta(backup)
    namespace, name = meta["namespace"], meta["name"]
    server = str((backup.get("spec") or {}).get("server") or "")
    kept = _archive_kept(seen, name, server)
    if kept is not None:
        return kept
    for view in (seen.copy, seen.retention):
        if view.job is not None and not o.deleting(view.job):
            return Step((Delete("Job", namespace, o.meta(view.job)["name"]),))
    snapshot = str(o.status(backup).get("snapshotId") or "")
    forget = seen.forget
    cleanup = (Delete("Job", namespace, o.meta(forget.job)["name"]),) if forget.job else ()
    if not snapshot or o.annotations_of(backup).get(PRUNED_ANNOTATION) == "true":
        return _release(seen, *cleanup)
    body = seen.server.body
    if seen.repository:
        message = f"snapshot {snapshot} stays in the repository: {seen.repository}"
        return _release(seen, *record_both(backup, body, True, "SnapshotKept", message))
    if forget.job is None:
        refused = seen.refusals.get("forget")
        if refused is not None:
            message = f"snapshot {snapshot} stays in the repository: the forget Job was refused: {refused}"
            return _release(seen, *record_both(backup, body, True, "SnapshotKept", message))
        if repository_busy(seen.repository_jobs, job_name(name, SUFFIX_FORGET), prune=True):
            return wait(WAIT_SECONDS)
        job = forget_job(backup, server, snapshot, seen.config.jobs)
        message = f"forgetting snapshot {snapshot} (restic forget --prune)"
        return Step((Create(job, "forget"), Record(backup, False, "ForgettingSnapshot", message)))
    outcome = o.job_outcome(forget.job, forget.pod, "Forget")
    stuck = o.job_stuck(forget.pod, seen.now) if outcome is None else None
    if outcome is None and stuck is None:
        return wait(WAIT_SECONDS)
    if outcome is not None and outcome.succeeded:
        message = f"snapshot {snapshot} forgotten and pruned from the repository"
        return _release(
            seen, *cleanup, *record_both(backup, body, False, "SnapshotForgotten", message)
        )
    if outcome is None:
        detail = str(stuck)
    else:
        detail = f"{outcome.message}: {outcome.termination or log_tail(forget)}"
    message = f"snapshot {snapshot} stays in the repository: forgetting it failed: {detail}"
    return _release(seen, *cleanup, *record_both(backup, body, True, "SnapshotKept", message))
