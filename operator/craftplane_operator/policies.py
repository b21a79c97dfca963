"""CraftplanePolicies as the reconciler reads them: fetched by name, cached briefly.

A policy is cluster-scoped and shared by every server of the namespaces bound to it, so one
GET serves them all for ``ttl`` seconds (absence is cached too: a namespace naming a missing
policy must not cost a request per server per pass). There is no watch: an admin's edit
reaches each server at its first reconcile after the entry expires, and the periodic resync
(``CRAFTPLANE_OPERATOR_RESYNC_SECONDS``) reconciles every server, so an edit is in effect
everywhere within ``ttl`` plus one resync period.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from typing import Any

from pydantic import ValidationError

from craftplane.contracts.policy import POLICY_KIND, CraftplanePolicySpec
from craftplane.kube import KubeClient
from craftplane_operator.profiles import StoredPolicy

DEFAULT_TTL_SECONDS = 30.0
MAX_INVALID = 300


def read_policy(name: str, body: Mapping[str, Any] | None) -> StoredPolicy:
    """The stored policy from the API server's answer (None: not found)."""
    if body is None:
        return StoredPolicy(name)
    try:
        return StoredPolicy(name, CraftplanePolicySpec.model_validate(body.get("spec") or {}))
    except ValidationError as exc:
        # The CRD's schema admitted it: a field this operator does not know (a newer CRD)
        # or a rule only the model checks. Reported, never half-applied.
        fields = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'spec'}: {err['msg']}"
            for err in exc.errors()
        )
        return StoredPolicy(name, invalid=fields[:MAX_INVALID])


class PolicyDirectory:
    def __init__(
        self,
        kube: KubeClient,
        ttl: float = DEFAULT_TTL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._kube = kube
        self._ttl = ttl
        self._clock = clock
        self._cache: dict[str, tuple[float, StoredPolicy]] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def get(self, name: str) -> StoredPolicy:
        """The policy ``name``; an API error other than not-found is raised (the reconcile
        fails and is retried), never mistaken for a missing policy."""
        hit = self._fresh(name)
        if hit is not None:
            return hit
        # The workers reconciling a namespace's servers all ask at once when an entry
        # expires: one of them fetches, the others wait for its answer.
        lock = self._locks.setdefault(name, asyncio.Lock())
        async with lock:
            hit = self._fresh(name)
            if hit is not None:
                return hit
            stored = read_policy(name, await self._kube.get(POLICY_KIND, None, name))
            self._cache[name] = (self._clock(), stored)
            return stored

    def _fresh(self, name: str) -> StoredPolicy | None:
        hit = self._cache.get(name)
        if hit is not None and self._clock() - hit[0] < self._ttl:
            return hit[1]
        return None
