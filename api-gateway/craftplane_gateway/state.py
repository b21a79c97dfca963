"""What the gateway's lifespan owns and hands to every request: no module-level globals."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import asyncpg

from craftplane import logs
from craftplane.kube import KubeClient
from craftplane.supervise import Backoff, Supervised, retry
from craftplane_gateway.db.migrate import migrate
from craftplane_gateway.hub import Hub
from craftplane_gateway.natsconn import NatsLink
from craftplane_gateway.ratelimit import TokenBuckets
from craftplane_gateway.revocations import Revocations
from craftplane_gateway.settings import GatewaySettings
from craftplane_gateway.tenants import TenantNamespaces

log = logs.get_logger(__name__)


@dataclass
class Database:
    """A pool created (and the schema migrated) in the background, retried until it works, so
    the gateway starts and answers 503 while PostgreSQL is away instead of crashing."""

    dsn: str
    min_size: int
    max_size: int
    pool: asyncpg.Pool | None = None
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    _loop: Supervised | None = None

    def start(self) -> None:
        self._loop = Supervised(self._connect_loop, name="db-connect", log=log)

    def get(self) -> asyncpg.Pool | None:
        return self.pool

    async def _connect_loop(self) -> None:
        await retry(
            self._connect,
            what="connecting to the database",
            log=log,
            errors=(OSError, asyncpg.PostgresError, asyncpg.InterfaceError),
            backoff=Backoff(initial=0.5, maximum=10),
        )

    async def _connect(self) -> None:
        pool = await asyncpg.create_pool(
            self.dsn,
            min_size=self.min_size,
            max_size=self.max_size,
            command_timeout=10,
            timeout=5,
        )
        assert pool is not None
        async with pool.acquire() as conn:
            applied = await migrate(conn)
        if applied:
            log.info("applied migrations %s", applied)
        self.pool = pool
        self.ready.set()

    async def close(self) -> None:
        if self._loop is not None:
            await self._loop.stop()
        if self.pool is not None:
            await self.pool.close()


@dataclass
class GatewayState:
    settings: GatewaySettings
    db: Database
    nats: NatsLink
    kube: KubeClient
    hub: Hub
    console_limit: TokenBuckets
    """Console commands per tenant, REST and WebSocket together."""
    write_limit: TokenBuckets
    """Writes (create, patch, delete, start, stop, restart) per token subject."""
    revocations: Revocations
    tenants: TenantNamespaces
    """Which tokens' namespaces are their tenants' (the craftplane.io/tenant label)."""
