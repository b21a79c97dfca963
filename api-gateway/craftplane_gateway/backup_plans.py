"""What the backup routes write (pure): a MinecraftBackup, a MinecraftRestore, or a new
MinecraftServer that starts from a backup, and when a backup may be used at all.

Every object goes into the caller's namespace, named from the path and the validated body
only: nothing a client sends can name another namespace.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Final

from craftplane.contracts.backup import (
    BACKUP_KIND,
    LABEL_BACKUP_SERVER,
    LABEL_BACKUP_TRIGGER,
    RESTORE_HOLD_ANNOTATION,
    RESTORE_KIND,
    BackupPhase,
    BackupTrigger,
)
from craftplane.contracts.names import API_VERSION, TENANT_LABEL
from craftplane.contracts.spec import MinecraftServerSpec
from craftplane.kube import Obj
from craftplane_gateway.cluster import FIELD_MANAGER

CREATED_BY: Final = "app.kubernetes.io/created-by"
_STOPPED: Final = str(MinecraftServerSpec.model_fields["stopped"].alias)


def stamp(now: datetime) -> str:
    """``yyyymmdd-hhmmss`` in UTC: the suffix of the names the gateway gives."""
    return now.astimezone(UTC).strftime("%Y%m%d-%H%M%S")


def rfc3339(now: datetime) -> str:
    return now.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _labels(tenant: str, server: str) -> dict[str, str]:
    return {TENANT_LABEL: tenant, LABEL_BACKUP_SERVER: server, CREATED_BY: FIELD_MANAGER}


def backup_manifest(
    server: str, namespace: str, tenant: str, now: datetime, *, verify: bool | None = None
) -> Obj:
    """A manual MinecraftBackup of ``server``: ``<server>-<utc stamp>``."""
    spec: dict[str, Any] = {"server": server}
    if verify is not None:
        spec["verify"] = verify
    labels = _labels(tenant, server) | {LABEL_BACKUP_TRIGGER: BackupTrigger.MANUAL.value}
    return {
        "apiVersion": API_VERSION,
        "kind": BACKUP_KIND,
        "metadata": {"name": f"{server}-{stamp(now)}", "namespace": namespace, "labels": labels},
        "spec": spec,
    }


def restore_manifest(target: str, backup: str, namespace: str, tenant: str, now: datetime) -> Obj:
    """A MinecraftRestore of ``backup`` into the existing server ``target``:
    ``<target>-restore-<utc stamp>``."""
    return {
        "apiVersion": API_VERSION,
        "kind": RESTORE_KIND,
        "metadata": {
            "name": f"{target}-restore-{stamp(now)}",
            "namespace": namespace,
            "labels": _labels(tenant, target),
        },
        "spec": {"backup": backup, "server": target},
    }


def restored_server_spec(
    source_spec: Mapping[str, Any] | None, backup_status: Mapping[str, Any], backup: str
) -> dict[str, Any]:
    """The spec of a new server that starts from ``backup``: the source server's spec as it is
    now (allowlist and ops as they are), or, when the source is gone, the type and version the
    backup was taken with. It starts once restored, whatever the source's spec.stopped."""
    if source_spec is not None:
        spec = copy.deepcopy(dict(source_spec))
        spec.pop(_STOPPED, None)
        service = spec.get("service")
        if isinstance(service, dict):
            # A node port is one per cluster: the copy would be refused while the source has it.
            service.pop("nodePort", None)
    else:
        # The backup exists, so the server it came from accepted the EULA.
        spec = {"eula": True}
        for key, field in (("type", "serverType"), ("version", "gameVersion")):
            value = backup_status.get(field)
            if isinstance(value, str) and value:
                spec[key] = value
    spec["restoreFrom"] = {"backup": backup}
    return spec


def unusable(backup: Mapping[str, Any]) -> str | None:
    """Why a backup cannot be restored or verified now; None when it can (Completed, not
    being deleted)."""
    name = (backup.get("metadata") or {}).get("name", "")
    if (backup.get("metadata") or {}).get("deletionTimestamp"):
        return f"backup {name!r} is being deleted"
    phase = (backup.get("status") or {}).get("phase")
    if phase != BackupPhase.COMPLETED.value:
        shown = phase or BackupPhase.PENDING.value
        return f"backup {name!r} is {shown}: only a Completed backup can be used"
    return None


def busy(server: Mapping[str, Any]) -> str | None:
    """Why a server cannot take a restore now; None when it can."""
    meta = server.get("metadata") or {}
    name = meta.get("name", "")
    if meta.get("deletionTimestamp"):
        return f"server {name!r} is being deleted"
    held = (meta.get("annotations") or {}).get(RESTORE_HOLD_ANNOTATION)
    if held:
        return f"server {name!r} is held by the restore {held!r}; wait until it ends"
    return None
