"""A hibernating server's archive (pure): spec.hibernation.archiveAfterDays.

Asleep that many days (since status.hibernation.hibernatedAt), the server's world is backed
up by a MinecraftBackup `<server>-archive-<time>` (trigger archive: retention never forgets
it) that is verified by booting it. Only a Completed and Verified backup lets the volume go:
status.archive says Archived first (from then on the reconciler plans the server stopped
whatever wakes it, so its StatefulSet cannot make an empty volume and start on it), and the
next pass deletes the volume once no pod uses it. A wake (a join, an owner's request) or the
owner's start restores the world through a MinecraftRestore `<server>-unarchive-<hash>`
(which makes the volume as the StatefulSet would); once the world is back (the restore's
phase Starting) status.archive goes and the server starts as any woken one.

Level-based: each step reads status.archive, status.hibernation, the backup or restore and
the pod and volume as the API has them, so an operator restart resumes where it was. A failed
backup or verification keeps the volume (state Failed, a Warning) until the next sleep; a
failed restore keeps the archive (a Warning), and the same wake is not retried (a new wake,
or a new spec generation for a start, tries again): no loop.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, Final

from pydantic import ValidationError

from craftplane.contracts import names
from craftplane.contracts.backup import (
    BackupPhase,
    BackupTrigger,
    RestorePhase,
    VerificationState,
)
from craftplane.contracts.hibernation import (
    ARCHIVE_ABANDONED_REASON,
    ARCHIVE_FAILED_REASON,
    ARCHIVED_REASON,
    ARCHIVING_REASON,
    UNARCHIVE_FAILED_REASON,
    UNARCHIVED_REASON,
    UNARCHIVING_REASON,
    Hibernation,
    wake_request,
)
from craftplane.contracts.spec import MinecraftServerSpec
from craftplane.contracts.status import (
    ArchiveState,
    ArchiveStatus,
    HibernationState,
    HibernationStatus,
)
from craftplane_operator.backups import observe as o
from craftplane_operator.backups.actions import (
    Action,
    Create,
    Delete,
    PatchStatus,
    Record,
    Step,
    wait,
)
from craftplane_operator.backups.bodies import backup_of, restore_of
from craftplane_operator.backups.names import RESTORED_FROM_ANNOTATION
from craftplane_operator.backups.seen import ServerSeen
from craftplane_operator.builders.naming import pvc_name
from craftplane_operator.hibernation import read_archive, read_record

POLL_SECONDS: Final = 10.0
_RESTORED: Final = (RestorePhase.STARTING.value, RestorePhase.COMPLETED.value)


def archive_backup_name(server: str, at: datetime) -> str:
    return f"{server}-archive-{at:%Y%m%d-%H%M%S}"


def unarchive_restore_name(server: str, backup: str, occasion: str) -> str:
    """One restore per archive and occasion (a wake, or a start): a failed one is not made
    again for the same occasion, and one of an earlier archive is never taken for this one."""
    digest = hashlib.sha256(f"{server}/{backup}/{occasion}".encode()).hexdigest()[:8]
    return f"{server}-unarchive-{digest}"


def _config(server: Mapping[str, Any]) -> tuple[MinecraftServerSpec | None, Hibernation | None]:
    try:
        spec = MinecraftServerSpec.model_validate(server.get("spec") or {})
    except ValidationError:
        return None, None
    return spec, spec.hibernation


def _write(seen: ServerSeen, archive: ArchiveStatus | None) -> tuple[Action, ...]:
    """status.archive as `archive` says, only when it differs (every key written, so a
    field that goes is removed by the merge patch)."""
    current = o.status(seen.server).get("archive")
    if archive is None:
        desired = None
        compare = None
    else:
        desired = archive.model_dump(by_alias=True, mode="json")
        compare = archive.model_dump(by_alias=True, mode="json", exclude_none=True)
    if current == compare:
        return ()
    meta = o.meta(seen.server)
    return (PatchStatus(names.KIND, meta["namespace"], meta["name"], {"archive": desired}),)


def _record(seen: ServerSeen, warning: bool, reason: str, message: str) -> Record:
    return Record(seen.server, warning, reason, message)


def plan_archive(seen: ServerSeen) -> tuple[Step, datetime | None] | None:
    """The archive's step for the server, with when to look again; None: nothing to do for
    it (the schedule and the rest of the backup side go on)."""
    spec, config = _config(seen.server)
    if spec is None:
        return None
    status = o.status(seen.server)
    archive, sleep = read_archive(status), read_record(status)
    if archive is None or archive.state is ArchiveState.FAILED:
        return _maybe_start(seen, spec, config, sleep, archive)
    if archive.state is ArchiveState.ARCHIVING:
        return _archiving(seen, sleep, archive), None
    if archive.state is ArchiveState.ARCHIVED:
        return _archived(seen, spec, sleep, archive), None
    return _restoring(seen, archive), None


def _asleep_since(sleep: HibernationStatus | None) -> datetime | None:
    if sleep is None or sleep.state is not HibernationState.ASLEEP:
        return None
    return sleep.hibernated_at


def _maybe_start(
    seen: ServerSeen,
    spec: MinecraftServerSpec,
    config: Hibernation | None,
    sleep: HibernationStatus | None,
    archive: ArchiveStatus | None,
) -> tuple[Step, datetime | None] | None:
    since = _asleep_since(sleep)
    if config is None or config.archive_after_days is None or since is None or spec.stopped:
        return None
    if archive is not None and archive.since == since:
        return None  # this sleep's archive failed: the next sleep tries again
    due = since + timedelta(seconds=config.archive_after_days * seen.day_seconds)
    if seen.now < due:
        return Step(), due
    if seen.pvc is None or seen.pod is not None:
        return None  # no world to archive, or not stopped after all
    meta = o.meta(seen.server)
    # Named for the sleep, not the clock: a retry after a lost status write finds the backup
    # it made instead of making another.
    name = archive_backup_name(meta["name"], since)
    body = backup_of(meta, name, BackupTrigger.ARCHIVE, verify=True)
    days = config.archive_after_days
    message = (
        f"hibernated {days} day{'s' if days != 1 else ''}: archiving the world in backup "
        f"{name}; the volume is deleted once the backup is verified"
    )
    record = ArchiveStatus(state=ArchiveState.ARCHIVING, backup=name, since=since, message=message)
    # The backup first: were the status written first and the creation lost, the archive
    # would wait for a backup nobody makes.
    create = Create(body, "archive", about=seen.server)
    actions = (create, *_write(seen, record), _record(seen, False, ARCHIVING_REASON, message))
    return wait(POLL_SECONDS, *actions), None


def _archiving(seen: ServerSeen, sleep: HibernationStatus | None, archive: ArchiveStatus) -> Step:
    _, config = _config(seen.server)
    if config is None or config.archive_after_days is None:
        message = "archiving was turned off before it was done: the volume is kept"
        return Step((*_write(seen, None), _record(seen, False, ARCHIVE_ABANDONED_REASON, message)))
    if _asleep_since(sleep) != archive.since or seen.pod is not None:
        message = (
            f"woken before the archive was done: the volume is kept (backup {archive.backup} "
            "stays a backup)"
        )
        return Step((*_write(seen, None), _record(seen, False, ARCHIVE_ABANDONED_REASON, message)))
    backup = seen.archive_backup
    failure = _backup_failure(backup, archive.backup)
    if failure is not None:
        message = f"archiving failed, the volume is kept until the next sleep: {failure}"
        failed = archive.model_copy(update={"state": ArchiveState.FAILED, "message": message})
        return Step((*_write(seen, failed), _record(seen, True, ARCHIVE_FAILED_REASON, message)))
    verification = (o.status(backup).get("verification") or {}).get("state")
    if verification != VerificationState.VERIFIED.value:
        return wait(POLL_SECONDS)
    message = (
        f"archived: the world is in backup {archive.backup} (verified by booting it); "
        "deleting its volume"
    )
    archived = archive.model_copy(
        update={"state": ArchiveState.ARCHIVED, "archived_at": seen.now, "message": message}
    )
    return wait(
        POLL_SECONDS, *_write(seen, archived), _record(seen, False, ARCHIVED_REASON, message)
    )


def _backup_failure(backup: Mapping[str, Any] | None, name: str) -> str | None:
    if backup is None:
        return f"backup {name} is gone"
    status = o.status(backup)
    if status.get("phase") == BackupPhase.FAILED.value:
        return f"backup {name} failed: {status.get('message') or status.get('reason')}"
    verification = status.get("verification") or {}
    if verification.get("state") == VerificationState.FAILED.value:
        return f"backup {name} did not verify: {verification.get('message') or 'no message'}"
    return None


def _occasion(seen: ServerSeen, spec: MinecraftServerSpec, sleep: HibernationStatus | None) -> str:
    """What wants the server to run, or "" when nothing does: a wake, or the owner's start
    (its generation; with the last wake request, so a join after a failed restore tries
    again rather than being told to rejoin forever)."""
    if spec.stopped:
        return ""
    if sleep is None or sleep.state is HibernationState.AWAKE:
        generation = int(o.meta(seen.server).get("generation") or 0)
        request = wake_request(o.annotations_of(seen.server))
        return f"start:{generation}:{request.value if request else ''}"
    if sleep.state is HibernationState.WAKING and sleep.woken_at is not None:
        return f"wake:{sleep.woken_at.isoformat()}"
    return ""


def _archived(
    seen: ServerSeen,
    spec: MinecraftServerSpec,
    sleep: HibernationStatus | None,
    archive: ArchiveStatus,
) -> Step:
    meta = o.meta(seen.server)
    namespace, server = meta["namespace"], meta["name"]
    occasion = _occasion(seen, spec, sleep)
    if occasion:
        name = unarchive_restore_name(server, archive.backup, occasion)
        if name != archive.restore:
            return _unarchive(seen, archive, name)
    replicas = int(((seen.statefulset or {}).get("spec") or {}).get("replicas") or 0)
    if seen.pvc is not None and not o.deleting(seen.pvc) and seen.pod is None and replicas == 0:
        if archive.restore and RESTORED_FROM_ANNOTATION in o.annotations_of(seen.pvc):
            return Step()  # a failed unarchive's volume: the next restore reuses it
        return wait(POLL_SECONDS, Delete("PersistentVolumeClaim", namespace, pvc_name(server)))
    return Step()


def _unarchive(seen: ServerSeen, archive: ArchiveStatus, name: str) -> Step:
    meta = o.meta(seen.server)
    body = restore_of(meta, name, archive.backup)
    message = f"restoring the world from the archive (backup {archive.backup}), then starting"
    restoring = archive.model_copy(
        update={"state": ArchiveState.RESTORING, "restore": name, "message": message}
    )
    create = Create(body, "unarchive", about=seen.server)
    actions = (create, *_write(seen, restoring), _record(seen, False, UNARCHIVING_REASON, message))
    return wait(POLL_SECONDS, *actions)


def _restoring(seen: ServerSeen, archive: ArchiveStatus) -> Step:
    restore = seen.archive_restore
    if restore is not None and (restore.get("spec") or {}).get("backup") != archive.backup:
        restore = None  # not this archive's (made by someone else under its name)
    phase = o.status(restore).get("phase") if restore is not None else None
    if phase in _RESTORED:
        message = f"the world is back from backup {archive.backup}: starting"
        return Step((*_write(seen, None), _record(seen, False, UNARCHIVED_REASON, message)))
    if restore is None or phase == RestorePhase.FAILED.value:
        why = o.status(restore).get("message") if restore is not None else "the restore is gone"
        message = (
            f"restoring the archive failed, the server stays archived: {why}; "
            "a new wake or start tries again"
        )
        archived = archive.model_copy(update={"state": ArchiveState.ARCHIVED, "message": message})
        return Step(
            (*_write(seen, archived), _record(seen, True, UNARCHIVE_FAILED_REASON, message))
        )
    return wait(POLL_SECONDS)
