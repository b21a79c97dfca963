"""Backup and restore changes for WebSocket clients (pure): what a watch event or a re-list
says changed, the frames, and the per-object throttle."""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Mapping
from typing import Any, Final, Generic, TypeVar

from craftplane.contracts.backup import BACKUP_KIND, RESTORE_KIND
from craftplane.kube import Obj
from craftplane_gateway.backup_models import backup_out, restore_out
from craftplane_gateway.ws_frames import BackupFrame, Change, RestoreFrame

K = TypeVar("K", bound=Hashable)
T = TypeVar("T")

_CHANGES: Final[Mapping[str, Change]] = {
    "ADDED": Change.ADDED,
    "MODIFIED": Change.MODIFIED,
    "DELETED": Change.DELETED,
}


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


class Mirror:
    """The objects of one kind in one namespace as last seen, by name: what each list or
    watch event changes, as the changes to forward."""

    def __init__(self) -> None:
        self.known: dict[str, Obj] = {}
        self._listed = False

    def listed(self, items: list[Obj]) -> list[tuple[Change, Obj]]:
        """After a list: nothing for the first one, what changed unseen for a re-list."""
        changes = relist_changes(self.known, items) if self._listed else []
        self._listed = True
        self.known = {str(item["metadata"]["name"]): item for item in items if item.get("metadata")}
        return changes

    def event(self, event_type: str, obj: Obj) -> Change | None:
        """The change a watch event of ``event_type`` says (None: not one to forward)."""
        change = _CHANGES.get(event_type)
        if change is Change.DELETED:
            self.known.pop(_name(obj), None)
        elif change is not None:
            self.known[_name(obj)] = obj
        return change


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
