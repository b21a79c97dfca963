"""A migrated database of the test's own."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest

from craftplane_gateway.db.migrate import migrate


@pytest.fixture
async def conn(database: str) -> AsyncIterator[asyncpg.Connection[asyncpg.Record]]:
    connection = await asyncpg.connect(database)
    try:
        await migrate(connection)
        yield connection
    finally:
        await connection.close()
