"""Drift reconciliation: bringing the projection up to what the cluster itself shows.

The cluster's view goes through the same never-regress rule as events (rules.py), and each
call is one transaction retried like the event path (retry.py).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, Final

from craftplane.contracts.events import Event, EventType, ServerRef
from craftplane.contracts.phases import ServerState
from craftplane.contracts.status import Phase
from craftplane_gateway.db.models import ClusterServer, ProjectedChange, ServerRow
from craftplane_gateway.db.projection_changes import Changes
from craftplane_gateway.db.projection_sql import (
    COMPLETE_SYNC,
    SELECT_COLUMNS,
    lock_rows,
    record_timeline,
    write_rows,
)
from craftplane_gateway.db.retry import DEFAULT_ATTEMPTS, Conn, in_transaction
from craftplane_gateway.db.rules import Verdict, fold, parse_revision, project

GONE_REASON: Final = "NotFoundInCluster"
_LIVE: Final = f"status <> '{ServerState.DELETED.value}'"


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
    result = await conn.execute(COMPLETE_SYNC, correlation_id, completed_at or datetime.now(UTC))
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
        changes = Changes(await lock_rows(c, latest))
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
        new_ids = await record_timeline(c, winning)
        for _, event in winning:
            if event.id in new_ids:
                changes.apply(event, None)
        await write_rows(c, changes.before, changes.after)
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
        SELECT {SELECT_COLUMNS} FROM servers
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
        changes = Changes(gone)
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
        await record_timeline(c, events)
        await write_rows(c, changes.before, changes.after)
        return changes.result()

    return await in_transaction(conn, work, attempts=attempts)
