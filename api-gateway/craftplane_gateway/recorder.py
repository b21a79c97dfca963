"""Recording a write the gateway made for a caller: the timeline in PostgreSQL, this
replica's live sockets, and the log.

Recording comes after the write succeeded and never undoes it: when the database is away the
entry is logged (with who and what) and the request still answers as the write did.
Other replicas' sockets do not get the entry live; they see it on the next GET of the
timeline (the operator's events reach every replica through NATS, which the gateway does not
publish to).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import asyncpg

from craftplane import logs
from craftplane.clock import utcnow
from craftplane_gateway import auth
from craftplane_gateway.audit import AuditEntry, RequestType, ServerRef
from craftplane_gateway.db import audit as audit_sql
from craftplane_gateway.state import GatewayState

log = logs.get_logger(__name__)

_DB_ERRORS = (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError)


async def record(
    gw: GatewayState,
    who: auth.Principal,
    cr: Mapping[str, Any] | None,
    kind: RequestType,
    message: str,
) -> AuditEntry | None:
    """Record one write on the server ``cr`` (as the API returned it); the entry, or None
    when the CR carries no uid to file it under."""
    ref = ServerRef.from_cr(cr or {}, who.tenant)
    if ref is None:
        log.warning("write not recorded: no uid", extra={"type": kind.value, "actor": who.subject})
        return None
    entry = AuditEntry(server=ref, type=kind, actor=who.subject, message=message, time=utcnow())
    where = {"server": ref.name, "namespace": ref.namespace, "type": kind.value}
    log.info("%s by %s: %s", kind.value, who.subject, message, extra=where)
    pool = gw.db.get()
    try:
        if pool is None:
            raise ConnectionError("database not connected")
        async with pool.acquire(timeout=5) as conn:
            await audit_sql.insert(conn, entry)
    except (*_DB_ERRORS, ConnectionError) as exc:
        log.warning("timeline entry lost (%s): %s", type(exc).__name__, entry.id, extra=where)
    # One pending per server: a client behind on a burst gets the latest (marked coalesced).
    gw.hub.publish_note(ref.tenant, ref.name, entry.frame(), key=("request", ref.uid))
    return entry
