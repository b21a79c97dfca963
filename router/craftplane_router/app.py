"""The router, wired: a routing table, the game listener and its metrics, from settings.

``Router`` takes its table from outside: ``main`` feeds it from the cluster (``TableSource``);
a test or a bench fills one by hand.
"""

from __future__ import annotations

import asyncio
import json
from typing import Final

from craftplane import logs
from craftplane.supervise import Supervised, every
from craftplane_router import proxy_header
from craftplane_router.connection import Handler, Limits
from craftplane_router.error_summary import ErrorSummary
from craftplane_router.fastpath import FastPath
from craftplane_router.listener import Listener
from craftplane_router.metrics import RouterMetrics
from craftplane_router.settings import RouterSettings, fast_argv, fast_binary
from craftplane_router.table import RouteTable
from craftplane_router.waking import Waker

log = logs.get_logger(__name__)

SUMMARY_SECONDS: Final = 60.0


def limits_of(settings: RouterSettings) -> Limits:
    return Limits(
        handshake_timeout=settings.handshake_timeout_seconds,
        connect_timeout=settings.connect_timeout_seconds,
        idle=settings.idle_seconds,
        trusted_proxies=tuple(proxy_header.networks(settings.accept_proxy_from)),
        sleeping_motd=settings.sleeping_motd,
        mode=settings.splice_mode,
    )


class Router:
    def __init__(
        self,
        settings: RouterSettings,
        table: RouteTable,
        *,
        waker: Waker | None = None,
        metrics: RouterMetrics | None = None,
        summary_seconds: float = SUMMARY_SECONDS,
    ) -> None:
        self.settings = settings
        self.table = table
        self.metrics = metrics or RouterMetrics()
        self.errors = ErrorSummary()
        handler = Handler(limits_of(settings), table, self.metrics, waker=waker, errors=self.errors)
        self.listener = Listener(handler, self.metrics, max_connections=settings.max_connections)
        binary = fast_binary(settings)
        self.fast = (
            FastPath(binary, fast_argv(settings), table, self.metrics, self.listener.admit)
            if binary
            else None
        )
        self._summary_seconds = summary_seconds
        self._summary: Supervised | None = None

    @property
    def address(self) -> tuple[str, int]:
        return self.listener.address

    @property
    def listening(self) -> bool:
        """Whether connections are being accepted (by the fast path, when there is one, once
        it has every route it was sent)."""
        return self.fast.synced if self.fast else self.listener.listening

    @property
    def active(self) -> int:
        return int(self.metrics.value("craftplane_router_active_connections"))

    async def start(self) -> None:
        self.listener.start(self.settings.host, self.settings.port, accept=self.fast is None)
        if self.fast is not None:
            self.fast.start(self.listener.sock)
        self._summary = Supervised(
            every(self._summary_seconds, self.summarise, what="error summary", log=log),
            name="router error summary",
            log=log,
        )
        host, port = self.address
        log.info(
            "router listening",
            extra={
                "address": f"{host}:{port}",
                "fast_path": self.fast is not None,
                "mode": self.settings.splice_mode.value,
            },
        )

    async def summarise(self) -> None:
        counts = self.errors.take()
        if counts:
            log.info(
                "connection errors in the last %.0fs",
                self._summary_seconds,
                extra={"errors": json.dumps(counts), "total": sum(counts.values())},
            )

    async def stop(self, grace: float | None = None) -> None:
        if self._summary is not None:
            await self._summary.stop()
        grace = self.settings.shutdown_grace_seconds if grace is None else grace
        if self.fast is not None:
            # Both at once: the listener closes this process's copy of the socket while the
            # fast path closes its own, so no connection waits in a backlog nobody accepts.
            await asyncio.gather(self.fast.stop(grace), self.listener.stop(grace))
        else:
            await self.listener.stop(grace)
        await self.summarise()
