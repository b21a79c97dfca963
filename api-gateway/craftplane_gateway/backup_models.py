"""MinecraftBackups and MinecraftRestores as the REST API and the WebSocket show them (pure),
and the bodies of the backup routes.

The operator owns the status of both resources; the gateway only reads it back. A status field
that does not fit its model (a newer operator, a hand edit) is left out of the view rather than
failing the request: the rest of the backup is still worth showing.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Final, TypeVar

from pydantic import BaseModel, Field, StrictBool, ValidationError

from craftplane.contracts.backup import (
    LABEL_BACKUP_SERVER,
    BackupPhase,
    BackupTrigger,
    RestorePhase,
    VerificationState,
)
from craftplane_gateway.schemas import API_PREFIX, ServerName, Timestamp, WireModel

# A Kubernetes object name (DNS subdomain): what a backup or restore in a path may be called.
OBJECT_NAME_PATTERN: Final = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
MAX_OBJECT_NAME: Final = 253

M = TypeVar("M", bound=BaseModel)


# --- bodies ---------------------------------------------------------------------------


class BackupCreate(WireModel):
    """Body of ``POST /api/v1/servers/{name}/backups`` (optional: ``{}`` when absent)."""

    verify: StrictBool | None = Field(
        default=None,
        description=(
            "Boot this backup in a scratch server to verify it (default: the server's "
            "spec.backups.verify)."
        ),
    )


class RestoreCreate(WireModel):
    """Body of ``POST /api/v1/backups/{backup}/restore`` (optional: ``{}`` when absent)."""

    server: ServerName | None = Field(
        default=None,
        description=(
            "The server whose world is replaced (default: the backup's own server). When no "
            "server of this name exists, a new one is created from the backup."
        ),
    )


# --- views ----------------------------------------------------------------------------


class ProgressOut(WireModel):
    """How far a running copy or restore is."""

    bytes_done: int = Field(default=0, ge=0)
    bytes_total: int = Field(default=0, ge=0)
    files_done: int = Field(default=0, ge=0)
    files_total: int = Field(default=0, ge=0)


class VerificationOut(WireModel):
    """Whether the backup was booted and found whole."""

    state: VerificationState = Field(description="Pending, Running, Verified or Failed.")
    reason: str | None = None
    message: str | None = None
    at: Timestamp | None = Field(default=None, description="When the verification ended.")
    requested_at: str | None = Field(
        default=None, description="The verify request (POST .../verify) it answered."
    )


class BackupOut(WireModel):
    """One backup of a server's world: a restic snapshot in the tenant's repository."""

    name: str = Field(max_length=MAX_OBJECT_NAME)
    namespace: str = Field(max_length=63)
    server: str = Field(description="The server it copies (it may have been deleted since).")
    uid: str = Field(default="", description="metadata.uid of the MinecraftBackup.")
    phase: BackupPhase | None = Field(
        default=None, description="Pending, Running, Completed, Failed."
    )
    reason: str | None = None
    message: str | None = None
    trigger: BackupTrigger | None = Field(default=None, description="manual or scheduled.")
    verify: bool | None = Field(default=None, description="spec.verify, when it was asked for.")
    snapshot_id: str | None = None
    size_bytes: int | None = Field(default=None, ge=0, description="Bytes of the world copied.")
    added_bytes: int | None = Field(
        default=None, ge=0, description="New bytes the repository stored (deduplicated)."
    )
    files: int | None = Field(default=None, ge=0)
    duration_seconds: float | None = Field(default=None, ge=0)
    created_at: Timestamp | None = Field(default=None, description="When it was asked for.")
    started_at: Timestamp | None = None
    completed_at: Timestamp | None = None
    game_version: str | None = None
    server_type: str | None = None
    progress: ProgressOut | None = Field(default=None, description="While Running.")
    verification: VerificationOut | None = None
    deleting: bool = Field(
        default=False, description="Deletion started: the snapshot is being forgotten."
    )


class BackupPage(WireModel):
    """A server's backups, newest first."""

    items: list[BackupOut]


class RestoreOut(WireModel):
    """One restore of a backup into a server: stop, restore, start."""

    name: str = Field(max_length=MAX_OBJECT_NAME)
    namespace: str = Field(max_length=63)
    server: str = Field(description="The server whose world is replaced.")
    backup: str = Field(description="The MinecraftBackup restored.")
    uid: str = Field(default="", description="metadata.uid of the MinecraftRestore.")
    phase: RestorePhase | None = Field(
        default=None, description="Pending, Stopping, Restoring, Starting, Completed, Failed."
    )
    reason: str | None = None
    message: str | None = None
    snapshot_id: str | None = None
    progress: ProgressOut | None = Field(default=None, description="While Restoring.")
    created_at: Timestamp | None = None
    started_at: Timestamp | None = None
    completed_at: Timestamp | None = None
    deleting: bool = False


