"""Projecting events (and the cluster's own view) into PostgreSQL, idempotently.

Every write here runs in one transaction per call, retried on serialization failure and
deadlock (see retry.py). The rule itself (what wins) is pure and lives in rules.py.

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

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, Final

from craftplane.contracts.events import (
    AnyEvent,
    Event,
    EventType,
    ServerRef,
    SyncEvent,
    encode,
    subject_for,
)
from craftplane.contracts.phases import ServerState
from craftplane.contracts.status import Phase
from craftplane_gateway.db.models import (
    COLUMNS,
    ClusterServer,
    ProjectedChange,
    ServerRow,
)
from craftplane_gateway.db.retry import DEFAULT_ATTEMPTS, Conn, RetryTransaction, in_transaction
from craftplane_gateway.db.rules import (
    Verdict,
    event_status,
    fold,
    parse_revision,
    project,
    unprojectable,
)

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

GONE_REASON: Final = "NotFoundInCluster"
_LIVE: Final = f"status <> '{ServerState.DELETED.value}'"

# -- SQL ----------------------------------------------------------------------------------------

_EVENT_COLUMNS: Final = (
    ("stream_seq", "bigint"),
    ("event_id", "text"),
    ("uid", "text"),
    ("tenant", "text"),
    ("namespace", "text"),
    ("name", "text"),
    ("type", "text"),
    ("phase", "text"),
    ("status", "text"),
    ("generation", "bigint"),
    ("revision", "text"),
    ("players_online", "bigint"),
    ("players_max", "bigint"),
    ("address", "text"),
    ("port", "integer"),
    ("reason", "text"),
    ("message", "text"),
    ("event_time", "timestamptz"),
)

_SERVER_TYPES: Final = {
    "generation": "bigint",
    "spec_generation": "bigint",
    "port": "integer",
    "players_online": "bigint",
    "players_max": "bigint",
    "created_at": "timestamptz",
    "updated_at": "timestamptz",
    "deleted_at": "timestamptz",
    "last_event_time": "timestamptz",
    "last_revision": "bigint",
    "last_stream_seq": "bigint",
}
_SERVER_COLUMNS: Final = tuple((name, _SERVER_TYPES.get(name, "text")) for name in COLUMNS)


def _unnest(columns: Sequence[tuple[str, str]]) -> str:
    arrays = ", ".join(f"${i}::{sql_type}[]" for i, (_, sql_type) in enumerate(columns, 1))
    names = ", ".join(name for name, _ in columns)
    return f"unnest({arrays}) AS v({names})"


_SELECT_COLUMNS: Final = ", ".join(COLUMNS)

_INSERT_EVENTS: Final = f"""
INSERT INTO server_events ({", ".join(name for name, _ in _EVENT_COLUMNS)})
SELECT * FROM {_unnest(_EVENT_COLUMNS)}
ON CONFLICT (event_id) DO NOTHING
RETURNING event_id
"""

_LOCK_ROWS: Final = f"""
SELECT {_SELECT_COLUMNS} FROM servers WHERE uid = ANY($1::text[]) ORDER BY uid FOR UPDATE
"""

_INSERT_ROWS: Final = f"""
INSERT INTO servers ({_SELECT_COLUMNS})
SELECT * FROM {_unnest(_SERVER_COLUMNS)}
ON CONFLICT (uid) DO NOTHING
RETURNING uid
"""

_UPDATE_ROWS: Final = f"""
UPDATE servers SET {", ".join(f"{name} = v.{name}" for name in COLUMNS if name != "uid")}
FROM {_unnest(_SERVER_COLUMNS)}
WHERE servers.uid = v.uid
"""

_INSERT_DEAD_LETTER: Final = """
INSERT INTO dead_letters (stream_seq, subject, payload, error) VALUES ($1, $2, $3, $4)
ON CONFLICT (stream_seq) DO NOTHING
RETURNING id
"""

_COMPLETE_SYNC: Final = """
UPDATE sync_log SET completed_at = $2 WHERE correlation_id = $1 AND completed_at IS NULL
"""

# -- helpers ------------------------------------------------------------------------------------


def _columns(rows: Sequence[Sequence[Any]], width: int) -> list[list[Any]]:
    return [[row[i] for row in rows] for i in range(width)]


def _timeline_values(stream_seq: int | None, event: Event) -> tuple[Any, ...]:
    ref = event.server
    return (
        stream_seq, event.id, ref.uid, ref.tenant, ref.namespace, ref.name, event.type.value,
        event.phase.value if event.phase else None, event_status(event), event.generation,
        event.revision, event.players_online, event.players_max, event.address, event.port,
        event.reason, event.message, event.time,
    )  # fmt: skip


async def _record_timeline(conn: Conn, items: Sequence[tuple[int | None, Event]]) -> set[str]:
    """Insert events into the timeline; the ids of those that were not there yet."""
    if not items:
        return set()
    # One lock order for every transaction: fewer deadlocks between overlapping batches.
    values = sorted((_timeline_values(seq, event) for seq, event in items), key=lambda v: v[1])
    records = await conn.fetch(_INSERT_EVENTS, *_columns(values, len(_EVENT_COLUMNS)))
    return {record["event_id"] for record in records}


async def _lock_rows(conn: Conn, uids: Iterable[str]) -> dict[str, ServerRow]:
    records = await conn.fetch(_LOCK_ROWS, sorted(set(uids)))
    return {record["uid"]: ServerRow.from_record(record) for record in records}


def _row_values(row: ServerRow) -> tuple[Any, ...]:
    return tuple(getattr(row, name) for name in COLUMNS)


async def _write_rows(
    conn: Conn, before: dict[str, ServerRow], after: dict[str, ServerRow]
) -> None:
    inserts = [_row_values(row) for uid, row in after.items() if uid not in before]
    updates = [
        _row_values(row) for uid, row in after.items() if uid in before and row != before[uid]
    ]
    if inserts:
        created = await conn.fetch(_INSERT_ROWS, *_columns(inserts, len(COLUMNS)))
        if len(created) != len(inserts):
            raise RetryTransaction("a concurrent transaction created some of these servers")
    if updates:
        await conn.execute(_UPDATE_ROWS, *_columns(updates, len(COLUMNS)))


class _Changes:
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


# -- events -------------------------------------------------------------------------------------


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
            await _insert_dead_letter(c, bad_seq, subject_for(bad), encode(bad), problem)
        for completion in completions:
            await c.execute(_COMPLETE_SYNC, completion.correlation_id, completion.time)
        new_ids = await _record_timeline(c, events)
        fresh = [(seq, event) for seq, event in events if event.id in new_ids]
        if not fresh:
            return []
        changes = _Changes(await _lock_rows(c, (event.server.uid for _, event in fresh)))
        for stream_seq, event in fresh:
            changes.apply(event, stream_seq)
        await _write_rows(c, changes.before, changes.after)
        return changes.result()

    return await in_transaction(conn, work, attempts=attempts)


def _clean(text: str) -> str:
    # PostgreSQL text cannot hold NUL.
    return text.replace("\x00", "\\u0000")


async def _insert_dead_letter(
    conn: Conn, stream_seq: int | None, subject: str, payload: bytes, error: str
) -> bool:
    recorded = await conn.fetchval(
        _INSERT_DEAD_LETTER, stream_seq, _clean(subject), bytes(payload), _clean(error)
    )
    return recorded is not None


async def record_dead_letter(
    conn: Conn, seq: int | None, subject: str, payload: bytes, error: str
) -> bool:
    """Keep a message that cannot be projected; False if that stream sequence is already kept."""
    return await _insert_dead_letter(conn, seq, subject, payload, error)


# -- drift reconciliation -----------------------------------------------------------------------


async def record_sync_requested(
    conn: Conn,
    correlation_id: str,
    scope: str,
    servers: int,
    *,
    requested_at: datetime | None = None,
) -> int:
    """Log a published ``sync.required`` (its event id is the correlation id); the entry's id."""
    value = await conn.fetchval(
        """
        INSERT INTO sync_log (correlation_id, scope, servers, requested_at)
        VALUES ($1, $2, $3, $4)
        ON CONFLICT (correlation_id) DO UPDATE SET scope = excluded.scope
        RETURNING id
        """,
        correlation_id,
        scope,
        servers,
        requested_at or datetime.now(UTC),
    )
    return int(value)


