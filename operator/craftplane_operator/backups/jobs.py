"""The backup Jobs (pure builders): copy, restore, retention and forget.

Each runs one script of `scripts` in the configured image, as a Pod Security "restricted"
pod: uid/gid 1000 like the server (whose files it reads and writes), no privilege, a
read-only root with an emptyDir at /tmp for restic's cache. The repository's credentials come
from the tenant's Secret by envFrom; the operator never reads them. A Job that mounts the
world lands where the server's pod template says (and beside the running pod, so a
ReadWriteOnce volume can be shared), and mounts it read-only unless it restores.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from craftplane.contracts import names
from craftplane.contracts.backup import (
    BACKUP_KIND,
    COMPONENT_COPY,
    COMPONENT_PRUNE,
    COMPONENT_RESTORE,
    LABEL_BACKUP_SERVER,
    LABEL_COMPONENT,
    REPOSITORY_SECRET,
    BackupTrigger,
    Retention,
)
from craftplane_operator.backups import scripts
from craftplane_operator.backups.names import (
    COPY_CONTAINER,
    OWNER_ANNOTATION,
    SUFFIX_COPY,
    SUFFIX_FORGET,
    SUFFIX_RESTORE,
    SUFFIX_RETENTION,
    job_name,
    owner_value,
)
from craftplane_operator.builders.naming import DATA_MOUNT_PATH, DATA_VOLUME, pvc_name
from craftplane_operator.builders.statefulset import pod_security_context
from craftplane_operator.profiles import POD_SCHEDULING_FIELDS

Obj = dict[str, Any]

APP_NAME: Final = "craftplane-backup"
TMP_VOLUME: Final = "tmp"
TMP_SIZE_LIMIT: Final = "2Gi"
# restic prints a status line this often (per second): one every five seconds is plenty for
# a progress bar and keeps the log small over hours.
PROGRESS_FPS: Final = "0.2"
# Long enough for a restore's swap (renames) to finish once begun.
GRACE_SECONDS: Final = 60
HOSTNAME_FIELD: Final = "metadata.name"


@dataclass(frozen=True)
class JobConfig:
    image: str
    requests: Mapping[str, str] = field(default_factory=lambda: {"cpu": "100m", "memory": "256Mi"})
    limits: Mapping[str, str] = field(default_factory=lambda: {"cpu": "250m", "memory": "512Mi"})
    deadline_seconds: int = 6 * 3600


def owner_reference(body: Mapping[str, Any]) -> Obj:
    meta = body["metadata"]
    return {
        "apiVersion": names.API_VERSION,
        "kind": body.get("kind", BACKUP_KIND),
        "name": meta["name"],
        "uid": meta["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }


def job_labels(server: str, component: str) -> dict[str, str]:
    """Not the server's selector labels: its Services and StatefulSet must never pick the
    Job's pod up."""
    return {
        names.LABEL_NAME: APP_NAME,
        names.LABEL_MANAGED_BY: names.MANAGER_NAME,
        names.LABEL_PART_OF: names.PART_OF,
        LABEL_COMPONENT: component,
        LABEL_BACKUP_SERVER: server,
    }


def scheduling(statefulset: Mapping[str, Any] | None, node: str | None = None) -> Obj:
    """The scheduling fields of the server's pod template (what the operator applied, its
    placement profile included), pinned to `node` when the server's pod runs there."""
    template = (((statefulset or {}).get("spec") or {}).get("template") or {}).get("spec") or {}
    placed = {
        key: copy.deepcopy(template[key]) for key in POD_SCHEDULING_FIELDS if template.get(key)
    }
    if node:
        placed["affinity"] = _pinned(placed.get("affinity") or {}, node)
    return placed


def _pinned(affinity: Obj, node: str) -> Obj:
    """`affinity` with every required node term also requiring the node named `node`."""
    pin = {"key": HOSTNAME_FIELD, "operator": "In", "values": [node]}
    node_affinity = affinity.setdefault("nodeAffinity", {})
    required = node_affinity.setdefault("requiredDuringSchedulingIgnoredDuringExecution", {})
    terms = required.get("nodeSelectorTerms") or [{}]
    for term in terms:
        term["matchFields"] = [*(term.get("matchFields") or []), pin]
    required["nodeSelectorTerms"] = terms
    return affinity


def _container(config: JobConfig, script: str, data: bool, read_only: bool) -> Obj:
    mounts: list[Obj] = [{"name": TMP_VOLUME, "mountPath": scripts.POD.tmp}]
    if data:
        mounts.insert(0, {"name": DATA_VOLUME, "mountPath": DATA_MOUNT_PATH, "readOnly": read_only})
    return {
        "name": COPY_CONTAINER,
        "image": config.image,
        "command": scripts.command(script),
        "env": [
            {"name": "HOME", "value": scripts.POD.tmp},
            {"name": "RESTIC_CACHE_DIR", "value": f"{scripts.POD.tmp}/restic-cache"},
            {"name": "RESTIC_PROGRESS_FPS", "value": PROGRESS_FPS},
        ],
        "envFrom": [{"secretRef": {"name": REPOSITORY_SECRET}}],
        "resources": {"requests": dict(config.requests), "limits": dict(config.limits)},
        "volumeMounts": mounts,
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"]},
            "readOnlyRootFilesystem": True,
            "runAsNonRoot": True,
        },
        "terminationMessagePath": scripts.POD.termination,
        "terminationMessagePolicy": "File",
    }


