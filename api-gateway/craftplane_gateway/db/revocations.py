"""The token deny list in PostgreSQL: what `craftplane token revoke` writes and every gateway
replica reads (see :mod:`craftplane_gateway.revocations` for the cache in front of it).

One table, ``token_revocations``: a row per revoked token id, and per tenant at most one row
with the empty jti whose ``issued_before`` denies every token issued earlier. A jti row older
than the longest token lifetime can deny nothing that is still valid, so it is not read.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Final

import asyncpg

from craftplane.clock import utcnow
from craftplane.tokens import MAX_LIFETIME
from craftplane_gateway.db.retry import Conn

ALL_TOKENS: Final = ""
MAX_JTI_LENGTH: Final = 128

_LOAD: Final = """
SELECT tenant, jti, issued_before FROM token_revocations
WHERE jti = '' OR revoked_at > $1
"""
_REVOKE_ONE: Final = """
INSERT INTO token_revocations (tenant, jti) VALUES ($1, $2)
ON CONFLICT (tenant, jti) DO NOTHING
"""
_REVOKE_BEFORE: Final = """
INSERT INTO token_revocations (tenant, jti, issued_before) VALUES ($1, '', $2)
ON CONFLICT (tenant, jti) DO UPDATE
SET issued_before = GREATEST(token_revocations.issued_before, excluded.issued_before),
    revoked_at = now()
"""


class RevocationError(Exception):
    """A revocation that could not be written (bad arguments, or no such table yet)."""


@dataclass(frozen=True)
class DenyList:
    """The revocations in force: token ids by tenant, and a cut-off time per tenant."""

    token_ids: frozenset[tuple[str, str]] = frozenset()
    issued_before: Mapping[str, datetime] = field(default_factory=dict)

    def revokes(self, tenant: str, token_id: str, issued_at: datetime) -> bool:
        """Whether the token ``token_id`` of ``tenant``, issued at ``issued_at``, is revoked."""
        if (tenant, token_id) in self.token_ids:
            return True
        cut = self.issued_before.get(tenant)
        return cut is not None and issued_at < cut


async def load(conn: Conn, *, now: datetime | None = None) -> DenyList:
    """The deny list as the database holds it."""
    oldest = (now or utcnow()) - MAX_LIFETIME - timedelta(minutes=5)
    ids: set[tuple[str, str]] = set()
    before: dict[str, datetime] = {}
    for row in await conn.fetch(_LOAD, oldest):
        if row["jti"] == ALL_TOKENS:
            if row["issued_before"] is not None:
                before[row["tenant"]] = row["issued_before"]
        else:
            ids.add((row["tenant"], row["jti"]))
    return DenyList(frozenset(ids), before)


async def revoke(
    conn: Conn, tenant: str, *, jti: str | None = None, before: datetime | None = None
) -> None:
    """Deny the token ``jti`` of ``tenant``, or every one of its tokens issued before ``before``."""
    if (jti is None) == (before is None):
        raise RevocationError("give exactly one of a token id or a time")
    if jti is not None:
        if not jti or len(jti) > MAX_JTI_LENGTH or "\x00" in jti:
            raise RevocationError(f"a token id is 1 to {MAX_JTI_LENGTH} characters")
        await conn.execute(_REVOKE_ONE, tenant, jti)
        return
    assert before is not None
    if before.tzinfo is None:
        raise RevocationError("the time must be timezone-aware")
    await conn.execute(_REVOKE_BEFORE, tenant, before)


async def revoke_with_dsn(
    dsn: str, tenant: str, *, jti: str | None = None, before: datetime | None = None
) -> None:
    """:func:`revoke` on a connection of its own (the CLI's)."""
    conn = await asyncpg.connect(dsn, timeout=10)
    try:
        await revoke(conn, tenant, jti=jti, before=before)
    except asyncpg.UndefinedTableError as exc:
        raise RevocationError("no token_revocations table: start the gateway once") from exc
    except asyncpg.PostgresError as exc:
        raise RevocationError(str(exc)) from exc
    finally:
        await conn.close()
