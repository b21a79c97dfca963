"""When a server is held stopped for a restore (pure), for the server's own planning.

Two holds: RESTORE_HOLD_ANNOTATION, set by a running MinecraftRestore while it replaces the
world, and spec.restoreFrom on a server that never ran, until its world came from the backup
(status.restoredFrom). A held server is planned exactly as if spec.stopped were true, so the
day-2 stop path (countdown, save, SIGTERM) runs and no pod starts on a world being replaced.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any, Final

from craftplane.contracts.backup import RESTORE_HOLD_ANNOTATION
from craftplane.contracts.status import Phase
from craftplane_operator.backups.names import RESTORED_FROM_ANNOTATION
from craftplane_operator.builders.context import ServerContext
from craftplane_operator.phase import Derived

HELD_REASON: Final = "RestoreInProgress"


def awaiting_restore_from(
    body: Mapping[str, Any], pvc: Mapping[str, Any] | None, statefulset: Mapping[str, Any] | None
) -> str | None:
    """The backup spec.restoreFrom still has to give this server its world, or None.

    Only for a server that never ran: its world volume does not exist or is the one the
    operator made for this restore, and its StatefulSet (if any) never asked for a pod."""
    wanted = ((body.get("spec") or {}).get("restoreFrom") or {}).get("backup")
    if not wanted or (body.get("status") or {}).get("restoredFrom") == wanted:
        return None
    if pvc is not None:
        made_for = ((pvc.get("metadata") or {}).get("annotations") or {}).get(
            RESTORED_FROM_ANNOTATION
        )
        if made_for != wanted:
            return None  # a world of its own: restoreFrom is ignored once the server ran
    if statefulset is not None and int((statefulset.get("spec") or {}).get("replicas") or 0) > 0:
        return None
    return str(wanted)


def hold_reason(
    body: Mapping[str, Any], pvc: Mapping[str, Any] | None, statefulset: Mapping[str, Any] | None
) -> str | None:
    """Why the server is held stopped, for its status message, or None."""
    holder = ((body.get("metadata") or {}).get("annotations") or {}).get(RESTORE_HOLD_ANNOTATION)
    if holder:
        return f"held stopped for restore {holder}: its world is being replaced"
    backup = awaiting_restore_from(body, pvc, statefulset)
    if backup is not None:
        return f"held stopped until its world is restored from backup {backup} (spec.restoreFrom)"
    return None


def held(server: ServerContext, reason: str | None) -> ServerContext:
    """The server as its planning sees it: stopped while held."""
    if reason is None:
        return server
    spec = server.spec.model_copy(update={"stopped": True})
    return replace(server, spec=spec, held=reason)


def describe(derived: Derived, server: ServerContext) -> Derived:
    """A held server's phase says why it is stopped."""
    if server.held is None or derived.phase is not Phase.STOPPED:
        return derived
    message = f"{server.held[0].upper()}{server.held[1:]}. {derived.message}"
    return replace(derived, reason=HELD_REASON, message=message)
