"""What every route needs: the lifespan state, the caller, a database connection or a 503."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import asyncpg
from starlette.requests import HTTPConnection

from craftplane_gateway import auth, problems
from craftplane_gateway.db import Conn
from craftplane_gateway.state import GatewayState


def state_of(conn: HTTPConnection) -> GatewayState:
    gw: GatewayState = conn.state.gw
    return gw


def principal(conn: HTTPConnection) -> auth.Principal:
    gw = state_of(conn)
    return auth.authenticate(
        conn, gw.settings.token_key, allowed_origins=gw.settings.allowed_origins
    )


@contextlib.asynccontextmanager
async def database(conn: HTTPConnection) -> AsyncIterator[Conn]:
    """A pooled connection; Problem 503 with a clear body while the database is unreachable."""
    pool = state_of(conn).db.get()
    if pool is None:
        raise problems.service_unavailable("the database is unreachable; retry shortly")
    try:
        async with pool.acquire(timeout=5) as connection:
            yield connection
    except (
        OSError,
        TimeoutError,
        asyncpg.InterfaceError,
        asyncpg.CannotConnectNowError,
        asyncpg.ConnectionDoesNotExistError,
    ) as exc:
        raise problems.service_unavailable(
            f"the database is unreachable ({type(exc).__name__}); retry shortly"
        ) from exc
