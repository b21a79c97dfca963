"""Writing the gateway's own requests into the timeline (``server_events``, type request.*)."""

from __future__ import annotations

from typing import Final

from craftplane_gateway.audit import AuditEntry
from craftplane_gateway.db.retry import Conn

_INSERT: Final = """
INSERT INTO server_events (event_id, uid, tenant, namespace, name, type, message, actor,
                           event_time)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
ON CONFLICT (event_id) DO NOTHING
"""


async def insert(conn: Conn, entry: AuditEntry) -> None:
    ref = entry.server
    await conn.execute(
        _INSERT,
        entry.id,
        ref.uid,
        ref.tenant,
        ref.namespace,
        ref.name,
        entry.type.value,
        entry.message,
        entry.actor,
        entry.time,
    )