@dataclass(frozen=True)
class JobShape:
    """What differs between the four Jobs."""

    name: str
    namespace: str
    server: str
    component: str
    owner: Mapping[str, Any]  # the MinecraftBackup or MinecraftRestore it works for
    script: str
    data: bool = False  # mounts the world
    read_only: bool = True
    owned: bool = True  # garbage-collected with its owner
    placement: Obj = field(default_factory=dict)


def lock_host(server: str) -> str:
    """The pod hostname of every backup Job of a server (a DNS label: server names are <= 52)."""
    return f"{server}-backup"


def build_job(shape: JobShape, config: JobConfig) -> Obj:
    labels = job_labels(shape.server, shape.component)
    owner = shape.owner
    annotations = {
        OWNER_ANNOTATION: owner_value(owner.get("kind", BACKUP_KIND), owner["metadata"]["name"])
    }
    meta: Obj = {
        "name": shape.name,
        "namespace": shape.namespace,
        "labels": labels,
        "annotations": annotations,
    }
    if shape.owned:
        meta["ownerReferences"] = [owner_reference(owner)]
    volumes: list[Obj] = [{"name": TMP_VOLUME, "emptyDir": {"sizeLimit": TMP_SIZE_LIMIT}}]
    if shape.data:
        claim = {"claimName": pvc_name(shape.server), "readOnly": shape.read_only}
        volumes.insert(0, {"name": DATA_VOLUME, "persistentVolumeClaim": claim})
    pod: Obj = {
        # restic names its locks after the host: with one name per server, the next Job of a
        # server sees a killed Job's lock as its own dead process's and `restic unlock` frees
        # it, instead of the repository staying locked for 30 minutes.
        "hostname": lock_host(shape.server),
        "restartPolicy": "Never",
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "terminationGracePeriodSeconds": GRACE_SECONDS,
        "securityContext": pod_security_context(),
        "containers": [_container(config, shape.script, shape.data, shape.read_only)],
        "volumes": volumes,
        **copy.deepcopy(shape.placement),
    }
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": meta,
        "spec": {
            # One attempt: a retry would copy a world whose saves were resumed meanwhile.
            "backoffLimit": 0,
            "activeDeadlineSeconds": config.deadline_seconds,
            "template": {
                "metadata": {"labels": dict(labels), "annotations": dict(annotations)},
                "spec": pod,
            },
        },
    }


def _ids(backup: Mapping[str, Any]) -> tuple[str, str]:
    return backup["metadata"]["namespace"], backup["metadata"]["name"]


def copy_job(
    backup: Mapping[str, Any],
    server: str,
    server_uid: str,
    trigger: BackupTrigger,
    placement: Obj,
    config: JobConfig,
) -> Obj:
    namespace, name = _ids(backup)
    script = scripts.copy_script(server, server_uid, trigger)
    shape = JobShape(
        job_name(name, SUFFIX_COPY), namespace, server, COMPONENT_COPY, backup, script,
        data=True, placement=placement,
    )  # fmt: skip
    return build_job(shape, config)


def restore_job(
    restore: Mapping[str, Any], server: str, snapshot: str, placement: Obj, config: JobConfig
) -> Obj:
    namespace, name = _ids(restore)
    script = scripts.restore_script(snapshot)
    shape = JobShape(
        job_name(name, SUFFIX_RESTORE), namespace, server, COMPONENT_RESTORE, restore, script,
        data=True, read_only=False, placement=placement,
    )  # fmt: skip
    return build_job(shape, config)


def retention_job(
    backup: Mapping[str, Any],
    server: str,
    server_uid: str,
    retention: Retention,
    placement: Obj,
    config: JobConfig,
) -> Obj:
    namespace, name = _ids(backup)
    script = scripts.retention_script(server, server_uid, retention)
    shape = JobShape(
        job_name(name, SUFFIX_RETENTION), namespace, server, COMPONENT_PRUNE, backup, script,
        placement=placement,
    )  # fmt: skip
    return build_job(shape, config)


def forget_job(backup: Mapping[str, Any], server: str, snapshot: str, config: JobConfig) -> Obj:
    """Not owned by the backup it forgets: that one is being deleted, and a foreground
    deletion would take the Job with it. The operator deletes it once it is done."""
    namespace, name = _ids(backup)
    script = scripts.forget_script(snapshot)
    shape = JobShape(
        job_name(name, SUFFIX_FORGET), namespace, server, COMPONENT_PRUNE, backup, script,
        owned=False,
    )  # fmt: skip
    return build_job(shape, config)
