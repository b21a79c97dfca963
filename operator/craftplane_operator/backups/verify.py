"""Verifying a completed backup by booting it (pure).

A scratch MinecraftServer with the source server's software, resources and placement (not
its allowlist, ops or exposure: a ClusterIP Service only) starts from the backup through
spec.restoreFrom. Its restore runs `restic restore --verify` (every file checked against the
snapshot); the backup is Verified once that restore completed, which it does only when the
scratch server reached Running. A failed restore (a corrupted pack: "ciphertext verification
failed") or no Running server within the deadline fails the verification. The scratch server
is deleted either way; it is owned by the backup, so it never outlives it.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any, Final

from craftplane.contracts import names
from craftplane.contracts.backup import (
    BACKUP_KIND,
    LABEL_VERIFIES,
    VERIFY_REQUEST_ANNOTATION,
    BackupPhase,
    RestorePhase,
    VerificationState,
)
from craftplane_operator.backups import observe as o
from craftplane_operator.backups.actions import (
    Create,
    Delete,
    PatchStatus,
    Step,
    record_both,
    wait,
)
from craftplane_operator.backups.jobs import owner_reference
from craftplane_operator.backups.names import (
    VERIFIES_ANNOTATION,
    label_value,
    scratch_server_name,
)
from craftplane_operator.backups.seen import BackupSeen

# What of the source server's spec the scratch server gets: what it takes to load the world.
COPIED_FIELDS: Final = (
    "type",
    "version",
    "image",
    "resources",
    "properties",
    "env",
    "placement",
    "scheduling",
)
TERMINAL: Final = (VerificationState.VERIFIED.value, VerificationState.FAILED.value)
POLL_SECONDS: Final = 30.0


def scratch_spec(
    source: Mapping[str, Any] | None, backup_status: Mapping[str, Any], backup: str
) -> dict[str, Any]:
    """The scratch server's spec: the source's (or, the source gone, the backup's own record
    of its type and version), restored from `backup`, unexposed, its volume deleted with it."""
    spec: dict[str, Any] = {}
    storage: dict[str, Any] = {}
    if source is not None:
        spec = {key: copy.deepcopy(source[key]) for key in COPIED_FIELDS if key in source}
        storage = dict(source.get("storage") or {})
    else:
        for key, field in (("type", "serverType"), ("version", "gameVersion")):
            if backup_status.get(field):
                spec[key] = backup_status[field]
    storage["retainOnDelete"] = False
    spec.update(
        eula=True,
        storage=storage,
        service={"type": "ClusterIP"},
        restoreFrom={"backup": backup},
    )
    return spec


def scratch_server(seen: BackupSeen, name: str) -> dict[str, Any]:
    backup = seen.backup
    meta = o.meta(backup)
    source = seen.server.body.get("spec") if seen.server.body is not None else None
    return {
        "apiVersion": names.API_VERSION,
        "kind": names.KIND,
        "metadata": {
            "name": name,
            "namespace": meta["namespace"],
            "labels": {LABEL_VERIFIES: label_value(meta["name"])},
            "annotations": {VERIFIES_ANNOTATION: meta["name"]},
            "ownerReferences": [owner_reference(backup)],
        },
        "spec": scratch_spec(source, o.status(backup), meta["name"]),
    }


def _policy(seen: BackupSeen) -> bool:
    own = (seen.backup.get("spec") or {}).get("verify")
    if isinstance(own, bool):
        return own
    spec = seen.server.spec
    return spec is not None and spec.backups.verify


def requested(seen: BackupSeen) -> str | None:
    """The verification to start now: the request's value ("" for the policy's), or None."""
    verification = o.status(seen.backup).get("verification")
    request = (o.annotations_of(seen.backup).get(VERIFY_REQUEST_ANNOTATION) or "").strip()
    if verification is None:
        if request:
            return request
        return "" if _policy(seen) else None
    if (
        request
        and request != verification.get("requestedAt")
        and verification.get("state") in TERMINAL
    ):
        return request
    return None


def plan_verification(seen: BackupSeen) -> Step | None:
    status = o.status(seen.backup)
    if status.get("phase") != BackupPhase.COMPLETED.value:
        return None
    request = requested(seen)
    if request is not None:
        return _start(seen, request)
    verification = status.get("verification") or {}
    if verification.get("state") == VerificationState.RUNNING.value:
        return _running(seen, verification)
    if (
        verification.get("state") in TERMINAL
        and seen.scratch is not None
        and not o.deleting(seen.scratch)
    ):
        return Step((_delete(seen),))
    return None


def _start(seen: BackupSeen, request: str) -> Step:
    meta = o.meta(seen.backup)
    server = str((seen.backup.get("spec") or {}).get("server") or "")
    name = scratch_server_name(server, meta["name"], request or str(meta.get("uid")))
    verification = {
        "state": VerificationState.RUNNING.value,
        "reason": "Booting",
        "message": f"booting the backup in scratch server {name}",
        "requestedAt": request or None,
        "scratchServer": name,
        "at": None,
    }
    patch = PatchStatus(
        BACKUP_KIND, meta["namespace"], meta["name"], {"verification": verification}
    )
    message = f"verifying: scratch server {name} starts from this backup"
    events = record_both(seen.backup, seen.server.body, False, "VerificationStarted", message)
    return Step((patch, Create(scratch_server(seen, name), "verify"), *events))


def _delete(seen: BackupSeen) -> Delete:
    meta = o.meta(seen.scratch)
    return Delete(names.KIND, meta["namespace"], meta["name"])


def _end(
    seen: BackupSeen, verification: Mapping[str, Any], state: str, reason: str, message: str
) -> Step:
    meta = o.meta(seen.backup)
    ended = {
        **verification,
        "state": state,
        "reason": reason,
        "message": o.shorten(message, 4000),
        "at": o.rfc3339(seen.now),
    }
    patch = PatchStatus(BACKUP_KIND, meta["namespace"], meta["name"], {"verification": ended})
    failed = state == VerificationState.FAILED.value
    event = "VerificationFailed" if failed else "Verified"
    events = record_both(seen.backup, seen.server.body, failed, event, f"{reason}: {message}")
    cleanup = (_delete(seen),) if seen.scratch is not None and not o.deleting(seen.scratch) else ()
    return Step((patch, *cleanup, *events))


def _running(seen: BackupSeen, verification: Mapping[str, Any]) -> Step:
    name = str(verification.get("scratchServer") or "")
    scratch, restore = seen.scratch, seen.scratch_restore
    failed = VerificationState.FAILED.value
    if scratch is None:
        refused = seen.refusals.get("verify")
        if refused is not None:
            return _end(
                seen,
                verification,
                failed,
                "ScratchRefused",
                f"the scratch server {name} was refused: {refused}",
            )
        return Step((Create(scratch_server(seen, name), "verify"),))
    phase = o.status(restore).get("phase")
    if phase == RestorePhase.FAILED.value:
        reason = str(o.status(restore).get("reason") or "RestoreFailed")
        detail = o.status(restore).get("message") or "the restore failed"
        return _end(
            seen, verification, failed, reason, f"restoring the backup into {name} failed: {detail}"
        )
    if phase == RestorePhase.COMPLETED.value:
        message = (
            f"scratch server {name} restored the snapshot (every file verified against it) and "
            "reached Running"
        )
        return _end(seen, verification, VerificationState.VERIFIED.value, "Verified", message)
    created = o.parse_time(o.meta(scratch).get("creationTimestamp")) or seen.now
    deadline = seen.config.verify_deadline
    elapsed = seen.now - created
    if elapsed > deadline:
        server_message = (
            o.status(scratch).get("message") or o.status(scratch).get("phase") or "no status"
        )
        detail = f"restore {phase or 'not started'}: {o.status(restore).get('message') or '-'}"
        message = f"scratch server {name} did not restore and reach Running within {deadline} ({server_message}; {detail})"
        return _end(seen, verification, failed, "VerifyTimedOut", message)
    return wait(min(POLL_SECONDS, (deadline - elapsed).total_seconds() + 1))
