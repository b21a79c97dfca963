"""Projecting events (and the cluster's own view) into PostgreSQL, idempotently.

Every write here runs in one transaction per call, retried on serialization failure and
deadlock (see retry.py). The rule itself (what wins) is pure and lives in rules.py; the SQL
is in projection_sql.py and the cluster's view (drift reconciliation) in projection_drift.py,
re-exported here so callers need only this module.

How a batch is applied:

1. Its server events are inserted into the timeline (``server_events``) with
   ``ON CONFLICT (event_id) DO NOTHING``: an event already there (a redelivery, or the same
   state seen by polling) is a duplicate and changes nothing else.
2. The rows of the servers concerned are locked (``SELECT ... FOR UPDATE``, by uid order).
3. The new events are folded into the rows in the batch's order with rules.project().
4. Changed rows are written back; rows created concurrently by someone else make the
   transaction start over.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from craftplane.contracts.events import AnyEvent, Event, EventType, SyncEvent, encode, subject_for
from craftplane_gateway.db.models import ClusterServer, ProjectedChange
from craftplane_gateway.db.projection_changes import Changes
from craftplane_gateway.db.projection_drift import (
    GONE_REASON as GONE_REASON,
)
from craftplane_gateway.db.projection_drift import (
    complete_sync,
    mark_deleted_missing,
    record_sync_requested,
    upsert_from_cluster,
)
from craftplane_gateway.db.projection_sql import (
    COMPLETE_SYNC,
    EVENT_COLUMNS,
    insert_dead_letter,
    lock_rows,
    record_timeline,
    row_values,
    timeline_values,
    write_rows,
)
from craftplane_gateway.db.retry import DEFAULT_ATTEMPTS, Conn, in_transaction
from craftplane_gateway.db.rules import unprojectable

__all__ = [
    "ClusterServer",
    "ProjectedChange",
    "apply_batch",
    "complete_sync",
    "mark_deleted_missing",
    "record_dead_letter",
    "record_sync_requested",
    "upsert_from_cluster",
]

# bench/projection.py builds its COPY baseline from the very columns and values written here.
_EVENT_COLUMNS: Final = EVENT_COLUMNS
_timeline_values = timeline_values
_row_values = row_values


async def apply_batch(
    conn: Conn,
    items: Sequence[tuple[int, AnyEvent]],
    *,
    attempts: int = DEFAULT_ATTEMPTS,
) -> list[ProjectedChange]:
    """Project ``(stream_seq, event)`` pairs in one transaction; what changed, per server.

    Idempotent and never regressing (see rules.py). ``sync.*`` events change no server row
    (a ``sync.complete`` completes its ``sync_log`` entry). An event that cannot be stored
    (no uid, a NUL character, a number out of range) is written to ``dead_letters`` in the
    same transaction and skipped, so one bad event never blocks a batch.
    ``conn`` must not be in a transaction; raises asyncpg errors when the database fails
    (after retrying serialization failures and deadlocks ``attempts`` times).
    """
    events: list[tuple[int | None, Event]] = []
    completions: list[SyncEvent] = []
    rejects: list[tuple[int, Event, str]] = []
    seen: set[str] = set()
    for stream_seq, event in items:
        if isinstance(event, SyncEvent):
            if event.type is EventType.SYNC_COMPLETE and event.correlation_id:
                completions.append(event)
            continue
        problem = unprojectable(event)
        if problem is not None:
            rejects.append((stream_seq, event, problem))
        elif event.id not in seen:
            seen.add(event.id)
            events.append((stream_seq, event))
    if not (events or completions or rejects):
        return []

    async def work(c: Conn) -> list[ProjectedChange]:
        for bad_seq, bad, problem in rejects:
            await insert_dead_letter(c, bad_seq, subject_for(bad), encode(bad), problem)
        for completion in completions:
            await c.execute(COMPLETE_SYNC, completion.correlation_id, completion.time)
        new_ids = await record_timeline(c, events)
        fresh = [(seq, event) for seq, event in events if event.id in new_ids]
        if not fresh:
            return []
        changes = Changes(await lock_rows(c, (event.server.uid for _, event in fresh)))
        for stream_seq, event in fresh:
            changes.apply(event, stream_seq)
        await write_rows(c, changes.before, changes.after)
        return changes.result()

    return await in_transaction(conn, work, attempts=attempts)


async def record_dead_letter(
    conn: Conn, seq: int | None, subject: str, payload: bytes, error: str
) -> bool:
    """Keep a message that cannot be projected; False if that stream sequence is already kept."""
    return await insert_dead_letter(conn, seq, subject, payload, error)
