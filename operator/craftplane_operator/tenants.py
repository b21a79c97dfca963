"""What a namespace says about its servers: its labels (the craftplane.io/tenant label names
the tenant, craftplane.io/policy its CraftplanePolicy), cached briefly."""

from __future__ import annotations

import time
from collections.abc import Mapping

from craftplane.contracts.names import TENANT_LABEL
from craftplane.kube import KubeClient


class TenantDirectory:
    def __init__(self, kube: KubeClient, ttl: float = 60.0) -> None:
        self._kube = kube
        self._ttl = ttl
        self._cache: dict[str, tuple[float, Mapping[str, str]]] = {}

    async def labels_of(self, namespace: str) -> Mapping[str, str]:
        """The namespace's labels (none for a namespace that does not exist)."""
        now = time.monotonic()
        hit = self._cache.get(namespace)
        if hit and now - hit[0] < self._ttl:
            return hit[1]
        ns = await self._kube.get("Namespace", None, namespace)
        labels = dict((ns or {}).get("metadata", {}).get("labels") or {})
        self._cache[namespace] = (now, labels)
        return labels

    async def tenant_of(self, namespace: str) -> str | None:
        return (await self.labels_of(namespace)).get(TENANT_LABEL)
