"""PostgreSQL in the sandbox is real: connect, create and drop a database."""

from __future__ import annotations

import asyncpg
import pytest

from craftplane.testing.platform import Platform

pytestmark = pytest.mark.services


async def test_database_is_created_and_dropped(platform: Platform, database: str) -> None:
    conn = await asyncpg.connect(database)
    try:
        await conn.execute("CREATE TABLE t (id int primary key, v text)")
        await conn.execute("INSERT INTO t VALUES (1, 'a')")
        assert await conn.fetchval("SELECT v FROM t WHERE id = 1") == "a"
        assert (await conn.fetchval("SELECT version()")).startswith("PostgreSQL")
    finally:
        await conn.close()
    name = database.rsplit("/", 1)[1]
    admin = await asyncpg.connect(platform.admin_database_url)
    try:
        assert await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name) == 1
    finally:
        await admin.close()
