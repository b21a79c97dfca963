"""Leader election on a coordination.k8s.io Lease: one replica works, the others wait.

The leader renews the Lease every `renew_every` seconds. A standby takes the Lease once the
holder has not renewed for `lease_seconds`. A leader that cannot renew in time stops working
(the stop event is set) before anyone else may take over, so two leaders never overlap.

Why not `kubernetes_asyncio.leaderelection` (checked against kubernetes_asyncio 36.1):

* It cannot release the Lease. `LeaderElection` has `run`, `acquire`, `renew_loop` and
  `try_acquire_or_renew`, nothing that clears `holderIdentity`; an operator stopped for a
  rollout would leave its standby waiting a whole `lease_seconds` instead of taking over at once
  (`release` below).
* A failed renewal that is not an `ApiException` does not give leadership up. `LeaseLock.get`
  catches only `ApiException`; a connection error or timeout from aiohttp escapes `renew_loop`
  and `run`, so neither `task.cancel()` of the leading coroutine nor `onstopped_leading` runs and
  the replica keeps working on a Lease nobody renews, while a standby takes it over.
* It speaks through its own generated `ApiClient`, so the operator would hold a second client,
  connection pool and credential refresh beside `craftplane.kube.KubeClient`; and it writes
  renew times from naive local `datetime.fromtimestamp`, not UTC, and never counts
  `leaseTransitions`.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from craftplane import logs
from craftplane.clock import utcnow
from craftplane.kube import KubeClient, KubeError
from craftplane.supervise import Supervised

log = logs.get_logger(__name__)


def _fmt(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _parse(value: str | None) -> datetime | None:
    if not value:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def lease_expired(lease: dict[str, Any], now: datetime) -> bool:
    spec = lease.get("spec", {})
    renewed = _parse(spec.get("renewTime")) or _parse(spec.get("acquireTime"))
    duration = int(spec.get("leaseDurationSeconds") or 0)
    return renewed is None or now > renewed + timedelta(seconds=duration)


@dataclass
class LeaderElector:
    kube: KubeClient
    namespace: str
    name: str
    identity: str
    lease_seconds: int = 15
    renew_every: float = 2.0
    lost: asyncio.Event = field(default_factory=asyncio.Event)
    # Whether this replica has learnt its role from the API server (leader, or standby behind
    # a live holder); false while the Lease cannot be read.
    role_known: bool = False
    _renewal: Supervised | None = None

    @property
    def leading(self) -> bool:
        """Whether this replica holds the Lease and keeps renewing it."""
        return self._renewal is not None and not self.lost.is_set()

    async def acquire(self) -> None:
        """Block until this replica holds the Lease, then keep renewing it in the background."""
        waiting_logged = False
        while not await self._try_acquire():
            if not waiting_logged:
                log.info(
                    "standing by: another replica holds lease %s/%s", self.namespace, self.name
                )
                waiting_logged = True
            await asyncio.sleep(self.renew_every)
        log.info("became leader", extra={"identity": self.identity, "lease": self.name})
        # Not restarted: a renewal loop that died of anything unexpected must not leave this
        # replica working on a lease nobody renews (a standby takes over once it expires).
        self._renewal = Supervised(
            self._renew_loop,
            name="lease-renewal",
            log=log,
            restart=False,
            on_crash=self._renewal_crashed,
        )

    def _renewal_crashed(self, exc: BaseException) -> None:
        log.error("lost leadership: lease renewal failed", exc_info=exc)
        self.lost.set()

    async def release(self) -> None:
        if self._renewal is not None:
            await self._renewal.stop()
            self._renewal = None
        try:
            lease = await self.kube.get("Lease", self.namespace, self.name)
            if lease and lease.get("spec", {}).get("holderIdentity") == self.identity:
                lease["spec"]["holderIdentity"] = None
                lease["spec"]["renewTime"] = None
                await self.kube.replace(lease)
        except KubeError:
            pass  # The Lease then simply expires.

    async def _try_acquire(self) -> bool:
        now = utcnow()
        try:
            lease = await self.kube.get("Lease", self.namespace, self.name)
            if lease is None:
                await self.kube.create(self._lease(now, transitions=0))
                self.role_known = True
                return True
            spec = lease.get("spec", {})
            holder = spec.get("holderIdentity")
            if holder not in (None, "", self.identity) and not lease_expired(lease, now):
                self.role_known = True
                return False
            transitions = int(spec.get("leaseTransitions") or 0) + (holder != self.identity)
            updated = self._lease(now, transitions=transitions)
            # resourceVersion makes the takeover a compare-and-swap: two standbys cannot both win.
            updated["metadata"]["resourceVersion"] = lease["metadata"]["resourceVersion"]
            await self.kube.replace(updated)
            self.role_known = True
            return True
        except KubeError as exc:
            if exc.conflict:
                self.role_known = True  # another replica took it first
                return False
            log.warning("lease acquisition failed: %s", exc)
            return False

    async def _renew_loop(self) -> None:
        last_renewed = utcnow()
        while True:
            await asyncio.sleep(self.renew_every)
            now = utcnow()
            try:
                lease = await self.kube.get("Lease", self.namespace, self.name)
                if lease is None or lease["spec"].get("holderIdentity") != self.identity:
                    log.error("lost leadership: the lease is held by another replica")
                    self.lost.set()
                    return
                lease["spec"]["renewTime"] = _fmt(now)
                await self.kube.replace(lease)
                last_renewed = now
            except KubeError as exc:
                # Stop working before the lease can expire and a standby take over.
                if now - last_renewed > timedelta(seconds=self.lease_seconds * 2 / 3):
                    log.error("lost leadership: could not renew the lease (%s)", exc)
                    self.lost.set()
                    return
                log.warning("lease renewal failed, retrying: %s", exc)

    def _lease(self, now: datetime, *, transitions: int) -> dict[str, Any]:
        return {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": {"name": self.name, "namespace": self.namespace},
            "spec": {
                "holderIdentity": self.identity,
                "leaseDurationSeconds": self.lease_seconds,
                "acquireTime": _fmt(now),
                "renewTime": _fmt(now),
                "leaseTransitions": transitions,
            },
        }