async def complete_sync(
    conn: Conn, correlation_id: str, *, completed_at: datetime | None = None
) -> bool:
    """Mark a sync request answered (apply_batch does it for ``sync.complete`` events)."""
    result = await conn.execute(_COMPLETE_SYNC, correlation_id, completed_at or datetime.now(UTC))
    return result.endswith(" 1")


def _newer(row: ServerRow | None, event: Event) -> bool:
    # The same resourceVersion is the same state, whenever it was looked at.
    revision = parse_revision(event.revision)
    if row is not None and revision is not None and revision == row.last_revision:
        return False
    return project(row, event, None)[0] is Verdict.APPLY


async def upsert_from_cluster(
    conn: Conn,
    rows: Iterable[ClusterServer | Mapping[str, Any]],
    *,
    observed_at: datetime | None = None,
    attempts: int = DEFAULT_ATTEMPTS,
) -> list[ProjectedChange]:
    """Bring rows up to the cluster's view: create missing ones, update older ones.

    Same never-regress rule as events (the cluster view is ordered by ``revision``, else
    by ``observed_at``); deleted rows stay deleted. A newer state is also recorded in the
    timeline, with the id the operator's event for it has, so that event is a duplicate
    when it arrives later (NATS back after an outage).
    """
    at = observed_at or datetime.now(UTC)
    servers = [ClusterServer.coerce(row) for row in rows]
    latest = {server.uid: server for server in servers if server.uid}
    if not latest:
        return []

    async def work(c: Conn) -> list[ProjectedChange]:
        changes = _Changes(await _lock_rows(c, latest))
        candidates: dict[str, Event] = {}
        for uid, server in latest.items():
            previous = changes.after.get(uid)
            # The contracts' mapping, as the operator's: a state seen both ways has one id.
            spec = server.spec_event(
                EventType.SERVER_CREATED if previous is None else EventType.SERVER_UPDATED, time=at
            )
            if previous is None or (
                not previous.deleted
                and (server.spec_generation or 0) >= (previous.spec_generation or 0)
                and (previous.server_type, previous.version, previous.spec_generation)
                != (server.server_type, server.version, server.spec_generation)
            ):
                changes.apply(spec, None)
            state = server.phase_event(time=at)
            if state is not None:
                candidates[uid] = state
        # Only states that win and show something new become timeline entries; a newer
        # revision with nothing new to show (metadata-only updates) just moves the row's
        # order forward. An entry already there means the row took that state in already.
        winning: list[tuple[int | None, Event]] = []
        for uid, event in candidates.items():
            previous = changes.after.get(uid)
            if not _newer(previous, event):
                continue
            quiet = fold(previous, event, None) if previous is not None else None
            if previous is not None and quiet is not None and quiet.visible() == previous.visible():
                changes.after[uid] = replace(quiet, last_event_id=previous.last_event_id)
            else:
                winning.append((None, event))
        new_ids = await _record_timeline(c, winning)
        for _, event in winning:
            if event.id in new_ids:
                changes.apply(event, None)
        await _write_rows(c, changes.before, changes.after)
        return changes.result()

    return await in_transaction(conn, work, attempts=attempts)


