"""Names of what the backup controllers create, each derived from the object it serves, and
the operator's own annotations on backups, Jobs and volumes.

A Job's name is also the value of the `job-name` label on its pod, so it must fit in 63
characters; a backup's name may be longer (up to 253), hence the bounded forms.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Final

from craftplane.contracts.backup import BACKUP_KIND, RESTORE_KIND

MAX_LABEL: Final = 63
# A scratch server's name leaves room for its pods and Services (like any server's).
MAX_SERVER_NAME: Final = 52

SUFFIX_COPY: Final = "copy"
SUFFIX_RESTORE: Final = "restore"
SUFFIX_RETENTION: Final = "retention"
SUFFIX_FORGET: Final = "forget"
COPY_CONTAINER: Final = "restic"

# On every backup Job and its pod: the MinecraftBackup or MinecraftRestore it works for, as
# "<kind>/<name>" (a label value could not hold every name).
OWNER_ANNOTATION: Final = "craftplane.io/backup-owner"
# On a MinecraftBackup whose snapshot retention already forgot: its finalizer lets it go.
PRUNED_ANNOTATION: Final = "craftplane.io/snapshot-pruned"
# On a scheduled MinecraftBackup: the retention that followed it ran (whatever its outcome).
RETENTION_ANNOTATION: Final = "craftplane.io/retention-done"
# On a world volume the operator created for a restore: the backup it was made for.
RESTORED_FROM_ANNOTATION: Final = "craftplane.io/restored-from"
# On a scheduled MinecraftBackup: the slot of spec.backups.schedule it answers.
SLOT_ANNOTATION: Final = "craftplane.io/backup-slot"
# On a scratch server: the full name of the backup it verifies (the label may be shortened).
VERIFIES_ANNOTATION: Final = "craftplane.io/verifies-backup-name"


def _digest(text: str, length: int = 8) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:length]


def bounded(base: str, suffix: str = "", limit: int = MAX_LABEL) -> str:
    """`base-suffix`, or when longer than `limit` a shortened base with a digest of the whole
    (so two long names sharing a prefix stay apart)."""
    name = f"{base}-{suffix}" if suffix else base
    if len(name) <= limit:
        return name
    digest = _digest(name)
    tail = f"-{digest}-{suffix}" if suffix else f"-{digest}"
    return f"{base[: limit - len(tail)].rstrip('-')}{tail}"


def job_name(owner: str, suffix: str) -> str:
    """The Job of a backup or restore: `<owner>-copy`, `-restore`, `-retention`, `-forget`."""
    return bounded(owner, suffix)


def label_value(name: str) -> str:
    return bounded(name)


def owner_value(kind: str, name: str) -> str:
    return f"{kind}/{name}"


def parse_owner(value: str | None) -> tuple[str, str] | None:
    """(kind, name) from an OWNER_ANNOTATION value."""
    kind, _, name = (value or "").partition("/")
    if kind not in (BACKUP_KIND, RESTORE_KIND) or not name:
        return None
    return kind, name


def scheduled_backup_name(server: str, slot: datetime) -> str:
    """`<server>-<yyyymmdd-hhmm>` of the slot in UTC: one name per slot, whatever the zone."""
    return f"{server}-{slot.astimezone(UTC):%Y%m%d-%H%M}"


def restore_from_name(server: str) -> str:
    """The MinecraftRestore that gives a new server its world (spec.restoreFrom)."""
    return f"{server}-restore-from"


def scratch_server_name(server: str, backup: str, request: str) -> str:
    """`<short>-verify-<hash>` (at most 52 characters): one scratch server per verification."""
    tail = f"-verify-{_digest(f'{backup}/{request}', 6)}"
    return f"{server[: MAX_SERVER_NAME - len(tail)].rstrip('-')}{tail}"
