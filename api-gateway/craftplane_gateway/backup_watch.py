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
import logging
import time
from collections.abc import Callable
from typing import Any, Final

from pydantic import ValidationError

from craftplane import logs, tokens
from craftplane.contracts.backup import BACKUP_KIND, RESTORE_KIND
from craftplane.kube import KubeClient, KubeError, Obj, path_for
from craftplane.supervise import Backoff, Supervised
from craftplane_gateway.backup_changes import (
    GONE,
    Throttle,
    frame_for,
    parse_watch_line,
    relist_changes,
)
from craftplane_gateway.hub import Hub
from craftplane_gateway.tenants import TenantNamespaces
from craftplane_gateway.ws_frames import Change

log = logs.get_logger(__name__)

KINDS: Final = (BACKUP_KIND, RESTORE_KIND)
# The API server ends a watch after this; it is opened again from the last version seen.
WATCH_SECONDS: Final = 300
TICK_SECONDS: Final = 0.1

Key = tuple[str, str, str]  # kind, namespace, name
Item = tuple[str, str, dict[str, Any]]  # tenant, server, frame


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
        for tenant, server, frame in self._throttle.due():
            sent += self._publish(tenant, server, frame)
        return sent

    def _publish(self, tenant: str, server: str, frame: dict[str, Any]) -> int:
        self.forwarded += 1
        return self._hub.publish_note(tenant, server, frame)

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
        item = self._throttle.offer((kind, namespace, name), (tenant, server, frame))
        if item is not None:
            self._publish(*item)

    async def _watch(self, tenant: str, namespace: str, kind: str) -> None:
        known: dict[str, Obj] = {}
        backoff = Backoff(initial=1.0, maximum=30.0, jitter=0.2)
        listed = False
        where = {"namespace": namespace, "kind": kind}
        while True:
            try:
                version = await self._list(tenant, namespace, kind, known, announce=listed)
                listed = True
                await self._follow(tenant, namespace, kind, known, version)
                backoff.reset()
            except (KubeError, ValueError) as exc:
                delay = backoff.failed()
                # Refused (RBAC, a missing CRD) is a deployment problem; the rest is routine.
                refused = isinstance(exc, KubeError) and 400 <= exc.status < 500
                level = logging.WARNING if refused else logging.INFO
                log.log(
                    level, "watching %s failed (%s); again in %.1fs", kind, exc, delay, extra=where
                )
                await asyncio.sleep(delay)

    async def _list(
        self, tenant: str, namespace: str, kind: str, known: dict[str, Obj], *, announce: bool
    ) -> str:
        """List, remember what is there and (after the first list) forward what changed
        unseen; the version to follow from."""
        listing = await self._kube.request("GET", path_for(kind, namespace))
        items = [item for item in listing.get("items") or [] if isinstance(item, dict)]
        for item in items:
            # A list's items carry no kind; the frames do not need one, but keep them whole.
            item.setdefault("kind", kind)
        if announce:
            for change, obj in relist_changes(known, items):
                self.changed(tenant, namespace, kind, change, obj)
        known.clear()
        known.update(
            {str(item["metadata"]["name"]): item for item in items if item.get("metadata")}
        )
        return str((listing.get("metadata") or {}).get("resourceVersion") or "")

    async def _follow(
        self, tenant: str, namespace: str, kind: str, known: dict[str, Obj], version: str
    ) -> None:
        """Follow the watch from ``version`` until it expires (returns: list again)."""
        while True:
            params = {
                "watch": "true",
                "allowWatchBookmarks": "true",
                "timeoutSeconds": str(WATCH_SECONDS),
            }
            if version:
                params["resourceVersion"] = version
            try:
                async with self._kube.open_lines(
                    path_for(kind, namespace), params, read_timeout=WATCH_SECONDS + 30
                ) as lines:
                    async for line in lines:
                        event = parse_watch_line(line)
                        if event.type == "ERROR":
                            if event.code == GONE:
                                return
                            raise KubeError(event.code, event.message, event.object)
                        version = event.version or version
                        change = event.change
                        if change is None:
                            continue  # a bookmark: only its version counts
                        name = str((event.object.get("metadata") or {}).get("name") or "")
                        if change is Change.DELETED:
                            known.pop(name, None)
                        else:
                            known[name] = event.object
                        self.changed(tenant, namespace, kind, change, event.object)
            except KubeError as exc:
                if exc.status == GONE:
                    return
                raise
