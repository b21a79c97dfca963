"""`craftplane-operator`: wait for leadership, then reconcile MinecraftServers until told to stop."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import fnmatch
import signal
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass
from typing import Any

import kopf

from craftplane import command_line, logs, rcon
from craftplane.contracts.backup import BACKUP_KIND, RESTORE_KIND
from craftplane.contracts.events import ALL_TOKEN, EventType, SyncEvent, SyncScope
from craftplane.health_http import serve
from craftplane.kube import KubeClient, KubeError
from craftplane.loopwatch import LoopWatch
from craftplane.startup import load_or_exit
from craftplane.supervise import Supervised, every
from craftplane_operator import metrics
from craftplane_operator.backups.controller import BackupController, config_from
from craftplane_operator.backups.queueing import needs_attention
from craftplane_operator.handlers import build_registry, watch_only_owned_children
from craftplane_operator.hostname_index import HostnameIndex
from craftplane_operator.leader import LeaderElector
from craftplane_operator.players import PlayerTracker
from craftplane_operator.policies import PolicyDirectory
from craftplane_operator.policy_binding import PolicyBindingKeeper
from craftplane_operator.publisher import Publisher
from craftplane_operator.reconciler import KIND, Reconciler
from craftplane_operator.recorder import EventRecorder
from craftplane_operator.settings import OperatorSettings, startup_errors
from craftplane_operator.store import ObjectStore
from craftplane_operator.tenants import TenantDirectory
from craftplane_operator.upkeep_runner import build_upkeep
from craftplane_operator.workqueue import WorkQueue

log = logs.get_logger(__name__)


class Operator:
    """Everything the active replica runs, wired once; the kopf handlers only feed the queue."""

    def __init__(self, settings: OperatorSettings, kube: KubeClient) -> None:
        self.settings = settings
        self.kube = kube
        self.queue = WorkQueue(self._reconcile, workers=settings.workers)
        # Backups, restores and the servers' backup side: a queue of their own, so a slow
        # RCON save-all never holds up a server's reconcile.
        self.backup_queue = WorkQueue(self._reconcile_backup, workers=settings.backup_workers)
        self.players = PlayerTracker(self._players_changed, interval=settings.ping_interval)
        self.publisher = Publisher(settings.nats_url, on_sync=self._on_sync)
        self.store = ObjectStore()
        self.hostnames = HostnameIndex(settings.routing)
        self.recorder = EventRecorder(kube, settings.identity)
        self.upkeep = build_upkeep(
            kube,
            settings.rcon_reach,
            allowlist_seconds=settings.allowlist_seconds,
            add=self.queue.add,
            add_after=self.queue.add_after,
            notify=self._notify,
        )
        self.reconciler = Reconciler(
            kube,
            self.store,
            self.publisher,
            self.recorder,
            TenantDirectory(kube),
            self.players,
            ping_in_cluster=settings.ping_in_cluster,
            ping_target_annotation=settings.ping_target_annotation,
            placement=settings.placement,
            upkeep=self.upkeep,
            policies=PolicyDirectory(kube, ttl=settings.policy_cache_seconds),
            hostnames=self.hostnames,
            hibernation_minute=settings.hibernation_minute_seconds,
        )
        self.backups = BackupController(
            kube,
            self.store,
            self.recorder,
            locate=lambda namespace, name: rcon.locate(kube, namespace, name, settings.rcon_reach),
            run=lambda target, command, timeout: rcon.run(target, command, timeout=timeout),
            config=config_from(settings),
            players=self._online,
            add=self.backup_queue.add,
            add_after=self.backup_queue.add_after,
        )
        self.policy_binding = PolicyBindingKeeper(kube)
        self._resync: Supervised | None = None
        self._policy_binding: Supervised | None = None
        self.started = False
        metrics.API_REQUESTS.set_function(lambda: float(kube.requests))

    async def _reconcile(self, key: str) -> None:
        await self.reconciler.reconcile(key)

    async def _reconcile_backup(self, key: str) -> None:
        await self.backups.reconcile(key)

    def _players_changed(self, key: str) -> None:
        self.queue.add(key)
        self.backups.server_changed(key)  # status.playersSinceBackup

    def _online(self, key: str) -> int:
        players = self.players.players(key)
        return players.online if players is not None else 0

    async def _notify(self, key: str, reason: str, message: str) -> None:
        """A Warning Event on the server from outside a reconcile (a failed announcement)."""
        namespace, name = key.split("/", 1)
        body = self.store.get(KIND, namespace, name)
        if body is not None:
            await self.recorder.record(body, warning=True, reason=reason, message=message)

    async def _on_sync(self, request: SyncEvent) -> None:
        ref = request.server
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
            SyncEvent(
                type=EventType.SYNC_COMPLETE,
                server=SyncScope(namespace=namespace, name=name),
                correlation_id=request.id,
                message=f"{count} servers re-published",
            )
        )

    async def start(self) -> None:
        await self._prime_hostnames()
        await self.publisher.start()
        self.queue.start()
        self.backup_queue.start()
        self.players.start()
        # The safety net under the watches: every server is looked at again periodically.
        resync = every(
            self.settings.resync_seconds, self._resync_once, what="periodic resync failed", log=log
        )
        self._resync = Supervised(resync, name="resync", log=log)
        # At once: a new leader may follow one that stopped, or an install that just reset
        # the binding to the default policy alone.
        binding = every(
            self.settings.policy_binding_seconds,
            self._sync_policy_binding,
            what="updating the unknown-policy binding failed",
            log=log,
            errors=KubeError,
            immediately=True,
        )
        self._policy_binding = Supervised(binding, name="policy-binding", log=log)
        self.started = True

    async def stop(self) -> None:
        self.started = False
        for loop in (self._resync, self._policy_binding):
            if loop is not None:
                await loop.stop()
        await self.players.stop()
        await self.upkeep.stop()
        self.backups.stop()
        await self.backup_queue.stop()
        await self.queue.stop()
        await self.publisher.stop()

    async def _sync_policy_binding(self) -> None:
        await self.policy_binding.sync_once()

    async def _namespaces(self) -> list[str | None]:
        """None (the whole cluster) or the namespaces matching the watched patterns: with
        patterns, the operator's RBAC reaches MinecraftServers only namespace by namespace."""
        patterns = self.settings.namespaces
        if not patterns:
            return [None]
        names = [ns["metadata"]["name"] for ns in await self.kube.list_objects("Namespace")]
        return [n for n in names if any(fnmatch.fnmatchcase(n, p) for p in patterns)]

    async def _prime_hostnames(self) -> None:
        """Every server's hostname claims before the first reconcile (see hostname_index)."""
        for namespace in await self._namespaces():
            self.hostnames.prime(await self.kube.list_objects(KIND, namespace))
        log.info("%d servers claim custom hostnames", len(self.hostnames))

    async def _resync_once(self) -> None:
        for namespace in await self._namespaces():
            for body in await self.kube.list_objects(KIND, namespace):
                meta = body["metadata"]
                key = f"{meta['namespace']}/{meta['name']}"
                self.queue.add(key)
                self.backups.server_changed(key)  # backup slots fire without events too
            for kind in (BACKUP_KIND, RESTORE_KIND):
                for body in await self.kube.list_objects(kind, namespace):
                    if needs_attention(body):
                        meta = body["metadata"]
                        self.backups.add(kind, meta["namespace"], meta["name"])


