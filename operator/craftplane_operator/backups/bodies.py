"""The MinecraftBackups and MinecraftRestores a server's backup side asks for (its schedule, its
archive, its spec.restoreFrom), in one shape."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from craftplane.contracts import names
from craftplane.contracts.backup import (
    BACKUP_KIND,
    LABEL_BACKUP_SERVER,
    LABEL_BACKUP_TRIGGER,
    RESTORE_KIND,
    BackupTrigger,
)


def backup_of(
    server: Mapping[str, Any],
    name: str,
    trigger: BackupTrigger,
    *,
    annotations: Mapping[str, str] | None = None,
    verify: bool | None = None,
) -> dict[str, Any]:
    """A MinecraftBackup of the server whose metadata is ``server`` (not owned by it: backups
    outlive their server)."""
    metadata: dict[str, Any] = {
        "name": name,
        "namespace": server["namespace"],
        "labels": {LABEL_BACKUP_SERVER: server["name"], LABEL_BACKUP_TRIGGER: trigger.value},
    }
    if annotations:
        metadata["annotations"] = dict(annotations)
    spec: dict[str, Any] = {"server": server["name"]}
    if verify is not None:
        spec["verify"] = verify
    return {
        "apiVersion": names.API_VERSION,
        "kind": BACKUP_KIND,
        "metadata": metadata,
        "spec": spec,
    }


def restore_of(
    server: Mapping[str, Any], name: str, backup: str, *, owned: bool = False
) -> dict[str, Any]:
    """A MinecraftRestore of ``backup`` into the server whose metadata is ``server``; owned by
    the server when it exists only for that server's life."""
    metadata: dict[str, Any] = {
        "name": name,
        "namespace": server["namespace"],
        "labels": {LABEL_BACKUP_SERVER: server["name"]},
    }
    if owned:
        metadata["ownerReferences"] = [
            {
                "apiVersion": names.API_VERSION,
                "kind": names.KIND,
                "name": server["name"],
                "uid": server["uid"],
                "controller": False,
                "blockOwnerDeletion": False,
            }
        ]
    return {
        "apiVersion": names.API_VERSION,
        "kind": RESTORE_KIND,
        "metadata": metadata,
        "spec": {"backup": backup, "server": server["name"]},
    }
