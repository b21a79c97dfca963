"""`craftplane-operator`: wait for leadership, then reconcile MinecraftServers until told to stop."""

from __future__ import annotations

import asyncio
import contextlib
import fnmatch
import logging
import signal
from typing import Any

import kopf

from craftplane import logs
from craftplane.contracts.events import ALL_TOKEN, Event, EventType, ServerRef
from craftplane.kube import KubeClient
from craftplane.startup import load_or_exit
from craftplane_operator import metrics
from craftplane_operator.handlers import build_registry, watch_only_owned_children
from craftplane_operator.http import serve
from craftplane_operator.leader import LeaderElector
from craftplane_operator.players import PlayerTracker
from craftplane_operator.publisher import Publisher
from craftplane_operator.reconciler import KIND, Reconciler
from craftplane_operator.recorder import EventRecorder
from craftplane_operator.settings import OperatorSettings, startup_errors
from craftplane_operator.store import ObjectStore
from craftplane_operator.tenants import TenantDirectory
from craftplane_operator.workqueue import WorkQueue

log = logging.getLogger("craftplane.operator")


class Operator:
    """Everything the active replica runs, wired once; the kopf handlers only feed the queue."""

    def __init__(self, settings: OperatorSettings, kube: KubeClient) -> None:
        self.settings = settings
        self.kube = kube
        self.queue = WorkQueue(self._reconcile, workers=settings.workers)
        self.players = PlayerTracker(self.queue.add, interval=settings.ping_interval)
        self.publisher = Publisher(settings.nats_url, on_sync=self._on_sync)
        self.store = ObjectStore()
        self.reconciler = Reconciler(
            kube,
            self.store,
            self.publisher,
            EventRecorder(kube, settings.identity),
            TenantDirectory(kube),
            self.players,
            ping_in_cluster=settings.ping_in_cluster,
        )
        self._resync_task: asyncio.Task[None] | None = None
        metrics.API_REQUESTS.set_function(lambda: float(kube.requests))

    async def _reconcile(self, key: str) -> None:
        await self.reconciler.reconcile(key)

    async def _on_sync(self, request: Event) -> None:
        ref = request.server or ServerRef()
        namespace = ref.namespace if ref.namespace not in (None, ALL_TOKEN) else None
        name = ref.name if ref.name not in (None, ALL_TOKEN) else None
        count = await self.reconciler.republish(namespace, name)
        log.info(
            "sync.required answered: re-published %d servers",
            count,
            # not "name": that is a LogRecord attribute, and overwriting it raises KeyError
            extra={"namespace": namespace or "*", "server": name or "*"},
        )
        self.publisher.submit(
            Event(
                type=EventType.SYNC_COMPLETE,
                server=ServerRef(namespace=namespace, name=name),
                correlation_id=request.id,
                message=f"{count} servers re-published",
            )
        )

    async def start(self) -> None:
        await self.publisher.start()
        self.queue.start()
        self.players.start()
        self._resync_task = asyncio.create_task(self._resync(), name="resync")

    async def stop(self) -> None:
        if self._resync_task:
            self._resync_task.cancel()
        await self.players.stop()
        await self.queue.stop()
        await self.publisher.stop()

    async def _namespaces(self) -> list[str | None]:
        """None (the whole cluster) or the namespaces matching the watched patterns: with
        patterns, the operator's RBAC reaches MinecraftServers only namespace by namespace."""
        patterns = self.settings.namespaces
        if not patterns:
            return [None]
        names = [ns["metadata"]["name"] for ns in await self.kube.list_objects("Namespace")]
        return [n for n in names if any(fnmatch.fnmatchcase(n, p) for p in patterns)]

    async def _resync(self) -> None:
        # The safety net under the watches: every server is looked at again periodically.
        while True:
            await asyncio.sleep(self.settings.resync_seconds)
            try:
                for namespace in await self._namespaces():
                    for body in await self.kube.list_objects(KIND, namespace):
                        meta = body["metadata"]
                        self.queue.add(f"{meta['namespace']}/{meta['name']}")
            except Exception as exc:  # noqa: BLE001 - retried at the next interval
                log.warning("periodic resync failed: %s", exc)


def _kopf_settings(settings: Any) -> None:
    settings.posting.enabled = False  # we record our own, fewer, Kubernetes Events
    settings.watching.server_timeout = 300
    settings.watching.client_timeout = 330
    settings.watching.connect_timeout = 10
    settings.networking.request_timeout = 60
    settings.persistence.finalizer = "craftplane.io/kopf-unused"
    watch_only_owned_children(settings)


async def run(settings: OperatorSettings) -> None:
    kube = await KubeClient.connect()
    elector = LeaderElector(
        kube,
        settings.lease_namespace,
        settings.lease_name,
        settings.identity,
        lease_seconds=settings.lease_seconds,
    )
    leading = False
    runner = await serve(settings.http_host, settings.http_port, ready=lambda: True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    operator: Operator | None = None
    try:
        acquiring = asyncio.create_task(elector.acquire())
        stopping = asyncio.create_task(stop.wait())
        done, _ = await asyncio.wait({acquiring, stopping}, return_when=asyncio.FIRST_COMPLETED)
        if stopping in done:
            acquiring.cancel()
            return
        leading = True
        metrics.IS_LEADER.set(1)
        operator = Operator(settings, kube)
        await operator.start()
        registry = build_registry(operator.queue, operator.store)
        kopf_settings = kopf.OperatorSettings()
        _kopf_settings(kopf_settings)
        quit_flag = asyncio.Event()

        async def relay() -> None:
            # kopf stops on one flag: ours (SIGTERM) or the elector's (leadership lost).
            lost = asyncio.create_task(elector.lost.wait())
            asked = asyncio.create_task(stop.wait())
            await asyncio.wait({lost, asked}, return_when=asyncio.FIRST_COMPLETED)
            quit_flag.set()

        relay_task = asyncio.create_task(relay())
        await kopf.operator(
            registry=registry,
            settings=kopf_settings,
            standalone=True,
            clusterwide=not settings.namespaces,
            namespaces=settings.namespaces,
            stop_flag=quit_flag,
        )
        relay_task.cancel()
    finally:
        if operator is not None:
            await operator.stop()
        if leading:
            metrics.IS_LEADER.set(0)
            await elector.release()
        await runner.cleanup()
        await kube.close()
    if elector.lost.is_set():
        raise SystemExit("leadership lost")


def main() -> None:
    settings = load_or_exit("craftplane-operator", OperatorSettings, startup_errors)
    logs.configure(settings.log_level)
    log.info("starting", extra={"identity": settings.identity, "nats": settings.nats_url})
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run(settings))


if __name__ == "__main__":
    main()
