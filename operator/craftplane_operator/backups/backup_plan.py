"""A MinecraftBackup's next step (pure): Pending -> Running -> Completed | Failed.

A running server is copied consistently: status.savesPaused is recorded first, then
`save-off` and `save-all flush` over RCON, then the copy Job starts. Whatever happens next
(the copy fails, the backup is deleted, the operator restarts), a terminal or deleted backup
whose status still says savesPaused gets `save-on`, unless the server's process is no
longer the one told `save-off` (a new process saves as usual). A stopped server's volume is
copied directly.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Final

from craftplane.contracts.backup import (
    BACKUP_FINALIZER,
    BACKUP_KIND,
    LABEL_BACKUP_TRIGGER,
    BackupPhase,
    BackupTrigger,
)
from craftplane_operator.backups import observe as o
from craftplane_operator.backups.actions import (
    Action,
    Create,
    Delete,
    PatchStatus,
    Rcon,
    Record,
    Step,
    changed,
    finalizers_patch,
    record_both,
    status_step,
    wait,
)
from craftplane_operator.backups.deletion import plan_deletion
from craftplane_operator.backups.jobs import copy_job, scheduling
from craftplane_operator.backups.names import (
    SUFFIX_COPY,
    job_name,
)
from craftplane_operator.backups.queueing import ahead_of, repository_busy
from craftplane_operator.backups.retention import plan_retention
from craftplane_operator.backups.saves import RETRY_SECONDS, log_tail, resume_saves
from craftplane_operator.backups.seen import BackupSeen
from craftplane_operator.backups.verify import plan_verification

WAIT_SECONDS: Final = 10.0
# How long save-off may keep failing on a running server before the backup gives up.
PAUSE_DEADLINE: Final = timedelta(minutes=2)
# How long a backup waits for a starting (not ready) server to be Running or stopped.
SETTLE_DEADLINE: Final = timedelta(hours=1)
PENDING_PHASES: Final = (None, "", BackupPhase.PENDING.value)


def plan_backup(seen: BackupSeen) -> Step:
    backup = seen.backup
    if o.deleting(backup):
        return plan_deletion(seen)
    finalizers = list(o.meta(backup).get("finalizers") or [])
    if BACKUP_FINALIZER not in finalizers:
        return Step((finalizers_patch(backup, [*finalizers, BACKUP_FINALIZER]),))
    phase = o.status(backup).get("phase")
    if phase in PENDING_PHASES:
        return _pending(seen)
    if phase == BackupPhase.RUNNING.value:
        return _running(seen)
    return _settle(seen)


# -- helpers ------------------------------------------------------------------------------------


def _ids(seen: BackupSeen) -> tuple[str, str, str]:
    meta, spec = o.meta(seen.backup), seen.backup.get("spec") or {}
    return meta["namespace"], meta["name"], str(spec.get("server") or "")


def _patch(seen: BackupSeen, desired: dict[str, Any]) -> tuple[Action, ...]:
    namespace, name, _ = _ids(seen)
    patch = changed(o.status(seen.backup), desired)
    return () if patch is None else (PatchStatus(BACKUP_KIND, namespace, name, patch),)


def trigger_of(backup: Any) -> BackupTrigger:
    value = (o.meta(backup).get("labels") or {}).get(LABEL_BACKUP_TRIGGER)
    try:
        return BackupTrigger(str(value))
    except ValueError:
        return BackupTrigger.MANUAL


def _waiting(seen: BackupSeen, message: str) -> Step:
    desired = {"phase": BackupPhase.PENDING.value, "reason": "Waiting", "message": message}
    return wait(WAIT_SECONDS, *_patch(seen, desired))


def _failed(seen: BackupSeen, reason: str, message: str) -> Step:
    desired = {
        "phase": BackupPhase.FAILED.value,
        "reason": reason,
        "message": o.shorten(message, 4000),
        "trigger": o.status(seen.backup).get("trigger") or trigger_of(seen.backup).value,
        "completedAt": o.rfc3339(seen.now),
    }
    events = record_both(
        seen.backup, seen.server.body, True, "BackupFailed", f"{reason}: {message}"
    )
    return status_step(seen.backup, desired, *events)


# -- Pending ------------------------------------------------------------------------------------


def _pending(seen: BackupSeen) -> Step:
    namespace, name, server = _ids(seen)
    view = seen.server
    if view.body is None:
        return _failed(
            seen, "ServerNotFound", f"no MinecraftServer {server} in namespace {namespace}"
        )
    if seen.repository:
        return _failed(seen, "RepositoryNotConfigured", seen.repository)
    ahead = ahead_of(seen.backup, seen.queue)
    if ahead is not None:
        return _waiting(seen, f"waiting for {ahead} of server {server} to finish")
    busy = repository_busy(seen.repository_jobs, job_name(name, SUFFIX_COPY), prune=False)
    if busy is not None:
        return _waiting(seen, f"waiting for the repository: {busy}")
    if view.pvc is None:
        message = f"server {server} has no world volume yet: it never started"
        return _failed(seen, "NoWorld", message)
    ready = o.pod_ready(view.pod)
    # A pod still terminating is a server still saving on its way out: not stopped yet.
    if view.pod is not None and not ready:
        created = o.parse_time(o.meta(seen.backup).get("creationTimestamp"))
        if created is not None and seen.now - created > SETTLE_DEADLINE:
            message = f"server {server} was neither Running nor stopped for {SETTLE_DEADLINE}"
            return _failed(seen, "ServerNotReady", message)
        return _waiting(seen, f"waiting for server {server} to be Running or stopped")
    spec = view.spec
    if ready and (spec is None or not spec.rcon.enabled):
        message = (
            f"server {server} runs with RCON disabled (spec.rcon.enabled): its saves cannot be "
            "paused for a consistent copy; enable RCON or stop the server to back it up"
        )
        return _failed(seen, "SavesNotPaused", message)
    return _start(seen, ready)


def _start(seen: BackupSeen, ready: bool) -> Step:
    _, _, server = _ids(seen)
    body, spec = seen.server.body, seen.server.spec
    assert body is not None
    doing = "pausing saves on the running server" if ready else "copying the stopped server's world"
    desired = {
        "phase": BackupPhase.RUNNING.value,
        "reason": "PausingSaves" if ready else "Copying",
        "message": doing,
        "trigger": trigger_of(seen.backup).value,
        "serverUid": o.meta(body).get("uid"),
        "gameVersion": spec.version if spec else None,
        "serverType": spec.type.value if spec else None,
        "startedAt": o.rfc3339(seen.now),
        "savesPaused": True if ready else None,
        "observedGeneration": o.meta(seen.backup).get("generation"),
    }
    message = f"backing up server {server}: {doing}"
    return status_step(
        seen.backup, desired, *record_both(seen.backup, body, False, "BackupStarted", message)
    )


# -- Running ------------------------------------------------------------------------------------


def _running(seen: BackupSeen) -> Step:
    view = seen.copy
    if view.job is None:
        return _start_copy(seen)
    outcome = o.job_outcome(view.job, view.pod, "Copy")
    if outcome is None:
        stuck = o.job_stuck(view.pod, seen.now)
        if stuck is not None:
            return _failed(seen, "CopyNotStarted", f"the copy Job's pod cannot start: {stuck}")
        changed_world = _world_changed(seen)
        if changed_world is not None:
            stop = Delete("Job", o.meta(view.job)["namespace"], o.meta(view.job)["name"])
            failed = _failed(seen, "WorldChanged", changed_world)
            return Step((*failed.actions, stop))
        progress = o.progress_of(view.log)
        actions = _patch(seen, {"progress": progress}) if progress else ()
        return wait(seen.config.progress_seconds, *actions)
    if outcome.succeeded:
        summary = o.summary_of(outcome.termination)
        if summary is None:
            detail = outcome.termination or log_tail(view)
            return _failed(seen, "CopyFailed", f"the copy ended without restic's summary: {detail}")
        return _completed(seen, summary)
    detail = outcome.termination or log_tail(view) or "(no log)"
    return _failed(seen, outcome.reason, f"{outcome.message}: {detail}")


def _world_changed(seen: BackupSeen) -> str | None:
    """Why the world being copied may have changed under the copy: another server process
    than the one told save-off, or a server started during the copy of its stopped world."""
    status, pod = o.status(seen.backup), seen.server.pod
    if status.get("savesPaused") is True:
        if o.restarted_since(pod, o.parse_time(status.get("startedAt"))):
            return (
                "the server stopped or restarted during the copy, saving its world meanwhile: "
                "the copy would not be consistent (back up again)"
            )
        return None
    if pod is not None:
        return "the server started during the copy of its stopped world (back up again)"
    return None


def _start_copy(seen: BackupSeen) -> Step:
    namespace, _name, server = _ids(seen)
    status, view = o.status(seen.backup), seen.server
    if seen.repository:
        return _failed(seen, "RepositoryNotConfigured", seen.repository)
    refused = seen.refusals.get("copy")
    if refused is not None:
        return _failed(seen, "CopyNotStarted", f"the API server refused the copy Job: {refused}")
    pod, paused = view.pod, status.get("savesPaused") is True
    node = (pod or {}).get("spec", {}).get("nodeName") if o.pod_alive(pod) else None
    job = copy_job(
        seen.backup,
        server,
        str(status.get("serverUid") or o.meta(view.body).get("uid") or ""),
        trigger_of(seen.backup),
        scheduling(view.statefulset, node),
        seen.config.jobs,
    )
    if o.pod_ready(pod):
        if not paused:  # the server started since: its saves are paused first
            return status_step(seen.backup, {"savesPaused": True, "reason": "PausingSaves"})
        failure = seen.failures.get("save-off")
        if failure is not None:
            if seen.now - failure.first > PAUSE_DEADLINE:
                message = f"save-off kept failing over RCON for {PAUSE_DEADLINE}: {failure.message}"
                return _failed(seen, "SavesNotPaused", message)
            since = (seen.now - failure.last).total_seconds()
            if since < RETRY_SECONDS:
                message = f"cannot pause saves over RCON ({failure.message}); retrying"
                return wait(RETRY_SECONDS - since, *_patch(seen, {"message": message}))
        pause = Rcon(namespace, server, ("save-off", "save-all flush"), "save-off")
        paused_copy = {"reason": "Copying", "message": "copying the world (saves paused)"}
        return Step((pause, Create(job, "copy"), *_patch(seen, paused_copy)))
    if pod is not None:  # starting, or still saving on its way out
        started = o.parse_time(status.get("startedAt")) or seen.now
        if seen.now - started > SETTLE_DEADLINE:
            message = f"server {server} was neither Running nor stopped for {SETTLE_DEADLINE}"
            return _failed(seen, "ServerNotReady", message)
        waiting = {"message": f"waiting for server {server} to be Running or stopped"}
        return wait(WAIT_SECONDS, *_patch(seen, waiting))
    actions: tuple[Action, ...] = ()
    if paused:
        message = "the server stopped before the copy began: its stopped world is copied"
        actions = (Record(seen.backup, False, "ServerStopped", message),)
    copying: dict[str, Any] = {
        "reason": "Copying",
        "message": "copying the stopped server's world",
    }
    if paused:
        copying["savesPaused"] = None
    return Step((Create(job, "copy"), *_patch(seen, copying), *actions))


def _human(size: int) -> str:
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"


def _completed(seen: BackupSeen, summary: o.Summary) -> Step:
    message = (
        f"snapshot {summary.snapshot_id}: {summary.files} files, {_human(summary.size_bytes)} "
        f"({_human(summary.added_bytes)} new in the repository) in {summary.duration_seconds:.0f} s"
    )
    desired = {
        "phase": BackupPhase.COMPLETED.value,
        "reason": "Completed",
        "message": message,
        "snapshotId": summary.snapshot_id,
        "sizeBytes": summary.size_bytes,
        "addedBytes": summary.added_bytes,
        "files": summary.files,
        "durationSeconds": summary.duration_seconds,
        "completedAt": o.rfc3339(seen.now),
        "progress": {
            "bytesDone": summary.size_bytes,
            "bytesTotal": summary.size_bytes,
            "filesDone": summary.files,
            "filesTotal": summary.files,
        },
    }
    events = record_both(seen.backup, seen.server.body, False, "BackupCompleted", message)
    return status_step(seen.backup, desired, *events)


# -- Completed, Failed --------------------------------------------------------------------------


def _settle(seen: BackupSeen) -> Step:
    resumed = resume_saves(seen)
    if resumed is not None:
        return resumed
    namespace, _name, _ = _ids(seen)
    if seen.copy.job is not None:
        return Step((Delete("Job", namespace, o.meta(seen.copy.job)["name"]),))
    return plan_retention(seen) or plan_verification(seen) or Step()
