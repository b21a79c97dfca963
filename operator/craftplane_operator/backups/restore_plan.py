"""A MinecraftRestore's next step (pure): Pending -> Stopping -> Restoring -> Starting ->
Completed | Failed.

Stopping holds the server stopped with RESTORE_HOLD_ANNOTATION: its own planning then treats
it as spec.stopped, so the day-2 stop path runs (countdown to the players online, save,
SIGTERM). Once its pod is gone a Job restores the snapshot beside the world and swaps it in;
the hold is lifted and the restore completes when the server is Running again. A failed
restore lifts the hold too: the old world, untouched, starts again.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from datetime import timedelta
from typing import Any, Final

from craftplane.contracts import names
from craftplane.contracts.backup import (
    RESTORE_HOLD_ANNOTATION,
    RESTORE_KIND,
    BackupPhase,
    RestorePhase,
)
from craftplane.contracts.quantity import to_bytes
from craftplane.contracts.status import Phase
from craftplane_operator.backups import observe as o
from craftplane_operator.backups.actions import (
    Action,
    Create,
    Delete,
    PatchObject,
    PatchStatus,
    Step,
    changed,
    record_both,
    status_step,
    wait,
)
from craftplane_operator.backups.jobs import restore_job, scheduling
from craftplane_operator.backups.names import RESTORED_FROM_ANNOTATION, SUFFIX_RESTORE, job_name
from craftplane_operator.backups.queueing import ahead_of, repository_busy
from craftplane_operator.backups.seen import RestoreSeen
from craftplane_operator.builders.naming import pvc_name

WAIT_SECONDS: Final = 5.0
# Beyond the countdown and the image's own stop deadline, how long stopping may take.
STOP_MARGIN: Final = timedelta(minutes=5)


def plan_restore(seen: RestoreSeen) -> Step:
    phase = o.status(seen.restore).get("phase")
    if o.deleting(seen.restore):
        return Step(_unhold(seen))
    if phase in (None, "", RestorePhase.PENDING.value):
        return _pending(seen)
    if phase == RestorePhase.STOPPING.value:
        return _stopping(seen)
    if phase == RestorePhase.RESTORING.value:
        return _restoring(seen)
    if phase == RestorePhase.STARTING.value:
        return _starting(seen)
    cleanup = (Delete("Job", *_job_ids(seen)),) if seen.job.job is not None else ()
    return Step((*_unhold(seen), *cleanup))


def _ids(seen: RestoreSeen) -> tuple[str, str, str, str]:
    meta, spec = o.meta(seen.restore), seen.restore.get("spec") or {}
    return (
        meta["namespace"],
        meta["name"],
        str(spec.get("server") or ""),
        str(spec.get("backup") or ""),
    )


def _job_ids(seen: RestoreSeen) -> tuple[str, str]:
    meta = o.meta(seen.job.job)
    return meta["namespace"], meta["name"]


def _hold(seen: RestoreSeen) -> tuple[Action, ...]:
    namespace, name, server, _ = _ids(seen)
    if (
        seen.server.body is None
        or o.annotations_of(seen.server.body).get(RESTORE_HOLD_ANNOTATION) == name
    ):
        return ()
    patch = {"metadata": {"annotations": {RESTORE_HOLD_ANNOTATION: name}}}
    return (PatchObject(names.KIND, namespace, server, patch),)


def _unhold(seen: RestoreSeen) -> tuple[Action, ...]:
    namespace, name, server, _ = _ids(seen)
    if (
        seen.server.body is None
        or o.annotations_of(seen.server.body).get(RESTORE_HOLD_ANNOTATION) != name
    ):
        return ()
    patch = {"metadata": {"annotations": {RESTORE_HOLD_ANNOTATION: None}}}
    return (PatchObject(names.KIND, namespace, server, patch),)


def _patch(seen: RestoreSeen, desired: dict[str, Any]) -> tuple[Action, ...]:
    namespace, name, _, _ = _ids(seen)
    patch = changed(o.status(seen.restore), desired)
    return () if patch is None else (PatchStatus(RESTORE_KIND, namespace, name, patch),)


def _failed(seen: RestoreSeen, reason: str, message: str) -> Step:
    desired = {
        "phase": RestorePhase.FAILED.value,
        "reason": reason,
        "message": o.shorten(message, 4000),
        "completedAt": o.rfc3339(seen.now),
    }
    events = record_both(
        seen.restore, seen.server.body, True, "RestoreFailed", f"{reason}: {message}"
    )
    return status_step(seen.restore, desired, *_unhold(seen), *events)


def _pending(seen: RestoreSeen) -> Step:
    namespace, name, server, backup_name = _ids(seen)
    backup = seen.backup
    backup_status = o.status(backup)
    snapshot = str(backup_status.get("snapshotId") or "")
    if backup is None or backup_status.get("phase") != BackupPhase.COMPLETED.value or not snapshot:
        state = "missing" if backup is None else (backup_status.get("phase") or "Pending")
        message = f"backup {backup_name} is {state} in namespace {namespace}: only a Completed backup can be restored"
        return _failed(seen, "BackupNotReady", message)
    if seen.server.body is None:
        return _failed(
            seen, "ServerNotFound", f"no MinecraftServer {server} in namespace {namespace}"
        )
    if seen.repository:
        return _failed(seen, "RepositoryNotConfigured", seen.repository)
    ahead = ahead_of(seen.restore, seen.queue)
    busy = repository_busy(seen.repository_jobs, job_name(name, SUFFIX_RESTORE), prune=False)
    if ahead is not None or busy is not None:
        waiting = (
            f"waiting for {ahead} of server {server} to finish"
            if ahead
            else f"waiting for the repository: {busy}"
        )
        pending = {"phase": RestorePhase.PENDING.value, "reason": "Waiting", "message": waiting}
        return wait(WAIT_SECONDS * 2, *_patch(seen, pending))
    message = (
        f"replacing the world of server {server} with backup {backup_name} (snapshot {snapshot}): "
        "holding the server stopped (players online are warned first)"
    )
    desired: dict[str, Any] = {
        "phase": RestorePhase.STOPPING.value,
        "reason": "Stopping",
        "message": message,
        "snapshotId": snapshot,
        "startedAt": o.rfc3339(seen.now),
        "observedGeneration": o.meta(seen.restore).get("generation"),
    }
    events = record_both(seen.restore, seen.server.body, False, "RestoreStarted", message)
    return status_step(seen.restore, desired, *_hold(seen), *events)


def _stop_deadline(seen: RestoreSeen) -> timedelta:
    spec = seen.server.spec
    if spec is None:
        return STOP_MARGIN
    lifecycle = spec.lifecycle
    return (
        timedelta(seconds=lifecycle.announce_seconds + lifecycle.stop_grace_period_seconds)
        + STOP_MARGIN
    )


def _stopping(seen: RestoreSeen) -> Step:
    _, _, server, _ = _ids(seen)
    if seen.server.body is None:
        return _failed(seen, "ServerNotFound", f"server {server} was deleted")
    hold = _hold(seen)
    if seen.server.pod is not None:
        started = o.parse_time(o.status(seen.restore).get("startedAt")) or seen.now
        deadline = _stop_deadline(seen)
        if seen.now - started > deadline:
            return _failed(seen, "StopTimedOut", f"server {server} did not stop within {deadline}")
        return wait(WAIT_SECONDS, *hold)
    message = f"server {server} is stopped: restoring the snapshot into its world volume"
    desired = {"phase": RestorePhase.RESTORING.value, "reason": "Restoring", "message": message}
    return status_step(
        seen.restore,
        desired,
        *hold,
        *record_both(seen.restore, seen.server.body, False, "Restoring", message),
    )


def restore_pvc(seen: RestoreSeen, statefulset: Mapping[str, Any]) -> dict[str, Any]:
    """The world volume of a server that never had one, as its StatefulSet would create it
    (which then adopts it by name), marked with the backup it was made for."""
    namespace, _, server, backup = _ids(seen)
    templates = (statefulset.get("spec") or {}).get("volumeClaimTemplates") or [{}]
    spec = copy.deepcopy(templates[0].get("spec") or {})
    wanted = seen.server.spec.storage.size if seen.server.spec is not None else None
    requests = spec.setdefault("resources", {}).setdefault("requests", {})
    current = requests.get("storage")
    if wanted and (not current or to_bytes(str(wanted)) > to_bytes(str(current))):
        # The template keeps the size the server was created with; a volume grown since (an
        # archived world deleted its own) must come back at least that big.
        requests["storage"] = str(wanted)
    meta: dict[str, Any] = {
        "name": pvc_name(server),
        "namespace": namespace,
        "labels": names.standard_labels(server),
        "annotations": {RESTORED_FROM_ANNOTATION: backup},
    }
    server_spec = seen.server.spec
    if server_spec is not None and not server_spec.storage.retain_on_delete:
        # The StatefulSet takes a claim only for a replica it runs: one that never started
        # (a failed first restore) would otherwise outlive its server.
        body = seen.server.body or {}
        meta["ownerReferences"] = [
            {
                "apiVersion": names.API_VERSION,
                "kind": names.KIND,
                "name": server,
                "uid": o.meta(body).get("uid"),
                "controller": False,
                "blockOwnerDeletion": False,
            }
        ]
    return {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": meta, "spec": spec}


def _restoring(seen: RestoreSeen) -> Step:
    _, _, server, _ = _ids(seen)
    view = seen.job
    if seen.server.body is None:
        return _failed(seen, "ServerNotFound", f"server {server} was deleted")
    if view.job is None:
        return _create_job(seen)
    outcome = o.job_outcome(view.job, view.pod, "Restore")
    if outcome is None:
        stuck = o.job_stuck(view.pod, seen.now)
        if stuck is not None:
            return _failed(
                seen, "RestoreNotStarted", f"the restore Job's pod cannot start: {stuck}"
            )
        progress = o.progress_of(view.log)
        return wait(
            seen.config.progress_seconds,
            *(_patch(seen, {"progress": progress}) if progress else ()),
        )
    if not outcome.succeeded:
        detail = outcome.termination or "\n".join(view.log or ()) or "(no log)"
        message = f"{outcome.message}: {detail} (the server's world was left as it was)"
        return _failed(seen, outcome.reason, message)
    return _restored(seen)


def _create_job(seen: RestoreSeen) -> Step:
    _, _, server, _ = _ids(seen)
    if seen.server.pod is not None:  # something started it again: wait for it to stop
        return wait(WAIT_SECONDS, *_hold(seen))
    if seen.repository:
        return _failed(seen, "RepositoryNotConfigured", seen.repository)
    for tag, what in (("pvc", "world volume"), ("restore", "restore Job")):
        refused = seen.refusals.get(tag)
        if refused is not None:
            return _failed(
                seen, "RestoreNotStarted", f"the API server refused the {what}: {refused}"
            )
    statefulset = seen.server.statefulset
    if statefulset is None:
        # A new server's StatefulSet, which the reconciler creates while the restore holds it
        # stopped, carries what its spec alone does not: the storage class and node the
        # cluster's placement and the tenant's policy chose. The volume and the Job need both.
        waiting = f"waiting for the StatefulSet of server {server} (its volume's class and node)"
        return wait(WAIT_SECONDS, *_patch(seen, {"message": waiting}))
    volume: tuple[Action, ...] = ()
    if seen.server.pvc is None:
        volume = (Create(restore_pvc(seen, statefulset), "pvc"),)
    snapshot = str(o.status(seen.restore).get("snapshotId") or "")
    job = restore_job(
        seen.restore, server, snapshot, scheduling(seen.server.statefulset), seen.config.jobs
    )
    return Step((*volume, Create(job, "restore")))


def _restored(seen: RestoreSeen) -> Step:
    namespace, _, server, backup = _ids(seen)
    spec = seen.server.spec
    marks: tuple[Action, ...] = ()
    if spec is not None and spec.restore_from is not None and spec.restore_from.backup == backup:
        restored = o.status(seen.server.body).get("restoredFrom")
        if restored != backup:
            marks = (PatchStatus(names.KIND, namespace, server, {"restoredFrom": backup}),)
    message = f"world of server {server} restored and verified: starting it"
    total = (o.status(seen.restore).get("progress") or {}).get("bytesTotal")
    desired: dict[str, Any] = {
        "phase": RestorePhase.STARTING.value,
        "reason": "Starting",
        "message": message,
    }
    if isinstance(total, int):
        desired["progress"] = {"bytesDone": total, "bytesTotal": total}
    events = record_both(seen.restore, seen.server.body, False, "WorldRestored", message)
    return status_step(seen.restore, desired, *marks, *_unhold(seen), *events)


def _job_time(seen: RestoreSeen, field: str) -> Any:
    job = seen.job.job
    return o.parse_time(o.status(job).get(field)) if job is not None else None


def _starting(seen: RestoreSeen) -> Step:
    _, _, server, _ = _ids(seen)
    unhold = _unhold(seen)
    body = seen.server.body
    if body is None:
        return _failed(
            seen, "ServerNotFound", f"server {server} was deleted after its world was restored"
        )
    spec = seen.server.spec
    stopped = spec is not None and spec.stopped
    since = _job_time(seen, "completionTime")
    # Running on the restored world: a process started after the restore Job began (the server
    # was held stopped from before then). Not after its completionTime: the Job controller may
    # stamp that after the server, unheld as soon as the pod finished, has already started.
    began = _job_time(seen, "startTime")
    pod = seen.server.pod
    restarted = o.pod_ready(pod) and (began is None or o.restarted_since(pod, began))
    if stopped or (o.status(body).get("phase") == Phase.RUNNING.value and restarted):
        how = "stays stopped (spec.stopped)" if stopped else "is Running again"
        message = f"world restored; server {server} {how}"
        desired = {
            "phase": RestorePhase.COMPLETED.value,
            "reason": "Completed",
            "message": message,
            "completedAt": o.rfc3339(seen.now),
        }
        return status_step(
            seen.restore,
            desired,
            *unhold,
            *record_both(seen.restore, body, False, "RestoreCompleted", message),
        )
    deadline = seen.config.restore_start_deadline
    if since is not None and seen.now - since > deadline:
        detail = o.status(body).get("message") or o.status(body).get("phase") or "no status"
        return _failed(
            seen,
            "StartTimedOut",
            f"world restored, but server {server} did not reach Running within {deadline}: {detail}",
        )
    return wait(WAIT_SECONDS * 2, *unhold)
