"""Raw objects for the backup planners' tests: backups, restores, servers, Jobs and pods."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

from craftplane.contracts.backup import BACKUP_FINALIZER
from craftplane_operator.backups.jobs import JobConfig
from craftplane_operator.backups.seen import Config, JobView, ServerView
from tests.unit.operator.factories import NAME, NAMESPACE, UID, cr_body, merge, statefulset

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
BACKUP = f"{NAME}-manual-1"
BACKUP_UID = "b0000000-0000-4000-8000-000000000001"
RESTORE = f"{NAME}-restore-1"
RESTORE_UID = "r0000000-0000-4000-8000-000000000001"
CONFIG = Config(jobs=JobConfig(image="registry.test/restic:0.14"))


def stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def ago(**delta: float) -> str:
    return stamp(NOW - timedelta(**delta))


def backup_body(
    status: dict[str, Any] | None = None,
    *,
    labels: dict[str, str] | None = None,
    annotations: dict[str, str] | None = None,
    name: str = BACKUP,
    finalizers: list[str] | None = None,
    deleting: bool = False,
    spec: dict[str, Any] | None = None,
    created: str | None = None,
) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "name": name,
        "namespace": NAMESPACE,
        "uid": BACKUP_UID if name == BACKUP else f"uid-{name}",
        "generation": 1,
        "resourceVersion": "10",
        "creationTimestamp": created or ago(minutes=1),
        "labels": {"craftplane.io/server": NAME, **(labels or {})},
        "finalizers": [BACKUP_FINALIZER] if finalizers is None else finalizers,
    }
    if annotations:
        meta["annotations"] = dict(annotations)
    if deleting:
        meta["deletionTimestamp"] = stamp(NOW)
    body: dict[str, Any] = {
        "apiVersion": "craftplane.io/v1alpha1",
        "kind": "MinecraftBackup",
        "metadata": meta,
        "spec": {"server": NAME, **(spec or {})},
    }
    if status is not None:
        body["status"] = copy.deepcopy(status)
    return body


def running_status(**extra: Any) -> dict[str, Any]:
    return {
        "phase": "Running",
        "trigger": "manual",
        "serverUid": UID,
        "startedAt": ago(minutes=1),
        **extra,
    }


def completed_status(snapshot: str = "8ed2a234", **extra: Any) -> dict[str, Any]:
    return {
        "phase": "Completed",
        "trigger": "manual",
        "serverUid": UID,
        "snapshotId": snapshot,
        "startedAt": ago(minutes=5),
        "completedAt": ago(minutes=4),
        **extra,
    }


def restore_body(
    status: dict[str, Any] | None = None,
    *,
    backup: str = BACKUP,
    name: str = RESTORE,
    created: str | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "apiVersion": "craftplane.io/v1alpha1",
        "kind": "MinecraftRestore",
        "metadata": {
            "name": name,
            "namespace": NAMESPACE,
            "uid": RESTORE_UID if name == RESTORE else f"uid-{name}",
            "generation": 1,
            "resourceVersion": "20",
            "creationTimestamp": created or ago(minutes=1),
        },
        "spec": {"backup": backup, "server": NAME},
    }
    if status is not None:
        body["status"] = copy.deepcopy(status)
    return body


def server_body(
    spec: dict[str, Any] | None = None,
    status: dict[str, Any] | None = None,
    annotations: dict[str, str] | None = None,
) -> dict[str, Any]:
    body = cr_body(spec, resourceVersion="30", annotations=annotations or {})
    if status is not None:
        body["status"] = copy.deepcopy(status)
    return body


def server_pod(
    *, ready: bool = True, started: str | None = None, node: str = "node-1"
) -> dict[str, Any]:
    """The server's pod; its process started `started` (default: an hour ago)."""
    return {
        "kind": "Pod",
        "metadata": {"name": f"{NAME}-0", "namespace": NAMESPACE, "uid": "pod-uid"},
        "spec": {"nodeName": node},
        "status": {
            "phase": "Running",
            "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
            "containerStatuses": [
                {
                    "name": "minecraft",
                    "ready": ready,
                    "state": {"running": {"startedAt": started or ago(hours=1)}},
                }
            ],
        },
    }


