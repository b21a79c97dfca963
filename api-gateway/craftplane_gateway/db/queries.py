"""Reads of the projection. Every server query is tenant-scoped: another tenant's server is
simply not found."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Collection
from dataclasses import fields
from typing import Any, Final

from craftplane.contracts.phases import ServerState
from craftplane_gateway.db.models import (
    COLUMNS,
    LIVE_STATUSES,
    DeadLetter,
    PlayerCount,
    ServerRow,
    TimelineEntry,
)
from craftplane_gateway.db.retry import Conn

MAX_LIMIT: Final = 500
_SELECT: Final = f"SELECT {', '.join(COLUMNS)} FROM servers"
# Inlined as SQL literals (not parameters) so the statements stay as they were.
_DELETED: Final = f"'{ServerState.DELETED.value}'"
_LIVE: Final = f"status <> {_DELETED}"
_TIMELINE_COLUMNS: Final = ", ".join(f"e.{f.name}" for f in fields(TimelineEntry))


# Three names of at most 253 characters, base64-encoded, with room to spare.
MAX_CURSOR_LENGTH: Final = 2048


class InvalidCursor(ValueError):
    """A pagination cursor that this code did not hand out."""


def encode_cursor(row: ServerRow) -> str:
    raw = json.dumps([row.namespace, row.name, row.uid], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[str, str, str]:
    if len(cursor) > MAX_CURSOR_LENGTH:
        raise InvalidCursor("not a cursor from this API")
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        value = json.loads(raw)
    except (binascii.Error, ValueError) as exc:
        raise InvalidCursor("not a cursor from this API") from exc
    # A NUL is never in a name this API issued, and PostgreSQL text cannot hold one.
    if not (
        isinstance(value, list)
        and len(value) == 3
        and all(isinstance(v, str) and "\x00" not in v for v in value)
    ):
        raise InvalidCursor("not a cursor from this API")
    return value[0], value[1], value[2]


def _limit(limit: int) -> int:
    return max(1, min(int(limit), MAX_LIMIT))


async def list_servers(
    conn: Conn,
    tenant: str,
    *,
    status: str | Collection[str] | None = None,
    limit: int = 50,
    cursor: str | None = None,
    include_deleted: bool = False,
    namespace: str | None = None,
) -> tuple[list[ServerRow], str | None]:
    """A page of the tenant's servers ordered by (namespace, name, uid), and the cursor of the
    next page (None on the last). Deleted servers are left out unless ``include_deleted`` or
    ``status`` asks for them. Raises InvalidCursor for a cursor it did not make."""
    wanted = [status] if isinstance(status, str) else list(status) if status is not None else None
    conditions = ["tenant = $1"]
    args: list[Any] = [tenant]
    if wanted is not None:
        args.append(wanted)
        conditions.append(f"status = ANY(${len(args)}::text[])")
    if not include_deleted and not (wanted and ServerState.DELETED.value in wanted):
        conditions.append(_LIVE)
    if namespace is not None:
        args.append(namespace)
        conditions.append(f"namespace = ${len(args)}")
    if cursor:
        args.extend(decode_cursor(cursor))
        n = len(args)
        conditions.append(f"(namespace, name, uid) > (${n - 2}, ${n - 1}, ${n})")
    page = _limit(limit)
    args.append(page + 1)
    query = (
        f"{_SELECT} WHERE {' AND '.join(conditions)}"
        f" ORDER BY namespace, name, uid LIMIT ${len(args)}"
    )
    rows = [ServerRow.from_record(r) for r in await conn.fetch(query, *args)]
    if len(rows) > page:
        rows = rows[:page]
        return rows, encode_cursor(rows[-1])
    return rows, None


async def get_server(
    conn: Conn,
    tenant: str,
    name: str,
    *,
    namespace: str | None = None,
    include_deleted: bool = False,
) -> ServerRow | None:
    """The tenant's server called ``name``: the live one when the name was re-used (newest
    first); a deleted one only with ``include_deleted``. None for another tenant's server."""
    args: list[Any] = [tenant, name]
    query = f"{_SELECT} WHERE tenant = $1 AND name = $2"
    if namespace is not None:
        args.append(namespace)
        query += " AND namespace = $3"
    if not include_deleted:
        query += f" AND {_LIVE}"
    query += f" ORDER BY (status = {_DELETED}), created_at DESC, updated_at DESC, uid LIMIT 1"
    record = await conn.fetchrow(query, *args)
    return ServerRow.from_record(record) if record is not None else None


async def get_server_by_uid(conn: Conn, uid: str, *, tenant: str | None = None) -> ServerRow | None:
    """A row by uid (deleted or not); with ``tenant``, only if it is that tenant's."""
    if tenant is None:
        record = await conn.fetchrow(f"{_SELECT} WHERE uid = $1", uid)
    else:
        record = await conn.fetchrow(f"{_SELECT} WHERE uid = $1 AND tenant = $2", uid, tenant)
    return ServerRow.from_record(record) if record is not None else None


