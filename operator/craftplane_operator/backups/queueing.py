"""Who goes first (pure): one backup or restore of a server at a time, oldest first, and no
copy while a prune holds the tenant's repository (nor a prune while anything else uses it).

Every reconcile of a waiting backup answers the same question from the same objects, so
two waiting at once agree on which starts: the running one, else the oldest pending.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Final

from craftplane.contracts.backup import (
    BACKUP_COMPONENTS,
    BACKUP_KIND,
    COMPONENT_PRUNE,
    LABEL_COMPONENT,
    VERIFY_REQUEST_ANNOTATION,
    BackupPhase,
    BackupTrigger,
    RestorePhase,
)
from craftplane_operator.backups.names import RETENTION_ANNOTATION
from craftplane_operator.backups.observe import annotations_of, deleting, job_active, meta, status

Obj = Mapping[str, Any]

ACTIVE_RESTORE: Final = frozenset(
    {RestorePhase.STOPPING.value, RestorePhase.RESTORING.value, RestorePhase.STARTING.value}
)
PENDING: Final = frozenset({None, "", BackupPhase.PENDING.value})
SETTLED: Final = frozenset({BackupPhase.COMPLETED.value, BackupPhase.FAILED.value})


def server_of(obj: Obj) -> str:
    return str((obj.get("spec") or {}).get("server") or "")


def is_active(obj: Obj) -> bool:
    """Holding the server now: a copy in progress (or its saves still to resume), a restore
    between its start and its end."""
    phase = status(obj).get("phase")
    if obj.get("kind", BACKUP_KIND) == BACKUP_KIND:
        running = phase == BackupPhase.RUNNING.value and not deleting(obj)
        return running or status(obj).get("savesPaused") is True
    return phase in ACTIVE_RESTORE


def _order(obj: Obj) -> tuple[str, str, str]:
    return (str(meta(obj).get("creationTimestamp") or ""), str(obj.get("kind")), meta(obj)["name"])


def describe(obj: Obj) -> str:
    phase = status(obj).get("phase") or "Pending"
    return f"{obj.get('kind')} {meta(obj)['name']} ({phase})"


def ahead_of(me: Obj, others: Iterable[Obj]) -> str | None:
    """The backup or restore of the same server that `me` (a pending one) waits for."""
    server, mine = server_of(me), (me.get("kind"), meta(me)["name"])
    same = [
        o for o in others if server_of(o) == server and (o.get("kind"), meta(o)["name"]) != mine
    ]
    for other in sorted(same, key=_order):
        if is_active(other):
            return describe(other)
    for other in sorted(same, key=_order):
        pending = status(other).get("phase") in PENDING and not deleting(other)
        if pending and _order(other) < _order(me):
            return describe(other)
    return None


def repository_busy(jobs: Iterable[Obj], mine: str, *, prune: bool) -> str | None:
    """The Job of the namespace (sharing its repository) that a new Job waits for: a prune
    waits for any other, anything else only for a prune (which locks it exclusively)."""
    for job in jobs:
        name = meta(job)["name"]
        if name == mine or not job_active(job):
            continue
        component = (meta(job).get("labels") or {}).get(LABEL_COMPONENT)
        if component not in BACKUP_COMPONENTS:
            continue
        if prune or component == COMPONENT_PRUNE:
            return f"Job {name} ({component}) is using the repository"
    return None


def needs_attention(obj: Obj, verify_policy: bool = False) -> bool:
    """Whether a backup or restore still has something to do (what a resync or a change of
    its server looks at again; the settled ones only wait for their next event)."""
    state = status(obj)
    if state.get("phase") not in SETTLED or deleting(obj) or state.get("savesPaused") is True:
        return True
    if (
        obj.get("kind", BACKUP_KIND) != BACKUP_KIND
        or state.get("phase") != BackupPhase.COMPLETED.value
    ):
        return False
    verification = state.get("verification")
    if verification is None:
        own = (obj.get("spec") or {}).get("verify")
        if own is True or (own is None and verify_policy):
            return True
    elif verification.get("state") == "Running":
        return True
    request = annotations_of(obj).get(VERIFY_REQUEST_ANNOTATION)
    if request and request != (verification or {}).get("requestedAt"):
        return True
    scheduled = state.get("trigger") == BackupTrigger.SCHEDULED.value
    return scheduled and annotations_of(obj).get(RETENTION_ANNOTATION) != "true"
