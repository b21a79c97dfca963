"""Backups of a server's world: `spec.backups` on the server, the `MinecraftBackup` and
`MinecraftRestore` resources, and the names their Jobs and Secrets share.

A backup is one restic snapshot of the server's data volume in the tenant's repository (any
S3 endpoint, named by the Secret `craftplane-backups` in the tenant namespace, which only the
operator's Jobs mount). A restore replaces a server's data with one snapshot, through the
day-2 stop path, and starts it again.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Final

from pydantic import Field, field_validator

from craftplane.contracts.base import ApiModel
from craftplane.contracts.lifecycle import CRON_PATTERN, TIME_ZONE_PATTERN, known_zone, parsed_cron
from craftplane.contracts.status import ConditionStatus, K8sTime

BACKUP_KIND: Final = "MinecraftBackup"
BACKUP_PLURAL: Final = "minecraftbackups"
BACKUP_SINGULAR: Final = "minecraftbackup"
BACKUP_SHORT_NAMES: Final = ("mcb",)
RESTORE_KIND: Final = "MinecraftRestore"
RESTORE_PLURAL: Final = "minecraftrestores"
RESTORE_SINGULAR: Final = "minecraftrestore"
RESTORE_SHORT_NAMES: Final = ("mcrestore",)

# The tenant's repository: RESTIC_REPOSITORY (e.g. s3:https://s3.example/bucket/prefix),
# RESTIC_PASSWORD (the repository key), AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and optionally
# AWS_DEFAULT_REGION. Written by the cluster admin (or the sandbox); tenants' RBAC cannot read
# Secrets, and the gateway never returns it.
REPOSITORY_SECRET: Final = "craftplane-backups"
REPOSITORY_KEYS: Final = (
    "RESTIC_REPOSITORY",
    "RESTIC_PASSWORD",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
)

# On a MinecraftBackup: the server it copies (for label selectors; spec.server is the truth)
# and what made it.
LABEL_BACKUP_SERVER: Final = "craftplane.io/server"
LABEL_BACKUP_TRIGGER: Final = "craftplane.io/backup-trigger"
# On a scratch server booted to verify a backup: the backup it verifies.
LABEL_VERIFIES: Final = "craftplane.io/verifies-backup"
# On a server while a restore holds it stopped: the MinecraftRestore's name.
RESTORE_HOLD_ANNOTATION: Final = "craftplane.io/restore-in-progress"
BACKUP_FINALIZER: Final = "craftplane.io/backup-snapshot"
# `POST /backups/{name}/verify` (or kubectl annotate) asks for one verification of a
# Completed backup; the operator answers each new value once (status.verification.requestedAt).
VERIFY_REQUEST_ANNOTATION: Final = "craftplane.io/verify-requested-at"
# On the pods of the operator's backup Jobs (what NetworkPolicies select to let them reach the
# object store): the Job's part in the backup.
LABEL_COMPONENT: Final = "app.kubernetes.io/component"
COMPONENT_COPY: Final = "backup-copy"
COMPONENT_RESTORE: Final = "backup-restore"
COMPONENT_PRUNE: Final = "backup-prune"
BACKUP_COMPONENTS: Final = (COMPONENT_COPY, COMPONENT_RESTORE, COMPONENT_PRUNE)

# restic tags on each snapshot: the server's uid (a new server of the same name is another
# history) and the trigger, so retention only ever forgets scheduled snapshots of one server.
TAG_SERVER_UID: Final = "craftplane.io/server-uid"
TAG_TRIGGER: Final = "craftplane.io/trigger"


class BackupTrigger(StrEnum):
    MANUAL = "manual"
    SCHEDULED = "scheduled"
    ARCHIVE = "archive"  # a hibernating server's world before its volume goes (never pruned)


class Retention(ApiModel):
    """How many scheduled backups to keep (restic forget --keep-*); manual ones are kept
    until deleted."""

    keep_last: int | None = Field(default=7, ge=1, le=1000, description="The newest N.")
    keep_daily: int | None = Field(
        default=None, ge=1, le=1000, description="The newest one of each of the last N days."
    )
    keep_weekly: int | None = Field(
        default=None, ge=1, le=520, description="The newest one of each of the last N weeks."
    )


class BackupPolicy(ApiModel):
    """Scheduled backups of this server (`spec.backups`)."""

    schedule: str | None = Field(
        default=None,
        pattern=CRON_PATTERN,
        max_length=128,
        description=(
            "When to back up, as five cron fields, e.g. '0 */6 * * *'. No scheduled backups "
            "when omitted (manual ones still work)."
        ),
    )
    time_zone: str = Field(
        default="UTC",
        pattern=TIME_ZONE_PATTERN,
        max_length=64,
        description="IANA time zone the cron fields are read in.",
    )
    retention: Retention = Field(
        default=Retention(), description="Which scheduled backups to keep; the rest are pruned."
    )
    pause_when_empty: bool = Field(
        default=False,
        description="Skip a scheduled backup when no player was online since the last one.",
    )
    verify: bool = Field(
        default=False,
        description=(
            "Boot each new backup in a scratch server (not exposed, deleted afterwards) and mark "
            "it Verified only when it reaches Running with the snapshot's files."
        ),
    )

    @field_validator("schedule")
    @classmethod
    def _parses(cls, cron: str | None) -> str | None:
        return None if cron is None else parsed_cron(cron)

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, zone: str) -> str:
        return known_zone(zone)


class RestoreFrom(ApiModel):
    """Start a new server from a backup (`spec.restoreFrom`): honoured once, before its
    first start."""

    backup: str = Field(
        min_length=1, max_length=253, description="A Completed MinecraftBackup in this namespace."
    )


class BackupPhase(StrEnum):
    PENDING = "Pending"
    RUNNING = "Running"
    COMPLETED = "Completed"
    FAILED = "Failed"


class VerificationState(StrEnum):
    PENDING = "Pending"
    RUNNING = "Running"
    VERIFIED = "Verified"
    FAILED = "Failed"


class Progress(ApiModel):
    """How far a running copy or restore is (from restic's own counters)."""

    bytes_done: int = Field(default=0, ge=0, description="Bytes copied or restored so far.")
    bytes_total: int = Field(default=0, ge=0, description="Bytes to copy or restore in all.")
    files_done: int = Field(default=0, ge=0, description="Files done so far.")
    files_total: int = Field(default=0, ge=0, description="Files in all.")


class Verification(ApiModel):
    state: VerificationState = Field(description="Pending, Running, Verified or Failed.")
    reason: str = Field(default="", max_length=128, description="CamelCase reason of the state.")
    message: str = Field(default="", max_length=4096, description="What was checked or went wrong.")
    at: K8sTime | None = Field(default=None, description="When the verification ended.")
    requested_at: str | None = Field(
        default=None, max_length=64, description="The verify request (annotation) answered."
    )
    scratch_server: str | None = Field(
        default=None, max_length=63, description="The scratch MinecraftServer booted for it."
    )


class BackupConditionType(StrEnum):
    COMPLETED = "Completed"
    """The copy (or restore) ended: True when it succeeded, False with the reason when not."""
    SAVES_PAUSED = "SavesPaused"
    """save-off is in force on the server for this copy (True only while copying)."""
    VERIFIED = "Verified"
    """The backup booted in a scratch server with the snapshot's files."""


class BackupCondition(ApiModel):
    """One aspect of a backup or restore, in the standard Kubernetes condition shape."""

    type: BackupConditionType = Field(description="Completed, SavesPaused or Verified.")
    status: ConditionStatus = Field(description="True, False or Unknown.")
    reason: str = Field(
        default="", max_length=1024, pattern=r"^([A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?)?$"
    )
    message: str = Field(default="", max_length=32768)
    last_transition_time: K8sTime = Field(description="When the status last changed.")


CONDITIONS_LIST: Final[dict[str, Any]] = {
    "x-kubernetes-list-type": "map",
    "x-kubernetes-list-map-keys": ["type"],
}


class MinecraftBackupSpec(ApiModel):
    """One backup of one server."""

    server: str = Field(
        min_length=1,
        max_length=52,
        pattern=r"^[a-z]([-a-z0-9]*[a-z0-9])?$",
        description="The MinecraftServer (in this namespace) to back up.",
    )
    verify: bool | None = Field(
        default=None,
        description="Verify this backup by booting it (default: the server's backups.verify).",
    )


class MinecraftBackupStatus(ApiModel):
    """Observed state of a backup, written by the operator."""

    phase: BackupPhase | None = Field(
        default=None, description="Pending, Running, Completed, Failed."
    )
    reason: str = Field(default="", max_length=128, description="CamelCase reason of the phase.")
    message: str = Field(default="", max_length=4096, description="What happened, in words.")
    trigger: BackupTrigger | None = Field(
        default=None, description="manual (a person or the API) or scheduled (spec.backups)."
    )
    snapshot_id: str | None = Field(default=None, max_length=64, description="restic snapshot id.")
    size_bytes: int | None = Field(default=None, ge=0, description="Bytes of the world copied.")
    added_bytes: int | None = Field(
        default=None, ge=0, description="New bytes the repository stored (deduplicated)."
    )
    files: int | None = Field(default=None, ge=0, description="Files in the snapshot.")
    duration_seconds: float | None = Field(
        default=None, ge=0, description="How long the copy took (restic's own figure)."
    )
    started_at: K8sTime | None = Field(default=None, description="When the copy began.")
    completed_at: K8sTime | None = Field(default=None, description="When it ended.")
    server_uid: str | None = Field(
        default=None, max_length=64, description="metadata.uid of the server copied."
    )
    game_version: str | None = Field(
        default=None, max_length=64, description="The server's game version at the copy."
    )
    server_type: str | None = Field(
        default=None, max_length=32, description="The server's type (PAPER, VANILLA...)."
    )
    saves_paused: bool | None = Field(
        default=None,
        description="save-off is in force for this copy; save-on follows whatever happens.",
    )
    progress: Progress | None = Field(default=None, description="Of a running copy.")
    verification: Verification | None = Field(
        default=None, description="Of the last verification (a boot in a scratch server)."
    )
    conditions: list[BackupCondition] = Field(
        default=[],
        description="Completed, SavesPaused and Verified, one of each at most.",
        json_schema_extra=CONDITIONS_LIST,
    )
    observed_generation: int | None = Field(default=None, ge=0)


class RestorePhase(StrEnum):
    PENDING = "Pending"
    STOPPING = "Stopping"
    RESTORING = "Restoring"
    STARTING = "Starting"
    COMPLETED = "Completed"
    FAILED = "Failed"


class MinecraftRestoreSpec(ApiModel):
    """Replace a server's world with a backup, then start it."""

    backup: str = Field(
        min_length=1, max_length=253, description="A Completed MinecraftBackup in this namespace."
    )
    server: str = Field(
        min_length=1,
        max_length=52,
        pattern=r"^[a-z]([-a-z0-9]*[a-z0-9])?$",
        description=(
            "The MinecraftServer (in this namespace) whose world is replaced: stopped safely "
            "(announced, saved), restored, started."
        ),
    )


class MinecraftRestoreStatus(ApiModel):
    phase: RestorePhase | None = Field(
        default=None,
        description="Pending, Stopping (the server is saved and stopped), Restoring, Starting, "
        "Completed, Failed (the server keeps its old world).",
    )
    reason: str = Field(default="", max_length=128, description="CamelCase reason of the phase.")
    message: str = Field(default="", max_length=4096, description="What happened, in words.")
    snapshot_id: str | None = Field(default=None, max_length=64, description="restic snapshot.")
    progress: Progress | None = Field(default=None, description="Of the restore copy.")
    started_at: K8sTime | None = Field(default=None, description="When the restore began.")
    completed_at: K8sTime | None = Field(default=None, description="When it ended.")
    conditions: list[BackupCondition] = Field(
        default=[], description="Completed.", json_schema_extra=CONDITIONS_LIST
    )
    observed_generation: int | None = Field(default=None, ge=0)
