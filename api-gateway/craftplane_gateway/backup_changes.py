"""Backup and restore changes for WebSocket clients (pure): watch events read, what a re-list
missed, the frames, and the per-object throttle."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass
from typing import Any, Final, Generic, TypeVar

from craftplane.contracts.backup import BACKUP_KIND, RESTORE_KIND
from craftplane.kube import Obj
from craftplane_gateway.backup_models import backup_out, restore_out
from craftplane_gateway.ws_frames import BackupFrame, Change, RestoreFrame

K = TypeVar("K", bound=Hashable)
T = TypeVar("T")

GONE: Final = 410
_CHANGES: Final[Mapping[str, Change]] = {
    "ADDED": Change.ADDED,
    "MODIFIED": Change.MODIFIED,
    "DELETED": Change.DELETED,
}


@dataclass(frozen=True)
class WatchEvent:
    """One line of a Kubernetes watch."""

    type: str
    """ADDED, MODIFIED, DELETED, BOOKMARK or ERROR."""
    object: Obj
    version: str | None
    """The resourceVersion to resume from after this event (None for an ERROR)."""

    @property
    def change(self) -> Change | None:
        return _CHANGES.get(self.type)

    @property
    def code(self) -> int:
        """An ERROR's HTTP code (410: the version is too old, list again)."""
        code = self.object.get("code")
        return code if isinstance(code, int) else 0

    @property
    def message(self) -> str:
        return str(self.object.get("message") or self.object.get("reason") or "watch error")


def parse_watch_line(line: str) -> WatchEvent:
    """A watch line; ValueError for one that is none (the stream is then read again)."""
    data = json.loads(line)
    if not isinstance(data, dict) or not isinstance(data.get("type"), str):
        raise ValueError("not a watch event")
    obj = data.get("object")
    if not isinstance(obj, dict):
        raise ValueError("a watch event without an object")
    version = None
    if data["type"] != "ERROR":
        version = (obj.get("metadata") or {}).get("resourceVersion")
    return WatchEvent(data["type"], obj, version if isinstance(version, str) else None)


def _name(obj: Obj) -> str:
    return str((obj.get("metadata") or {}).get("name") or "")


def _version(obj: Obj) -> str:
    return str((obj.get("metadata") or {}).get("resourceVersion") or "")


def relist_changes(known: Mapping[str, Obj], items: list[Obj]) -> list[tuple[Change, Obj]]:
    """What a fresh list says happened since the objects ``known`` were last seen (by name):
    new ones added, changed ones modified, missing ones deleted."""
    changes: list[tuple[Change, Obj]] = []
    listed = {_name(item): item for item in items}
    for name, item in listed.items():
        before = known.get(name)
        if before is None:
            changes.append((Change.ADDED, item))
        elif _version(before) != _version(item):
            changes.append((Change.MODIFIED, item))
    changes += [(Change.DELETED, obj) for name, obj in known.items() if name not in listed]
    return changes


def frame_for(kind: str, change: Change, obj: Obj) -> tuple[str, dict[str, Any]]:
    """(the server it concerns, the frame as JSON) for a change of a backup or a restore."""
    if kind == BACKUP_KIND:
        backup = backup_out(obj)
        frame: BackupFrame | RestoreFrame = BackupFrame(
            server=backup.server, change=change, backup=backup
        )
        server = backup.server
    elif kind == RESTORE_KIND:
        restore = restore_out(obj)
        frame = RestoreFrame(server=restore.server, change=change, restore=restore)
        server = restore.server
    else:
        raise ValueError(f"not a backup kind: {kind}")
    return server, frame.model_dump(mode="json", by_alias=True, exclude_none=True)


class Throttle(Generic[K, T]):
    """At most one item per key per ``interval`` seconds; a newer item replaces one held back,
    and every held item goes out once its key's interval has passed (the last state of an
    object is never lost, only delayed)."""

    def __init__(self, interval: float, clock: Callable[[], float]) -> None:
        self._interval = interval
        self._clock = clock
        self._sent: dict[K, float] = {}
        self._held: dict[K, T] = {}

    def __len__(self) -> int:
        return len(self._held)

    def offer(self, key: K, item: T) -> T | None:
        """``item`` when it may go now; None when it is held back."""
        now = self._clock()
        last = self._sent.get(key, -math.inf)
        if key not in self._held and now - last >= self._interval:
            self._sent[key] = now
            return item
        self._held[key] = item
        return None

    def due(self) -> list[T]:
        """The held items whose interval has passed, oldest key first."""
        now = self._clock()
        out: list[T] = []
        for key, item in list(self._held.items()):
            if now - self._sent.get(key, -math.inf) >= self._interval:
                del self._held[key]
                self._sent[key] = now
                out.append(item)
        # A key quiet for a whole interval is sent at once next time anyway: forget it, so
        # the throttle holds only the objects changing now.
        for key, at in list(self._sent.items()):
            if key not in self._held and now - at >= self._interval:
                del self._sent[key]
        return out
