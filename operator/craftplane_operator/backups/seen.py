"""What one reconcile of a backup, a restore or a server's backup side found: the planners'
inputs, gathered by the controller (from the store, and the API where the store may lag)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from pydantic import ValidationError

from craftplane.contracts.spec import MinecraftServerSpec
from craftplane_operator.backups.jobs import JobConfig

Obj = Mapping[str, Any]


@dataclass(frozen=True)
class Config:
    jobs: JobConfig
    progress_seconds: float = 5.0
    verify_deadline: timedelta = timedelta(minutes=10)
    restore_start_deadline: timedelta = timedelta(minutes=15)
    day_seconds: float = 86400.0  # seconds in a day of archiveAfterDays (tests shorten it)


@dataclass(frozen=True)
class Failure:
    """An RCON command that failed, and since when it keeps failing."""

    message: str
    first: datetime
    last: datetime


@dataclass(frozen=True)
class JobView:
    job: Obj | None = None
    pod: Obj | None = None
    log: tuple[str, ...] | None = None  # the tail of the pod's log, when it was read


@dataclass(frozen=True)
class ServerView:
    """A backup's or restore's server: its CR, pod, world volume and StatefulSet."""

    body: Obj | None = None
    pod: Obj | None = None
    pvc: Obj | None = None
    statefulset: Obj | None = None

    @property
    def spec(self) -> MinecraftServerSpec | None:
        if self.body is None:
            return None
        try:
            return MinecraftServerSpec.model_validate(self.body.get("spec") or {})
        except ValidationError:
            return None


@dataclass(frozen=True)
class BackupSeen:
    backup: Obj
    now: datetime
    config: Config
    server: ServerView = ServerView()
    # Why the tenant's repository cannot be used (None: it can, or it was not looked at).
    repository: str | None = None
    copy: JobView = JobView()
    retention: JobView = JobView()
    forget: JobView = JobView()
    # The backups and restores of the namespace (who goes first), its backup Jobs (who uses
    # the repository) and the RCON failures and refused creations remembered for this backup.
    queue: tuple[Obj, ...] = ()
    repository_jobs: tuple[Obj, ...] = ()
    failures: Mapping[str, Failure] = field(default_factory=dict)
    refusals: Mapping[str, str] = field(default_factory=dict)
    # Verification: the scratch server booted from this backup, and its restore.
    scratch: Obj | None = None
    scratch_restore: Obj | None = None


@dataclass(frozen=True)
class RestoreSeen:
    restore: Obj
    now: datetime
    config: Config
    backup: Obj | None = None
    server: ServerView = ServerView()
    repository: str | None = None
    job: JobView = JobView()
    queue: tuple[Obj, ...] = ()
    repository_jobs: tuple[Obj, ...] = ()
    refusals: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ServerSeen:
    """A server's backup side: its schedule, its restoreFrom, its restore hold."""

    server: Obj
    now: datetime
    pvc: Obj | None = None
    statefulset: Obj | None = None
    restore_from: Obj | None = None  # the MinecraftRestore <server>-restore-from
    # The restore named by the hold annotation; None when it does not exist.
    holder: Obj | None = None
    players: int = 0
    refusals: Mapping[str, str] = field(default_factory=dict)
    # The archive (spec.hibernation.archiveAfterDays): the pod as the API has it (a volume is
    # deleted only while none runs), the archive's backup and its restore (status.archive).
    pod: Obj | None = None
    archive_backup: Obj | None = None
    archive_restore: Obj | None = None
    day_seconds: float = 86400.0  # seconds in a day of archiveAfterDays (tests shorten it)
