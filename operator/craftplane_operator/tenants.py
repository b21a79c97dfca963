"""Which tenant a namespace belongs to: its craftplane.io/tenant label, cached briefly."""

from __future__ import annotations

import time

from craftplane.contracts.names import TENANT_LABEL
from craftplane.kube import KubeClient


class TenantDirectory:
    def __init__(self, kube: KubeClient, ttl: float = 60.0) -> None:
        self._kube = kube
        self._ttl = ttl
        self._cache: dict[str, tuple[float, str | None]] = {}

    async def tenant_of(self, namespace: str) -> str | None:
        now = time.monotonic()
        hit = self._cache.get(namespace)
        if hit and now - hit[0] < self._ttl:
            return hit[1]
        ns = await self._kube.get("Namespace", None, namespace)
        tenant = ((ns or {}).get("metadata", {}).get("labels") or {}).get(TENANT_LABEL)
        self._cache[namespace] = (now, tenant)
        return tenant
