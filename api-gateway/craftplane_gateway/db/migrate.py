"""Versioned SQL migrations, applied in order and tracked in ``schema_migrations``.

Safe when several replicas start at once, without advisory locks (CockroachDB has none):
each migration runs in a transaction that first inserts its version row. A concurrent
replica's insert of the same version waits for the first and then fails on the primary key
(PostgreSQL) or with a serialization failure (CockroachDB); it rolls back, sees the version
applied, and moves on.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources
from typing import Any, Final

import asyncpg

from craftplane import logs
from craftplane_gateway.db.retry import Conn

log = logs.get_logger(__name__)

_FILE: Final = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
_CONFLICTS: Final = (
    asyncpg.UniqueViolationError,
    asyncpg.SerializationError,
    asyncpg.DeadlockDetectedError,
    asyncpg.DuplicateTableError,
    asyncpg.DuplicateObjectError,
)
MAX_ATTEMPTS: Final = 10

_CREATE_TABLE: Final = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version    integer     PRIMARY KEY,
    name       text        NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)
"""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


def load_migrations() -> list[Migration]:
    """The migrations shipped in db/migrations/, by version; file names are NNNN_name.sql."""
    found: dict[int, Migration] = {}
    for entry in (resources.files("craftplane_gateway.db") / "migrations").iterdir():
        match = _FILE.match(entry.name)
        if match is None:
            continue
        version = int(match.group(1))
        if version in found:
            raise RuntimeError(f"two migrations numbered {version}")
        found[version] = Migration(version, match.group(2), entry.read_text(encoding="utf-8"))
    return [found[v] for v in sorted(found)]


async def applied_versions(conn: Conn) -> set[int]:
    records = await conn.fetch("SELECT version FROM schema_migrations")
    return {int(r["version"]) for r in records}


async def _ensure_table(conn: Conn) -> None:
    for attempt in range(1, MAX_ATTEMPTS + 1):
        try:
            await conn.execute(_CREATE_TABLE)
            return
        except _CONFLICTS:
            # Two "CREATE TABLE IF NOT EXISTS" at once: one may lose on the catalog's keys.
            if attempt == MAX_ATTEMPTS:
                raise


async def _migrate(conn: Conn, migrations: list[Migration]) -> list[int]:
    await _ensure_table(conn)
    done: list[int] = []
    for migration in migrations:
        for attempt in range(1, MAX_ATTEMPTS + 1):
            if migration.version in await applied_versions(conn):
                break
            try:
                async with conn.transaction():
                    await conn.execute(
                        "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
                        migration.version,
                        migration.name,
                    )
                    await conn.execute(migration.sql)
            except _CONFLICTS as exc:
                log.info("migration %04d raced another replica (%s)", migration.version, exc)
                if attempt == MAX_ATTEMPTS:
                    raise
                continue
            log.info("applied migration %04d_%s", migration.version, migration.name)
            done.append(migration.version)
            break
    return done


async def migrate(
    pool_or_conn: asyncpg.Pool[Any] | Conn, migrations: list[Migration] | None = None
) -> list[int]:
    """Apply the pending migrations in order; the versions this call applied."""
    todo = load_migrations() if migrations is None else migrations
    if isinstance(pool_or_conn, asyncpg.Pool):
        async with pool_or_conn.acquire() as conn:
            return await _migrate(conn, todo)
    return await _migrate(pool_or_conn, todo)
