"""Whether a token's tenant has a tenant namespace: ``tenant-<x>`` labelled
``craftplane.io/tenant=<x>``, read from the namespace and cached briefly.

A token names a tenant; the namespace is derived from the name, so without this check a token
for ``x`` would reach any namespace that happens to be called ``tenant-x``, made by anyone, or
one whose tenant was offboarded by removing the label. The label is written by whoever makes
tenants (``craftplane tenant create``, the tenant template): namespaces are cluster-scoped, so a
tenant's own RBAC can neither set it nor remove it.

A "yes" is cached longer than a "no", so a tenant made a moment ago is served within seconds
and an offboarded one is refused within the longer delay. While the API server cannot be
reached, the last answer stands; a namespace never looked up is then unavailable (503).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Final

from craftplane import logs
from craftplane.contracts.names import TENANT_LABEL
from craftplane.kube import KubeClient, KubeError, path_for

log = logs.get_logger(__name__)

# Tokens are signed, so only tenants someone minted for reach this; still, a bound.
MAX_ENTRIES: Final = 10_000
NEGATIVE_TTL: Final = 5.0


class TenantNamespaces:
    def __init__(
        self,
        kube: KubeClient,
        *,
        ttl: float = 30.0,
        negative_ttl: float = NEGATIVE_TTL,
        lookup_timeout: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._kube = kube
        self._ttl = ttl
        self._negative_ttl = min(negative_ttl, ttl)
        self._lookup_timeout = lookup_timeout
        self._clock = clock
        # (namespace, tenant) -> (until when the answer holds, the answer)
        self._known: dict[tuple[str, str], tuple[float, bool]] = {}
        self._pending: dict[tuple[str, str], asyncio.Future[bool]] = {}

    async def is_tenant_namespace(self, namespace: str, tenant: str) -> bool:
        """Whether ``namespace`` exists and is labelled as ``tenant``'s. Raises KubeError only
        when the API server cannot answer and there is no earlier answer to fall back on."""
        key = (namespace, tenant)
        hit = self._known.get(key)
        if hit is not None and self._clock() < hit[0]:
            return hit[1]
        # One lookup per namespace at a time: a burst of a tenant's requests waits on the same
        # answer instead of each sending its own GET to the API server.
        pending = self._pending.get(key)
        if pending is None:
            pending = asyncio.ensure_future(self._look_up(key, namespace, hit))
            self._pending[key] = pending
            pending.add_done_callback(lambda _: self._pending.pop(key, None))
        # Shielded: one caller going away (a closed connection) must not cancel the others'.
        return await asyncio.shield(pending)

    async def _look_up(
        self, key: tuple[str, str], namespace: str, hit: tuple[float, bool] | None
    ) -> bool:
        tenant = key[1]
        now = self._clock()
        try:
            labels = await self._labels(namespace)
        except KubeError as exc:
            if hit is None:
                raise
            log.warning("could not read namespace %s (%s); keeping the last answer", namespace, exc)
            # Asked again soon, not on every request: a request must not wait on an API
            # server that does not answer.
            self._remember(key, now + self._negative_ttl, hit[1])
            return hit[1]
        answer = labels is not None and labels.get(TENANT_LABEL) == tenant
        self._remember(key, now + (self._ttl if answer else self._negative_ttl), answer)
        return answer

    async def _labels(self, namespace: str) -> dict[str, str] | None:
        """The namespace's labels; None when there is no such namespace."""
        try:
            body = await self._kube.request(
                "GET", path_for("Namespace", None, namespace), timeout=self._lookup_timeout
            )
        except KubeError as exc:
            if exc.not_found:
                return None
            if 400 <= exc.status < 500:
                # Not an outage: the gateway's RBAC or credentials are wrong; say so.
                log.error(
                    "reading namespace %s was refused (%s): check the gateway's RBAC",
                    namespace,
                    exc,
                )
            raise
        labels: dict[str, str] = (body.get("metadata") or {}).get("labels") or {}
        return labels

    def _remember(self, key: tuple[str, str], until: float, answer: bool) -> None:
        self._known.pop(key, None)
        if len(self._known) >= MAX_ENTRIES:
            # Oldest first: dicts keep insertion order, and every answer is re-inserted.
            del self._known[next(iter(self._known))]
        self._known[key] = (until, answer)