class RestoreAccepted(WireModel):
    """202: the restore was asked for (a MinecraftRestore), or a new server was created to
    start from the backup (spec.restoreFrom)."""

    server: str = Field(description="The server the backup is restored into.")
    backup: str
    new_server: bool = Field(description="Whether the server was created for this restore.")
    restore: RestoreOut | None = Field(
        default=None, description="The MinecraftRestore, when an existing server is restored."
    )
    location: str = Field(description="URL of the restore, or of the new server.")


# --- building the views ---------------------------------------------------------------


def lenient(model: type[M], data: Mapping[str, Any]) -> M:
    """``model`` from ``data``, leaving out each top-level key whose value does not fit; a key
    the model cannot do without still fails (ValidationError)."""
    remaining = dict(data)
    while True:
        try:
            return model.model_validate(remaining)
        except ValidationError as exc:
            bad = {str(e["loc"][0]) for e in exc.errors() if e["loc"]} & remaining.keys()
            required = {
                str(info.alias or name) for name, info in model.model_fields.items()
                if info.is_required()
            }  # fmt: skip
            if not bad or bad & required:
                raise
            remaining = {k: v for k, v in remaining.items() if k not in bad}


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _common(cr: Mapping[str, Any]) -> dict[str, Any]:
    meta = _mapping(cr.get("metadata"))
    return {
        "name": str(meta.get("name") or ""),
        "namespace": str(meta.get("namespace") or ""),
        "uid": str(meta.get("uid") or ""),
        "createdAt": meta.get("creationTimestamp"),
        "deleting": bool(meta.get("deletionTimestamp")),
    }


_BACKUP_STATUS: Final = (
    "phase", "reason", "message", "trigger", "snapshotId", "sizeBytes", "addedBytes", "files",
    "durationSeconds", "startedAt", "completedAt", "gameVersion", "serverType", "progress",
    "verification",
)  # fmt: skip
_RESTORE_STATUS: Final = (
    "phase", "reason", "message", "snapshotId", "progress", "startedAt", "completedAt",
)  # fmt: skip


def backup_server(cr: Mapping[str, Any]) -> str:
    """The server a MinecraftBackup copies: spec.server, else its label."""
    spec = _mapping(cr.get("spec"))
    labels = _mapping(_mapping(cr.get("metadata")).get("labels"))
    return str(spec.get("server") or labels.get(LABEL_BACKUP_SERVER) or "")


def backup_out(cr: Mapping[str, Any]) -> BackupOut:
    spec, status = _mapping(cr.get("spec")), _mapping(cr.get("status"))
    view = {**_common(cr), "server": backup_server(cr), "verify": spec.get("verify")}
    view |= {key: status[key] for key in _BACKUP_STATUS if status.get(key) is not None}
    # Only what the views name: e.g. the verification's scratch server is the operator's
    # business, not the tenant's.
    _only_known(view, "progress", ProgressOut)
    _only_known(view, "verification", VerificationOut)
    return lenient(BackupOut, view)


def _only_known(view: dict[str, Any], key: str, model: type[BaseModel]) -> None:
    value = view.get(key)
    if isinstance(value, dict):
        known = {str(info.alias or name) for name, info in model.model_fields.items()}
        view[key] = {k: v for k, v in value.items() if k in known}


def restore_out(cr: Mapping[str, Any]) -> RestoreOut:
    spec, status = _mapping(cr.get("spec")), _mapping(cr.get("status"))
    view = {
        **_common(cr),
        "server": str(spec.get("server") or ""),
        "backup": str(spec.get("backup") or ""),
    }
    view |= {key: status[key] for key in _RESTORE_STATUS if status.get(key) is not None}
    _only_known(view, "progress", ProgressOut)
    return lenient(RestoreOut, view)


def wire(model: BaseModel) -> dict[str, Any]:
    """A view as JSON: camelCase, what is unset absent."""
    return model.model_dump(mode="json", by_alias=True, exclude_none=True)


_OLDEST: Final = datetime.min.replace(tzinfo=UTC)


def newest_first(backups: list[BackupOut]) -> list[BackupOut]:
    return sorted(backups, key=lambda b: (b.created_at or _OLDEST, b.name), reverse=True)


def backup_location(name: str) -> str:
    return f"{API_PREFIX}/backups/{name}"


def restore_location(name: str) -> str:
    return f"{API_PREFIX}/restores/{name}"
