"""kopf wiring: every watch event names what to reconcile (a server, a backup, a restore);
nothing else happens here."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import kopf

from craftplane.contracts.backup import BACKUP_KIND, BACKUP_PLURAL, RESTORE_KIND, RESTORE_PLURAL
from craftplane.contracts.names import (
    GROUP,
    LABEL_MANAGED_BY,
    LABEL_SERVER,
    MANAGER_NAME,
    PLURAL,
    VERSION,
)
from craftplane_operator.backups.controller import BackupController
from craftplane_operator.backups.names import OWNER_ANNOTATION, parse_owner
from craftplane_operator.hostname_index import HostnameIndex
from craftplane_operator.store import ObjectStore
from craftplane_operator.workqueue import WorkQueue

OWNED = {LABEL_MANAGED_BY: MANAGER_NAME}
# kopf's resource spec: (group, version, plural) for grouped APIs, (version, plural) for core.
CHILD_RESOURCES: tuple[tuple[str, ...], ...] = (
    ("apps", "v1", "statefulsets"),
    ("v1", "pods"),
    ("v1", "services"),
    ("v1", "configmaps"),
    ("v1", "secrets"),
    ("v1", "persistentvolumeclaims"),
    # The backup, restore and prune Jobs (their pods are among the pods above).
    ("batch", "v1", "jobs"),
)


def watch_only_owned_children(settings: kopf.OperatorSettings) -> None:
    """Filter the child watches on the API server, not here.

    The handlers below only react to objects carrying our managed-by label; without a
    server-side selector every Pod, Secret and ConfigMap of the cluster would still be listed,
    streamed and decoded by this process just to be dropped."""
    selector = ",".join(f"{key}={value}" for key, value in OWNED.items())
    for resource in CHILD_RESOURCES:
        if len(resource) == 3:
            settings.watching.label_selectors[resource[0], resource[1], resource[2]] = selector
        else:
            settings.watching.label_selectors[resource[0], resource[1]] = selector


def build_registry(
    queue: WorkQueue,
    store: ObjectStore,
    backups: BackupController | None = None,
    hostnames: HostnameIndex | None = None,
) -> kopf.OperatorRegistry:
    registry = kopf.OperatorRegistry()

    @kopf.on.login(registry=registry)
    def login(**kwargs: Any) -> kopf.ConnectionInfo | None:
        info: kopf.ConnectionInfo | None = kopf.login_with_service_account(**kwargs)
        return info or kopf.login_with_kubeconfig(**kwargs)

    def remember(event: Mapping[str, Any]) -> None:
        obj = event.get("object") or {}
        meta = obj.get("metadata") or {}
        if event.get("type") == "DELETED":
            store.drop(obj.get("kind", ""), meta.get("namespace", ""), meta.get("name", ""))
        else:
            store.put(obj)

    def server(key: str) -> None:
        queue.add(key)
        if backups is not None:
            backups.server_changed(key)

    @kopf.on.event(GROUP, VERSION, PLURAL, registry=registry)
    def server_changed(
        namespace: str | None, name: str, event: Mapping[str, Any], **_: Any
    ) -> None:
        remember(event)
        # The other servers this change grants a hostname or takes one from.
        for other in sorted(hostnames.follow(event) if hostnames is not None else ()):
            queue.add(other)
        server(f"{namespace}/{name}")

    def child_changed(
        namespace: str | None,
        labels: Mapping[str, str],
        annotations: Mapping[str, str],
        event: Mapping[str, Any],
        **_: Any,
    ) -> None:
        remember(event)
        name = labels.get(LABEL_SERVER)
        if name:
            server(f"{namespace}/{name}")
        owner = parse_owner(annotations.get(OWNER_ANNOTATION))
        if owner is not None and backups is not None and namespace:
            backups.add(owner[0], namespace, owner[1])

    def watcher(kind: str) -> Any:
        def changed(namespace: str | None, name: str, event: Mapping[str, Any], **_: Any) -> None:
            remember(event)
            if backups is not None and namespace:
                backups.add(kind, namespace, name)

        return changed

    for kind, plural in ((BACKUP_KIND, BACKUP_PLURAL), (RESTORE_KIND, RESTORE_PLURAL)):
        kopf.on.event(GROUP, VERSION, plural, registry=registry, id=plural)(watcher(kind))

    for resource in CHILD_RESOURCES:
        kopf.on.event(*resource, labels=OWNED, registry=registry, id=f"child-{resource[-1]}")(
            child_changed
        )

    return registry
