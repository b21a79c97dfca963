"""The routing table's source: every MinecraftServer and every tenant namespace, watched
cluster-wide. Needs only get/list/watch on minecraftservers and namespaces.

Ready once both have been listed: before that an empty table would answer every player
"no server at ..." for servers that exist.
"""

from __future__ import annotations

from craftplane import logs
from craftplane.contracts.names import KIND, TENANT_LABEL
from craftplane.kube import KubeClient, Obj
from craftplane.watch import ListWatch
from craftplane_router.route_changes import RouteChanges
from craftplane_router.routes import entry_of
from craftplane_router.table import RouteTable
from craftplane_router.watch_events import is_tenant_namespace, key_of, name_of

log = logs.get_logger(__name__)


class TableSource:
    def __init__(
        self,
        kube: KubeClient,
        table: RouteTable,
        *,
        changes: RouteChanges | None = None,
        retry_after: float = 1.0,
    ) -> None:
        self._table = table
        # Told of every change, for the players held while their server wakes.
        self._changes = changes or RouteChanges(table)
        self._namespaces = ListWatch(
            kube,
            "Namespace",
            on_list=self.namespaces_listed,
            on_change=self.namespace_changed,
            label_selector=TENANT_LABEL,
            retry_after=retry_after,
        )
        self._servers = ListWatch(
            kube,
            KIND,
            on_list=self.servers_listed,
            on_change=self.server_changed,
            retry_after=retry_after,
        )

    @property
    def ready(self) -> bool:
        return self._namespaces.listed.is_set() and self._servers.listed.is_set()

    def start(self) -> None:
        self._namespaces.start()
        self._servers.start()

    async def stop(self) -> None:
        await self._servers.stop()
        await self._namespaces.stop()

    async def wait_ready(self) -> None:
        await self._namespaces.listed.wait()
        await self._servers.listed.wait()

    def namespaces_listed(self, items: list[Obj]) -> None:
        self._table.set_namespaces(name_of(ns) for ns in items if is_tenant_namespace(ns))
        self._changes.changed_all()

    def namespace_changed(self, change: str, obj: Obj) -> None:
        if change != "DELETED" and is_tenant_namespace(obj):
            self._table.add_namespace(name_of(obj))
        else:
            self._table.remove_namespace(name_of(obj))
        self._changes.changed_all()

    def servers_listed(self, items: list[Obj]) -> None:
        self._table.replace_all(entry_of(obj) for obj in items)
        self._changes.changed_all()
        log.info(
            "routing table listed",
            extra={"servers": len(self._table), "namespaces": len(self._table.namespaces)},
        )

    def server_changed(self, change: str, obj: Obj) -> None:
        if change == "DELETED":
            self._table.remove(key_of(obj))
        else:
            self._table.put(entry_of(obj))
        self._changes.changed(key_of(obj))