async def timeline(
    conn: Conn,
    tenant: str,
    name: str,
    limit: int = 50,
    before_seq: int | None = None,
    *,
    namespace: str | None = None,
    uid: str | None = None,
) -> tuple[list[TimelineEntry], int | None]:
    """The events of the tenant's server(s) called ``name``, newest first (by event time,
    then ``seq``), across re-creations unless ``uid`` picks one; and the ``before_seq`` of
    the next page (None on the last). Events recorded stale are included: it is a history.
    Tenancy is that of the server rows, so an event of another tenant never shows."""
    args: list[Any] = [tenant, name]
    owned = "SELECT uid FROM servers WHERE tenant = $1 AND name = $2"
    if namespace is not None:
        args.append(namespace)
        owned += f" AND namespace = ${len(args)}"
    if uid is not None:
        args.append(uid)
        owned += f" AND uid = ${len(args)}"
    query = f"SELECT {_TIMELINE_COLUMNS} FROM server_events e WHERE e.uid IN ({owned})"
    if before_seq is not None:
        args.append(before_seq)
        n = len(args)
        query += (
            f" AND (e.event_time, e.seq) < "
            f"(SELECT b.event_time, b.seq FROM server_events b WHERE b.seq = ${n})"
        )
    page = _limit(limit)
    args.append(page + 1)
    query += f" ORDER BY e.event_time DESC, e.seq DESC LIMIT ${len(args)}"
    entries = [TimelineEntry.from_record(r) for r in await conn.fetch(query, *args)]
    if len(entries) > page:
        entries = entries[:page]
        return entries, entries[-1].seq
    return entries, None


async def status_counts(conn: Conn, tenant: str) -> dict[str, int]:
    """Live servers per status, every live status present (0 when none)."""
    counts = dict.fromkeys(LIVE_STATUSES, 0)
    records = await conn.fetch(
        f"SELECT status, count(*) AS n FROM servers WHERE tenant = $1 AND {_LIVE} GROUP BY status",
        tenant,
    )
    for record in records:
        counts[record["status"]] = int(record["n"])
    return counts


async def players_by_server(conn: Conn, tenant: str) -> list[PlayerCount]:
    """Players online (0 when unknown) and the maximum of each live server."""
    records = await conn.fetch(
        "SELECT namespace, name, uid, players_online, players_max FROM servers"
        f" WHERE tenant = $1 AND {_LIVE} ORDER BY namespace, name, uid",
        tenant,
    )
    return [
        PlayerCount(
            namespace=r["namespace"],
            name=r["name"],
            uid=r["uid"],
            online=r["players_online"] or 0,
            max=r["players_max"],
        )
        for r in records
    ]


async def projection_snapshot(
    conn: Conn, tenant: str, *, names: Collection[str] | None = None, include_deleted: bool = False
) -> list[ServerRow]:
    """Every live server of the tenant (or those named), for a WebSocket snapshot. Each row
    carries last_revision/last_event_time: a delta older than that is already in the row.
    ``include_deleted`` adds deleted rows (catching clients up on deletions they missed)."""
    live = "" if include_deleted else f" AND {_LIVE}"
    if names is None:
        records = await conn.fetch(
            f"{_SELECT} WHERE tenant = $1{live} ORDER BY namespace, name, uid",
            tenant,
        )
    else:
        records = await conn.fetch(
            f"{_SELECT} WHERE tenant = $1{live} AND name = ANY($2::text[])"
            " ORDER BY namespace, name, uid",
            tenant,
            sorted(set(names)),
        )
    return [ServerRow.from_record(r) for r in records]


async def live_servers(conn: Conn, namespaces: Collection[str] | None = None) -> list[ServerRow]:
    """Every non-deleted row (of ``namespaces``), any tenant: drift reconciliation's side."""
    if namespaces is None:
        records = await conn.fetch(f"{_SELECT} WHERE {_LIVE} ORDER BY uid")
    else:
        records = await conn.fetch(
            f"{_SELECT} WHERE {_LIVE} AND namespace = ANY($1::text[]) ORDER BY uid",
            sorted(set(namespaces)),
        )
    return [ServerRow.from_record(r) for r in records]


async def dead_letter_count(conn: Conn) -> int:
    return int(await conn.fetchval("SELECT count(*) FROM dead_letters"))


async def dead_letters(conn: Conn, limit: int = 50) -> list[DeadLetter]:
    """The most recent dead letters first."""
    records = await conn.fetch(
        "SELECT id, stream_seq, subject, payload, error, recorded_at FROM dead_letters"
        " ORDER BY recorded_at DESC, id DESC LIMIT $1",
        _limit(limit),
    )
    return [
        DeadLetter(
            id=r["id"],
            stream_seq=r["stream_seq"],
            subject=r["subject"],
            payload=bytes(r["payload"]),
            error=r["error"],
            recorded_at=r["recorded_at"],
        )
        for r in records
    ]
