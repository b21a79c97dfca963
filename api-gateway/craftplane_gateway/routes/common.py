"""What every route needs: the lifespan state, the caller, a database connection or a 503."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import asyncpg
from starlette.requests import HTTPConnection

from craftplane import logs
from craftplane_gateway import auth, problems
from craftplane_gateway.db import Conn
from craftplane_gateway.state import GatewayState

log = logs.get_logger(__name__)


def state_of(conn: HTTPConnection) -> GatewayState:
    gw: GatewayState = conn.state.gw
    return gw


def principal(conn: HTTPConnection) -> auth.Principal:
    """The caller: a valid token (401), not revoked (401; 503 while that cannot be known)."""
    gw = state_of(conn)
    who = auth.authenticate(
        conn,
        gw.settings.token_key,
        allowed_origins=gw.settings.allowed_origins,
        max_lifetime=gw.settings.token_max_lifetime,
    )
    gw.revocations.check(who)
    return who


def writer(conn: HTTPConnection) -> auth.Principal:
    """The caller of a write, within its subject's write limit (429 with Retry-After)."""
    who = principal(conn)
    gw = state_of(conn)
    verdict = gw.write_limit.take(who.subject)
    if not verdict.allowed:
        log.info("writes rate limited", extra={"namespace": who.namespace})
        raise problems.too_many_requests(
            f"at most {gw.settings.write_rate:g} writes per second "
            f"(bursts of {gw.settings.write_burst}); retry shortly",
            retry_after=verdict.retry_after_seconds,
        )
    return who


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
