"""`craftplane-router`: route game connections by hostname until told to stop."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
from collections.abc import Sequence

from craftplane import command_line, logs
from craftplane.health_http import serve
from craftplane.kube import KubeClient
from craftplane.loopwatch import LoopWatch
from craftplane.startup import load_or_exit
from craftplane_router.app import Router
from craftplane_router.join_waker import JoinWaker
from craftplane_router.metrics import RouterMetrics
from craftplane_router.route_changes import RouteChanges
from craftplane_router.settings import RouterSettings, startup_errors
from craftplane_router.table import RouteTable
from craftplane_router.table_source import TableSource
from craftplane_router.waking import Waker

log = logs.get_logger(__name__)

SIGNALS = (signal.SIGTERM, signal.SIGINT)


async def run(
    settings: RouterSettings,
    *,
    kube: KubeClient | None = None,
    stop: asyncio.Event | None = None,
) -> None:
    """Until SIGTERM/SIGINT (or ``stop``): ready (``/readyz``) once the first lists of servers
    and tenant namespaces are in the table, and while the game port listens."""
    watch = LoopWatch("router")
    watch.start()
    client = kube or await KubeClient.connect()
    table = RouteTable()
    changes = RouteChanges(table)
    source = TableSource(client, table, changes=changes)
    metrics = RouterMetrics()
    router = Router(
        settings, table, waker=waker_of(settings, client, changes, metrics), metrics=metrics
    )
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in SIGNALS:
        loop.add_signal_handler(sig, stop.set)
    runner = await serve(
        settings.metrics_host,
        settings.metrics_port,
        router.metrics.registry,
        ready=lambda: source.ready and router.listening and not stop.is_set(),
    )
    try:
        await router.start()
        source.start()
        await stop.wait()
        log.info("stopping", extra={"connections": router.active})
    finally:
        for sig in SIGNALS:
            loop.remove_signal_handler(sig)
        await router.stop()
        await source.stop()
        await runner.cleanup()
        if kube is None:
            await client.close()
        watch.stop()


def waker_of(
    settings: RouterSettings, kube: KubeClient, changes: RouteChanges, metrics: RouterMetrics
) -> Waker | None:
    if not settings.wake_on_join:
        return None
    return JoinWaker(
        kube,
        changes,
        metrics,
        hold_under=settings.wake_hold_under_seconds,
        hold_for=settings.wake_hold_seconds,
        unknown_start=settings.wake_unknown_start_seconds,
    )


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    return command_line.parse_args(
        "craftplane-router",
        "Route Minecraft connections to servers by the hostname in their handshake.",
        RouterSettings,
        argv,
    )


def main(argv: Sequence[str] | None = None) -> None:
    parse_args(argv)
    settings = load_or_exit("craftplane-router", RouterSettings, startup_errors)
    logs.configure(settings.log_level)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run(settings))


if __name__ == "__main__":
    main()
