"""kopf wiring: every watch event names a server to reconcile; nothing else happens here."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import kopf

from craftplane.contracts.names import (
    GROUP,
    LABEL_MANAGED_BY,
    LABEL_SERVER,
    MANAGER_NAME,
    PLURAL,
    VERSION,
)
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


def build_registry(queue: WorkQueue, store: ObjectStore) -> kopf.OperatorRegistry:
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

    @kopf.on.event(GROUP, VERSION, PLURAL, registry=registry)
    def server_changed(
        namespace: str | None, name: str, event: Mapping[str, Any], **_: Any
    ) -> None:
        remember(event)
        queue.add(f"{namespace}/{name}")

    def child_changed(
        namespace: str | None, labels: Mapping[str, str], event: Mapping[str, Any], **_: Any
    ) -> None:
        remember(event)
        server = labels.get(LABEL_SERVER)
        if server:
            queue.add(f"{namespace}/{server}")

    for resource in CHILD_RESOURCES:
        kopf.on.event(*resource, labels=OWNED, registry=registry, id=f"child-{resource[-1]}")(
            child_changed
        )

    return registry
