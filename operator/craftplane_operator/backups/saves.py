"""save-on after save-off, whatever happened in between (pure).

A terminal or deleted backup whose status still says savesPaused gets `save-on` over RCON,
unless the server's process is no longer the one told `save-off`: a process that stopped or
restarted since saves as usual, so the flag is only cleared (and that recorded).
"""

from __future__ import annotations

from typing import Final

from craftplane.contracts.backup import BACKUP_KIND
from craftplane_operator.backups import observe as o
from craftplane_operator.backups.actions import (
    PatchStatus,
    Rcon,
    Step,
    record_both,
    status_step,
    wait,
)
from craftplane_operator.backups.seen import BackupSeen, JobView

RETRY_SECONDS: Final = 10.0


def log_tail(view: JobView) -> str:
    return "\n".join(view.log or ())


def resume_saves(seen: BackupSeen) -> Step | None:
    """save-on for a backup whose status still says savesPaused (a terminal or deleted one)."""
    meta = o.meta(seen.backup)
    namespace, name = meta["namespace"], meta["name"]
    server = str((seen.backup.get("spec") or {}).get("server") or "")
    status = o.status(seen.backup)
    if status.get("savesPaused") is not True:
        return None
    body, pod = seen.server.body, seen.server.pod
    if body is None or o.restarted_since(pod, o.parse_time(status.get("startedAt"))):
        message = (
            "saves are on again: the server's process stopped or restarted since save-off, "
            "and a new process saves as usual"
        )
        return status_step(
            seen.backup,
            {"savesPaused": False},
            *record_both(seen.backup, body, False, "SavesResumed", message),
        )
    failure = seen.failures.get("save-on")
    if failure is not None:
        since = (seen.now - failure.last).total_seconds()
        if since < RETRY_SECONDS:
            return wait(RETRY_SECONDS - since)
    resume = Rcon(namespace, server, ("save-on",), "save-on")
    done = PatchStatus(BACKUP_KIND, namespace, name, {"savesPaused": False})
    message = "save-on: the server saves its world again"
    return Step((resume, done, *record_both(seen.backup, body, False, "SavesResumed", message)))
