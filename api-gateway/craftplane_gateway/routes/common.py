"""What every route needs: the lifespan state, the caller, a database connection or a 503."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import asyncpg
from starlette.requests import HTTPConnection

from craftplane import logs
from craftplane.kube import KubeError
from craftplane_gateway import auth, problems
from craftplane_gateway.db import Conn
from craftplane_gateway.state import GatewayState

log = logs.get_logger(__name__)


def state_of(conn: HTTPConnection) -> GatewayState:
    gw: GatewayState = conn.state.gw
    return gw


async def principal(conn: HTTPConnection) -> auth.Principal:
    """The caller: a valid token (401), not revoked (401; 503 while that cannot be known), of
    a tenant whose namespace is labelled as its own (404 otherwise, see :func:`check_tenant`)."""
    gw = state_of(conn)
    who = auth.authenticate(
        conn,
        gw.settings.token_key,
        allowed_origins=gw.settings.allowed_origins,
        max_lifetime=gw.settings.token_max_lifetime,
    )
    gw.revocations.check(who)
    await check_tenant(gw, who, conn.path_params.get("name"))
    return who


async def check_tenant(gw: GatewayState, who: auth.Principal, name: str | None) -> None:
    """404 unless the caller's namespace is its tenant's (labelled craftplane.io/tenant=<it>):
    with the body a missing server ``name`` gets, so nothing tells the caller why; 503 while
    that cannot be known."""
    try:
        ok = await gw.tenants.is_tenant_namespace(who.namespace, who.tenant)
    except KubeError as exc:
        raise problems.service_unavailable(
            "the Kubernetes API is unreachable; retry shortly"
        ) from exc
    if not ok:
        log.info(
            "a token of a tenant without a tenant namespace", extra={"namespace": who.namespace}
        )
        raise problems.not_found(name) if name is not None else problems.no_tenant()


async def writer(conn: HTTPConnection) -> auth.Principal:
    """The caller of a write, within its subject's write limit (429 with Retry-After)."""
    who = await principal(conn)
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
