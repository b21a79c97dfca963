"""What one projection transaction did to each server's row, for the callers to announce."""

from __future__ import annotations

from craftplane.contracts.events import Event
from craftplane_gateway.db.models import ProjectedChange, ServerRow
from craftplane_gateway.db.rules import Verdict, project


class Changes:
    """Collects, per server, how its row went in one transaction."""

    def __init__(self, before: dict[str, ServerRow]) -> None:
        self.before = before
        self.after = dict(before)
        self._statuses: dict[str, list[str]] = {}
        self._events: dict[str, list[str]] = {}

    def apply(self, event: Event, stream_seq: int | None) -> Verdict:
        previous = self.after.get(event.server.uid)
        verdict, row = project(previous, event, stream_seq)
        if verdict is Verdict.APPLY and row is not None:
            self.set(row, previous, event.id)
        return verdict

    def set(self, row: ServerRow, previous: ServerRow | None, event_id: str) -> None:
        self.after[row.uid] = row
        statuses = self._statuses.setdefault(row.uid, [])
        events = self._events.setdefault(row.uid, [])
        if previous is None or row.visible() != previous.visible():
            events.append(event_id)
        if previous is None or row.status != previous.status:
            statuses.append(row.status)

    def result(self) -> list[ProjectedChange]:
        changes = []
        for uid, row in self.after.items():
            old = self.before.get(uid)
            if old is not None and row.visible() == old.visible():
                continue
            changes.append(
                ProjectedChange(
                    server=row,
                    previous_status=old.status if old is not None else None,
                    statuses=tuple(self._statuses.get(uid, ())),
                    event_ids=tuple(self._events.get(uid, ())),
                )
            )
        return changes