def world(annotations: dict[str, str] | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": f"data-{NAME}-0", "namespace": NAMESPACE}
    if annotations:
        meta["annotations"] = annotations
    return {"kind": "PersistentVolumeClaim", "metadata": meta, "status": {"phase": "Bound"}}


def placed_statefulset(replicas: int = 1) -> dict[str, Any]:
    sts = statefulset(replicas=replicas)
    sts["kind"] = "StatefulSet"
    sts["spec"]["template"] = {
        "spec": {
            "nodeSelector": {"pool": "games"},
            "tolerations": [{"key": "games", "operator": "Exists", "effect": "NoSchedule"}],
        }
    }
    sts["spec"]["volumeClaimTemplates"] = [
        {
            "metadata": {"name": "data"},
            "spec": {
                "accessModes": ["ReadWriteOnce"],
                "resources": {"requests": {"storage": "10Gi"}},
                "storageClassName": "local",
            },
        }
    ]
    return sts


def running_server(**spec: Any) -> ServerView:
    return ServerView(server_body(spec or None), server_pod(), world(), placed_statefulset())


def stopped_server(**spec: Any) -> ServerView:
    return ServerView(
        server_body(merge({"stopped": True}, spec)), None, world(), placed_statefulset(0)
    )


def job(
    name: str,
    condition: str | None = None,
    reason: str = "",
    owner_uid: str = BACKUP_UID,
    **extra: Any,
) -> dict[str, Any]:
    status: dict[str, Any] = {}
    if condition is not None:
        status["conditions"] = [{"type": condition, "status": "True", "reason": reason}]
    body: dict[str, Any] = {
        "kind": "Job",
        "metadata": {
            "name": name,
            "namespace": NAMESPACE,
            "labels": {"app.kubernetes.io/component": "backup-copy"},
            "ownerReferences": [{"uid": owner_uid}],
        },
        "spec": {"activeDeadlineSeconds": 21600},
        "status": status,
    }
    return merge(body, extra)


def job_pod(
    job_name: str,
    *,
    terminated: dict[str, Any] | None = None,
    waiting: dict[str, Any] | None = None,
    phase: str = "Running",
) -> dict[str, Any]:
    state: dict[str, Any] = {"running": {"startedAt": ago(seconds=30)}}
    if terminated is not None:
        state = {"terminated": terminated}
    if waiting is not None:
        state = {"waiting": waiting}
    return {
        "kind": "Pod",
        "metadata": {
            "name": f"{job_name}-abcde",
            "namespace": NAMESPACE,
            "labels": {"job-name": job_name},
        },
        "status": {"phase": phase, "containerStatuses": [{"name": "restic", "state": state}]},
    }


SUMMARY = (
    '{"message_type":"summary","files_new":3,"data_added":1783,"total_files_processed":3,'
    '"total_bytes_processed":17000,"total_duration":2.5,"snapshot_id":"65ecbb4b"}'
)


def finished(
    name: str, *, ok: bool = True, termination: str = SUMMARY, code: int = 0, **pod: Any
) -> JobView:
    condition = "Complete" if ok else "Failed"
    terminated = {
        "exitCode": code,
        "message": termination,
        "reason": "Completed" if ok else "Error",
        **pod,
    }
    body = job(name, condition, reason="" if ok else "BackoffLimitExceeded")
    body["status"]["startTime"] = ago(seconds=40)
    if ok:
        body["status"]["completionTime"] = ago(seconds=10)
    return JobView(
        body, job_pod(name, terminated=terminated, phase="Succeeded" if ok else "Failed")
    )
