"""Migrations: in order, once, and safe when replicas start together."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from craftplane_gateway.db.migrate import Migration, load_migrations, migrate

pytestmark = pytest.mark.services

TABLES = {"schema_migrations", "servers", "server_events", "dead_letters", "sync_log"}


async def _tables(conn: asyncpg.Connection[asyncpg.Record]) -> set[str]:
    records = await conn.fetch(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
    )
    return {r["table_name"] for r in records}


def test_migrations_are_numbered_from_one_without_gaps() -> None:
    versions = [m.version for m in load_migrations()]
    assert versions == list(range(1, len(versions) + 1))
    assert load_migrations()[0].name == "init"


async def test_migrate_is_idempotent(database: str) -> None:
    conn = await asyncpg.connect(database)
    try:
        everything = [m.version for m in load_migrations()]
        assert await migrate(conn) == everything
        assert await migrate(conn) == []
        assert await _tables(conn) >= TABLES
        rows = await conn.fetch("SELECT version, name, applied_at FROM schema_migrations")
        assert [(r["version"], r["name"]) for r in rows] == [
            (m.version, m.name) for m in load_migrations()
        ]
        assert all(r["applied_at"] is not None for r in rows)
    finally:
        await conn.close()


async def test_migrate_through_a_pool(database: str) -> None:
    async with asyncpg.create_pool(database, min_size=1, max_size=2) as pool:
        assert await migrate(pool) == [m.version for m in load_migrations()]
        assert await migrate(pool) == []


# Numbered after the shipped ones, whatever their count.
_NEXT = len(load_migrations()) + 1
EXTRA = [
    Migration(_NEXT, "widgets", "CREATE TABLE widgets (id int PRIMARY KEY, v text)"),
    Migration(_NEXT + 1, "widgets_v", "CREATE INDEX widgets_v ON widgets (v)"),
    Migration(_NEXT + 2, "seed", "INSERT INTO widgets VALUES (1, 'one')"),
]


@pytest.mark.parametrize("replicas", [2, 4])
async def test_concurrent_replicas_apply_each_migration_once(database: str, replicas: int) -> None:
    migrations = load_migrations() + EXTRA
    conns = [await asyncpg.connect(database) for _ in range(replicas)]
    try:
        results = await asyncio.gather(*(migrate(c, migrations) for c in conns))
        applied = sorted(v for result in results for v in result)
        assert applied == [m.version for m in migrations]  # each exactly once, by someone
        for result in results:
            assert result == sorted(result)  # in order
        conn = conns[0]
        assert await conn.fetchval("SELECT count(*) FROM schema_migrations") == len(migrations)
        assert await conn.fetchval("SELECT count(*) FROM widgets") == 1
        assert await asyncio.gather(*(migrate(c, migrations) for c in conns)) == [[]] * replicas
    finally:
        for c in conns:
            await c.close()


async def test_a_failing_migration_is_not_recorded(database: str) -> None:
    conn = await asyncpg.connect(database)
    try:
        shipped = load_migrations()
        after = shipped[-1].version + 1
        broken = [*shipped, Migration(after, "broken", "CREATE TABLE nope (id int) garbage")]
        with pytest.raises(asyncpg.PostgresSyntaxError):
            await migrate(conn, broken)
        versions = {r["version"] for r in await conn.fetch("SELECT version FROM schema_migrations")}
        assert after not in versions
        assert "nope" not in await _tables(conn)
    finally:
        await conn.close()


async def test_a_replica_waits_for_one_mid_migration_and_skips_it(database: str) -> None:
    first, second = await asyncpg.connect(database), await asyncpg.connect(database)
    try:
        await migrate(first, [])  # just the tracking table
        init = load_migrations()[0]
        tx = first.transaction()
        await tx.start()
        await first.execute(
            "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", init.version, init.name
        )
        await first.execute(init.sql)
        racing = asyncio.create_task(migrate(second))
        await asyncio.sleep(0.3)
        assert not racing.done()  # blocked on the version row
        await tx.commit()
        assert init.version not in await asyncio.wait_for(racing, timeout=10)
        assert await second.fetchval("SELECT count(*) FROM schema_migrations") == len(
            load_migrations()
        )
    finally:
        await first.close()
        await second.close()
