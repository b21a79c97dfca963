"""The gateway's own writes as timeline entries (pure): who asked for what, and when.

Every write the gateway makes for a caller (create, PATCH, delete, start, stop, restart, a
console command, a backup asked for, deleted, verified or restored) becomes a ``request.*``
entry in the server's timeline, beside the operator's events, naming the token's subject as
its actor. Only writes the Kubernetes API accepted are recorded; a console command is recorded
once it was sent over RCON, with its error when the server did not answer (the command may
have run all the same).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Final

from craftplane.contracts.spec import MinecraftServerSpec

# A console line in a message is cut here: the timeline is a history, not a transcript.
MAX_SHOWN_COMMAND: Final = 120
MAX_LISTED_PATHS: Final = 20
# Spec fields the operator applies without replacing the pod (allowlist and ops over RCON,
# lifecycle timings on the next stop, the backup schedule in its own Jobs); any other change
# restarts the server.
_SPEC: Final = MinecraftServerSpec.model_fields
# The camelCase names a merge patch spells them with ("stopped" is written as a key: the word
# is a status value elsewhere).
LIVE_FIELDS: Final = frozenset(
    str(_SPEC[name].alias)
    for name in ("allowlist", "ops", "allowlist_mode", "lifecycle", "backups", "hibernation")
) | {str(_SPEC["stopped"].alias)}


class RequestType(StrEnum):
    """The timeline types of the gateway's own writes."""

    CREATE = "request.create"
    UPDATE = "request.update"
    DELETE = "request.delete"
    START = "request.start"
    STOP = "request.stop"
    RESTART = "request.restart"
    CONSOLE = "request.console"
    BACKUP = "request.backup"
    BACKUP_DELETE = "request.backup_delete"
    VERIFY = "request.verify"
    RESTORE = "request.restore"


@dataclass(frozen=True)
class ServerRef:
    """The server a write was for (its CR's uid: timeline entries belong to one incarnation)."""

    uid: str
    tenant: str
    namespace: str
    name: str

    @classmethod
    def from_cr(cls, cr: Mapping[str, Any], tenant: str) -> ServerRef | None:
        """From a MinecraftServer as the API returned it; None without a uid."""
        meta = cr.get("metadata") or {}
        uid, namespace, name = meta.get("uid"), meta.get("namespace"), meta.get("name")
        if not (isinstance(uid, str) and uid and isinstance(name, str) and name):
            return None
        return cls(uid=uid, tenant=tenant, namespace=str(namespace or ""), name=name)


@dataclass(frozen=True)
class AuditEntry:
    """One ``request.*`` timeline entry."""

    server: ServerRef
    type: RequestType
    actor: str
    message: str
    time: datetime
    id: str = ""

    def __post_init__(self) -> None:
        if not self.id:
            object.__setattr__(self, "id", f"req-{uuid.uuid4()}")

    def frame(self) -> dict[str, Any]:
        """The WebSocket ``event`` frame live dashboards get: the entry, and the server by its
        identity only (a request changes nothing the server shows yet)."""
        return {
            "type": "event",
            "event": {
                "id": self.id,
                "type": self.type.value,
                "time": self.time.isoformat(),
                "actor": self.actor,
                "message": self.message,
            },
            "server": {
                "name": self.server.name,
                "namespace": self.server.namespace,
                "uid": self.server.uid,
            },
        }


def shown_command(command: str) -> str:
    """A command as a message quotes it: backticks, cut when long."""
    cut = command if len(command) <= MAX_SHOWN_COMMAND else command[: MAX_SHOWN_COMMAND - 1] + "…"
    quoted = cut.replace("`", "'")
    return f"`{quoted}`"


def console_message(command: str, error: str | None = None) -> str:
    if error is None:
        return f"ran {shown_command(command)}"
    return f"ran {shown_command(command)}; the server did not answer: {error}"


def changed_paths(before: Any, after: Any, prefix: str = "spec") -> list[str]:
    """The dotted paths where ``after`` differs from ``before``, sorted; objects are compared
    key by key, anything else (lists too) whole."""
    if isinstance(before, Mapping) and isinstance(after, Mapping):
        paths: list[str] = []
        for key in sorted(set(before) | set(after), key=str):
            paths += changed_paths(before.get(key), after.get(key), f"{prefix}.{key}")
        return paths
    return [] if before == after else [prefix]


def restarts_server(paths: Iterable[str]) -> bool:
    """Whether a change of these spec paths replaces the server's pod (the operator's rule
    as the dashboard explains it: anything but the fields applied live)."""
    for path in paths:
        parts = path.split(".")
        top = parts[1] if len(parts) > 1 and parts[0] == "spec" else parts[0]
        if top not in LIVE_FIELDS:
            return True
    return False


def update_message(paths: list[str]) -> str:
    if not paths:
        return "changed nothing"
    listed = paths[:MAX_LISTED_PATHS]
    more = len(paths) - len(listed)
    return "changed " + ", ".join(listed) + (f" and {more} more" if more else "")


def create_message(spec: Mapping[str, Any]) -> str:
    kind, version = spec.get("type"), spec.get("version")
    described = " ".join(str(part) for part in (kind, version) if part)
    return f"created ({described})" if described else "created"


MESSAGES: Final[Mapping[RequestType, str]] = {
    RequestType.DELETE: "deleted the server",
    RequestType.START: "asked to start",
    RequestType.STOP: "asked to stop",
    RequestType.RESTART: "asked to restart",
}


def backup_message(backup: str, verify: bool | None = None) -> str:
    if verify is None:
        return f"asked for backup {backup}"
    return f"asked for backup {backup} ({'verified' if verify else 'not verified'} by booting it)"


def backup_delete_message(backup: str) -> str:
    return f"deleted backup {backup}"


def verify_message(backup: str) -> str:
    return f"asked to verify backup {backup}"


def restore_message(backup: str, source: str, *, new_server: bool) -> str:
    if new_server:
        return f"created from backup {backup} of {source}"
    return f"asked to restore backup {backup} of {source}"