def _kopf_settings(settings: Any) -> None:
    settings.posting.enabled = False  # we record our own, fewer, Kubernetes Events
    settings.watching.server_timeout = 300
    settings.watching.client_timeout = 330
    settings.watching.connect_timeout = 10
    settings.networking.request_timeout = 60
    settings.persistence.finalizer = "craftplane.io/kopf-unused"
    watch_only_owned_children(settings)


async def _first_of(*waits: Coroutine[Any, Any, Any]) -> int:
    """Which of `waits` finished first; the others are cancelled and awaited."""
    tasks = [asyncio.ensure_future(wait) for wait in waits]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    first = next(task for task in tasks if task in done)
    first.result()  # re-raise its failure, if it failed
    return tasks.index(first)


@dataclass
class Readiness:
    """/readyz: a standby that knows who leads, or a leader whose reconcilers run; neither
    while the Lease cannot be read, after leadership was lost, or once the process stops."""

    elector: LeaderElector
    stop: asyncio.Event
    operator: Operator | None = None  # set once this replica leads

    def __call__(self) -> bool:
        if self.stop.is_set() or self.elector.lost.is_set() or not self.elector.role_known:
            return False
        if not self.elector.leading:
            return True
        return self.operator is not None and self.operator.started


async def run(settings: OperatorSettings) -> None:
    kube = await KubeClient.connect()
    watch = LoopWatch("operator")
    watch.start()
    elector = LeaderElector(
        kube,
        settings.lease_namespace,
        settings.lease_name,
        settings.identity,
        lease_seconds=settings.lease_seconds,
    )
    leading = False
    stop = asyncio.Event()
    operator: Operator | None = None
    readiness = Readiness(elector, stop)
    runner = await serve(settings.http_host, settings.http_port, metrics.REGISTRY, ready=readiness)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        if await _first_of(elector.acquire(), stop.wait()) == 1:
            return  # stopped while standing by
        leading = True
        metrics.IS_LEADER.set(1)
        operator = Operator(settings, kube)
        readiness.operator = operator
        await operator.start()
        registry = build_registry(
            operator.queue, operator.store, operator.backups, operator.hostnames
        )
        kopf_settings = kopf.OperatorSettings()
        _kopf_settings(kopf_settings)
        quit_flag = asyncio.Event()

        async def relay() -> None:
            # kopf stops on one flag: ours (SIGTERM) or the elector's (leadership lost).
            await _first_of(elector.lost.wait(), stop.wait())
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
        await asyncio.gather(relay_task, return_exceptions=True)
    finally:
        if operator is not None:
            await operator.stop()
        if leading:
            metrics.IS_LEADER.set(0)
            await elector.release()
        await runner.cleanup()
        await kube.close()
        watch.stop()
    if elector.lost.is_set():
        raise SystemExit("leadership lost")


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    return command_line.parse_args(
        "craftplane-operator",
        "Reconcile MinecraftServers: wait for the leader Lease, then run until SIGTERM.",
        OperatorSettings,
        argv,
    )


def main(argv: Sequence[str] | None = None) -> None:
    parse_args(argv)
    settings = load_or_exit("craftplane-operator", OperatorSettings, startup_errors)
    logs.configure(settings.log_level)
    log.info("starting", extra={"identity": settings.identity, "nats": settings.nats_url})
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run(settings))


if __name__ == "__main__":
    main()