async def mark_deleted_missing(
    conn: Conn,
    namespaces: Collection[str],
    present_uids: Collection[str],
    *,
    listed_at: datetime | None = None,
    list_revision: int | None = None,
    attempts: int = DEFAULT_ATTEMPTS,
) -> list[ProjectedChange]:
    """Mark deleted the live rows in ``namespaces`` whose uid is not in ``present_uids``.

    ``namespaces`` are those the cluster listing covered. Pass ``listed_at`` (taken just
    before listing) and/or ``list_revision`` (the list's resourceVersion) to spare rows that
    appeared or changed after the listing was taken. Returns the rows marked deleted (their
    uids: ``[c.uid for c in ...]``); each also gets a ``server.deleted`` timeline entry with
    reason NotFoundInCluster.
    """
    if not namespaces:
        return []
    query = f"""
        SELECT {_SELECT_COLUMNS} FROM servers
        WHERE namespace = ANY($1::text[]) AND {_LIVE} AND NOT (uid = ANY($2::text[]))
    """
    args: list[Any] = [sorted(set(namespaces)), sorted(set(present_uids))]
    if listed_at is not None:
        args.append(listed_at)
        query += f" AND created_at < ${len(args)}"
    if list_revision is not None:
        args.append(list_revision)
        query += f" AND (last_revision IS NULL OR last_revision <= ${len(args)})"
    query += " ORDER BY uid FOR UPDATE"

    async def work(c: Conn) -> list[ProjectedChange]:
        gone = {
            record["uid"]: ServerRow.from_record(record) for record in await c.fetch(query, *args)
        }
        if not gone:
            return []
        at = datetime.now(UTC)
        changes = _Changes(gone)
        events = []
        for uid, row in gone.items():
            event = Event(
                id=f"gone:{uid}",
                type=EventType.SERVER_DELETED,
                server=ServerRef(
                    uid=uid, namespace=row.namespace, name=row.name, tenant=row.tenant
                ),
                phase=Phase.TERMINATING,
                generation=row.generation,
                reason=GONE_REASON,
                message="the MinecraftServer is no longer in the cluster",
                time=max(at, row.updated_at),
            )
            events.append((None, event))
            changes.set(fold(row, event, None), row, event.id)
        await _record_timeline(c, events)
        await _write_rows(c, changes.before, changes.after)
        return changes.result()

    return await in_transaction(conn, work, attempts=attempts)
