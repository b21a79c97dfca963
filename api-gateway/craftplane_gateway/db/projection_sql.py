"""The projection's SQL, and turning events and rows into its parameters.

Batches are written with ``unnest`` over one array per column: one round trip per
statement, however many events or servers the batch holds.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Final

from craftplane.contracts.events import Event
from craftplane_gateway.db.models import COLUMNS, ServerRow
from craftplane_gateway.db.retry import Conn, RetryTransaction
from craftplane_gateway.db.rules import event_status

EVENT_COLUMNS: Final = (
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


SELECT_COLUMNS: Final = ", ".join(COLUMNS)

_INSERT_EVENTS: Final = f"""
INSERT INTO server_events ({", ".join(name for name, _ in EVENT_COLUMNS)})
SELECT * FROM {_unnest(EVENT_COLUMNS)}
ON CONFLICT (event_id) DO NOTHING
RETURNING event_id
"""

_LOCK_ROWS: Final = f"""
SELECT {SELECT_COLUMNS} FROM servers WHERE uid = ANY($1::text[]) ORDER BY uid FOR UPDATE
"""

_INSERT_ROWS: Final = f"""
INSERT INTO servers ({SELECT_COLUMNS})
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

COMPLETE_SYNC: Final = """
UPDATE sync_log SET completed_at = $2 WHERE correlation_id = $1 AND completed_at IS NULL
"""


def _columns(rows: Sequence[Sequence[Any]], width: int) -> list[list[Any]]:
    return [[row[i] for row in rows] for i in range(width)]


def timeline_values(stream_seq: int | None, event: Event) -> tuple[Any, ...]:
    ref = event.server
    return (
        stream_seq, event.id, ref.uid, ref.tenant, ref.namespace, ref.name, event.type.value,
        event.phase.value if event.phase else None, event_status(event), event.generation,
        event.revision, event.players_online, event.players_max, event.address, event.port,
        event.reason, event.message, event.time,
    )  # fmt: skip


async def record_timeline(conn: Conn, items: Sequence[tuple[int | None, Event]]) -> set[str]:
    """Insert events into the timeline; the ids of those that were not there yet."""
    if not items:
        return set()
    # One lock order for every transaction: fewer deadlocks between overlapping batches.
    values = sorted((timeline_values(seq, event) for seq, event in items), key=lambda v: v[1])
    records = await conn.fetch(_INSERT_EVENTS, *_columns(values, len(EVENT_COLUMNS)))
    return {record["event_id"] for record in records}


async def lock_rows(conn: Conn, uids: Iterable[str]) -> dict[str, ServerRow]:
    records = await conn.fetch(_LOCK_ROWS, sorted(set(uids)))
    return {record["uid"]: ServerRow.from_record(record) for record in records}


def row_values(row: ServerRow) -> tuple[Any, ...]:
    return tuple(getattr(row, name) for name in COLUMNS)


async def write_rows(conn: Conn, before: dict[str, ServerRow], after: dict[str, ServerRow]) -> None:
    inserts = [row_values(row) for uid, row in after.items() if uid not in before]
    updates = [
        row_values(row) for uid, row in after.items() if uid in before and row != before[uid]
    ]
    if inserts:
        created = await conn.fetch(_INSERT_ROWS, *_columns(inserts, len(COLUMNS)))
        if len(created) != len(inserts):
            raise RetryTransaction("a concurrent transaction created some of these servers")
    if updates:
        await conn.execute(_UPDATE_ROWS, *_columns(updates, len(COLUMNS)))


def _clean(text: str) -> str:
    # PostgreSQL text cannot hold NUL.
    return text.replace("\x00", "\\u0000")


async def insert_dead_letter(
    conn: Conn, stream_seq: int | None, subject: str, payload: bytes, error: str
) -> bool:
    recorded = await conn.fetchval(
        _INSERT_DEAD_LETTER, stream_seq, _clean(subject), bytes(payload), _clean(error)
    )
    return recorded is not None
