"""Backups and restores, live: changes of MinecraftBackups and MinecraftRestores, watched
through the Kubernetes API, forwarded to this replica's sockets as ``backup`` and ``restore``
frames.

One supervised loop keeps a watch of each kind open in the namespace of every tenant with a
socket on this replica (the gateway's RBAC reaches these resources only in tenant namespaces,
as for MinecraftServers, so there is no cluster-wide watch to open), and stops it when the
tenant's last socket goes. A watch lists first, then follows from the list's version; an
expired version (410) lists again and forwards what the list shows changed meanwhile. Frames go
through the hub like the gateway's own timeline entries: to the tenant's sockets subscribed to
the server concerned, at most one per object per ``interval`` seconds, the latest state always
sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from typing import Any, Final

from pydantic import ValidationError

from craftplane import logs, tokens
from craftplane.contracts.backup import BACKUP_KIND, RESTORE_KIND
from craftplane.kube import KubeClient, KubeError, Obj
from craftplane.supervise import Supervised
from craftplane.watch import ListWatch
from craftplane_gateway.backup_changes import Mirror, Throttle, frame_for
from craftplane_gateway.hub import Hub
from craftplane_gateway.tenants import TenantNamespaces
from craftplane_gateway.ws_frames import Change

log = logs.get_logger(__name__)

KINDS: Final = (BACKUP_KIND, RESTORE_KIND)
TICK_SECONDS: Final = 0.1

Key = tuple[str, str, str]  # kind, namespace, name
Item = tuple[Key, str, str, dict[str, Any]]  # the object, tenant, server, frame


class BackupWatch:
    def __init__(
        self,
        kube: KubeClient,
        hub: Hub,
        tenants: TenantNamespaces,
        *,
        interval: float = 0.5,
        rescan_seconds: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._kube = kube
        self._hub = hub
        self._tenants = tenants
        self._rescan_seconds = rescan_seconds
        self._clock = clock
        self._throttle: Throttle[Key, Item] = Throttle(interval, clock)
        self._watches: dict[tuple[str, str], asyncio.Task[None]] = {}
        self._loop: Supervised | None = None
        self.forwarded = 0

    def start(self) -> None:
        self._loop = Supervised(self._run, name="backup-watch", log=log)

    async def stop(self) -> None:
        if self._loop is not None:
            await self._loop.stop()
        await self._stop_watches(set(self._watches))

    @property
    def watched(self) -> set[str]:
        """The namespaces watched now."""
        return {namespace for namespace, _kind in self._watches}

    async def _run(self) -> None:
        try:
            next_scan = 0.0
            while True:
                if self._clock() >= next_scan:
                    await self.rescan()
                    next_scan = self._clock() + self._rescan_seconds
                self.flush()
                await asyncio.sleep(TICK_SECONDS)
        finally:
            # Restarted by its Supervised, the loop opens its watches again from a list.
            await self._stop_watches(set(self._watches))

    async def rescan(self) -> None:
        """Watch the namespaces of the tenants with sockets here, and only those."""
        wanted: dict[str, str] = {}
        for tenant in {client.tenant for client in self._hub.clients()}:
            namespace = tokens.namespace_for(tenant)
            try:
                if await self._tenants.is_tenant_namespace(namespace, tenant):
                    wanted[namespace] = tenant
            except KubeError as exc:
                log.debug("tenant check for %s failed: %s", namespace, exc)
                if any(ns == namespace for ns, _ in self._watches):
                    wanted[namespace] = tenant  # unknown now: keep what runs
        await self._stop_watches({key for key in self._watches if key[0] not in wanted})
        for namespace, tenant in wanted.items():
            for kind in KINDS:
                task = self._watches.get((namespace, kind))
                if task is None or task.done():
                    self._watches[namespace, kind] = asyncio.create_task(
                        self._watch(tenant, namespace, kind), name=f"watch {kind} {namespace}"
                    )

    async def _stop_watches(self, keys: set[tuple[str, str]]) -> None:
        tasks = [self._watches.pop(key) for key in keys if key in self._watches]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    def flush(self) -> int:
        """Send the frames the throttle held back whose time has come."""
        sent = 0
        for key, tenant, server, frame in self._throttle.due():
            sent += self._publish(key, tenant, server, frame)
        return sent

    def _publish(self, key: Key, tenant: str, server: str, frame: dict[str, Any]) -> int:
        self.forwarded += 1
        # Each frame is the object's whole state: a client behind needs only the latest.
        return self._hub.publish_note(tenant, server, frame, key=key)

    def changed(self, tenant: str, namespace: str, kind: str, change: Change, obj: Obj) -> None:
        """Forward one change (now, or once the object's throttle interval has passed)."""
        try:
            server, frame = frame_for(kind, change, obj)
        except ValidationError as exc:
            log.warning(
                "a %s the gateway cannot show: %s", kind, exc, extra={"namespace": namespace}
            )
            return
        name = str((obj.get("metadata") or {}).get("name") or "")
        key = (kind, namespace, name)
        item = self._throttle.offer(key, (key, tenant, server, frame))
        if item is not None:
            self._publish(*item)

    async def _watch(self, tenant: str, namespace: str, kind: str) -> None:
        """List and watch one kind in one namespace until cancelled, forwarding its changes
        (after a re-list, what the list shows changed meanwhile)."""
        mirror = Mirror()

        def listed(items: list[Obj]) -> None:
            for item in items:
                # A list's items carry no kind; the frames do not need one, but keep them whole.
                item.setdefault("kind", kind)
            for change, obj in mirror.listed(items):
                self.changed(tenant, namespace, kind, change, obj)

        def event(event_type: str, obj: Obj) -> None:
            change = mirror.event(event_type, obj)
            if change is not None:  # not a change a frame tells
                self.changed(tenant, namespace, kind, change, obj)

        watch = ListWatch(self._kube, kind, namespace=namespace, on_list=listed, on_change=event)
        await watch.run()
