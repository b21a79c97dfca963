"""The token deny list, cached in this process and refreshed every few seconds.

Every replica reads the same table (db/revocations.py), so a revocation holds on all of them
within one refresh. Until the first load succeeds nothing is known, and a token cannot be
accepted (503); after that, a database outage keeps the last list (revocations written
meanwhile wait for the database to be back, which they need anyway).

An open WebSocket waits on :meth:`Revocations.changed` rather than polling: when a refresh
brings a different list, every waiting socket checks its own token once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

import asyncpg

from craftplane import logs
from craftplane.supervise import Supervised
from craftplane.supervise import every as periodic
from craftplane_gateway import auth, problems
from craftplane_gateway.db import revocations as store
from craftplane_gateway.db.revocations import DenyList

log = logs.get_logger(__name__)


class Revocations:
    def __init__(self, pool: Callable[[], asyncpg.Pool | None], *, every: float = 2.0) -> None:
        self._pool = pool
        self._every = every
        self.deny: DenyList | None = None
        self._changed = asyncio.Event()
        self._loop: Supervised | None = None

    def install(self, deny: DenyList) -> bool:
        """Use ``deny`` from now on; whether it differs from the list before (then every
        waiter of :meth:`changed` wakes)."""
        if deny == self.deny:
            return False
        self.deny = deny
        woken, self._changed = self._changed, asyncio.Event()
        woken.set()
        return True

    async def changed(self) -> None:
        """Return once the deny list changes."""
        await self._changed.wait()

    def revoked(self, who: auth.Principal) -> bool | None:
        """Whether the token of ``who`` is revoked; None while the list was never loaded."""
        if self.deny is None:
            return None
        if who.issued_at is None:
            return False
        return self.deny.revokes(who.tenant, who.token_id, who.issued_at)

    def check(self, who: auth.Principal) -> None:
        """Problem 401 for a revoked token, 503 while revocations cannot be known."""
        verdict = self.revoked(who)
        if verdict is None:
            raise problems.service_unavailable(
                "token revocations cannot be checked yet (the database is unreachable)"
            )
        if verdict:
            raise problems.unauthorized("token revoked", invalid=True)

    async def once(self) -> None:
        pool = self._pool()
        if pool is None:
            return
        async with pool.acquire(timeout=5) as conn:
            deny = await store.load(conn)
        if self.install(deny):
            log.info(
                "token deny list: %d token ids, %d tenant cut-offs",
                len(deny.token_ids),
                len(deny.issued_before),
            )

    async def prime(self, timeout: float) -> bool:
        """Load the list before the first request when the database allows, so a fresh
        gateway does not answer 503 for want of it; False when it could not in `timeout`."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self.deny is None and loop.time() < deadline:
            # Not reachable or not migrated yet: try again until the deadline.
            with contextlib.suppress(
                OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError
            ):
                # A database that accepts the connection but never answers must not hold
                # start-up past the deadline.
                async with asyncio.timeout(max(0.1, deadline - loop.time())):
                    await self.once()
            if self.deny is None:
                await asyncio.sleep(0.2)
        return self.deny is not None

    def start(self) -> None:
        rounds = periodic(
            self._every,
            self.once,
            what="token deny list not refreshed",
            log=log,
            errors=(OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError),
            level=logging.WARNING,
            immediately=True,
        )
        self._loop = Supervised(rounds, name="token-revocations", log=log)

    async def stop(self) -> None:
        if self._loop is not None:
            await self._loop.stop()
