"""Player counts by Server List Ping for Running servers.

A ping failure keeps the last known count (a slow or busy server must not make its
status flap); only a changed count asks for a reconcile, which writes status and
publishes. Outside the cluster (the sandbox), cluster addresses are unreachable, so only
servers with a ping-target annotation are pinged.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from mcstatus import JavaServer
from pydantic import ValidationError

from craftplane import logs
from craftplane.contracts.names import PING_TARGET_ANNOTATION
from craftplane.contracts.status import Address, AddressReach, Phase, Players
from craftplane.supervise import Supervised, every
from craftplane_operator import metrics
from craftplane_operator.phase import Derived

log = logs.get_logger(__name__)

MAX_SAMPLE = 50


@dataclass(frozen=True)
class Target:
    address: str
    max_players: int


def ping_target(
    body: Mapping[str, Any],
    derived: Derived,
    max_players: int | None,
    *,
    in_cluster: bool,
    annotation: bool = False,
) -> Target | None:
    """Where to ping a server the plan reports as `derived` (None: not pinged). The
    annotation counts only where ``annotation`` allows it (an operator outside the cluster):
    a tenant writes it, and an operator in a pod must not ping where a tenant says.

    In the cluster the Service's ClusterIP (status.internalAddress) is pinged: the address
    players join by may be the router's hostname, which need not resolve in the cluster."""
    if derived.phase is not Phase.RUNNING or max_players is None:
        return None
    override = (body["metadata"].get("annotations") or {}).get(PING_TARGET_ANNOTATION)
    if annotation and override:
        return Target(override, max_players)
    if not in_cluster:
        return None
    internal = _internal_address(body)
    if internal is not None:
        return Target(internal.display, max_players)
    if derived.address is not None and derived.address.reach is not AddressReach.ROUTER:
        return Target(derived.address.display, max_players)
    return None


def _internal_address(body: Mapping[str, Any]) -> Address | None:
    raw = (body.get("status") or {}).get("internalAddress")
    try:
        return Address.model_validate(raw) if isinstance(raw, Mapping) else None
    except ValidationError:
        return None


class PlayerTracker:
    def __init__(
        self, on_change: Callable[[str], None], *, interval: float, concurrency: int = 32
    ) -> None:
        self._on_change = on_change
        self._interval = interval
        self._targets: dict[str, Target] = {}
        self._counts: dict[str, Players] = {}
        self._limit = asyncio.Semaphore(concurrency)
        self._loop: Supervised | None = None

    def track(self, key: str, target: Target | None) -> None:
        """Ping key at target from now on; None stops pinging and forgets its count."""
        if target is None:
            self._targets.pop(key, None)
            self._counts.pop(key, None)
        else:
            self._targets[key] = target

    def players(self, key: str) -> Players | None:
        return self._counts.get(key)

    def start(self) -> None:
        pings = every(self._interval, self.ping_all, what="player pings", log=log, immediately=True)
        self._loop = Supervised(pings, name="player-pings", log=log)

    async def stop(self) -> None:
        if self._loop is not None:
            await self._loop.stop()

    async def ping_all(self) -> None:
        await asyncio.gather(*(self.ping(key) for key in list(self._targets)))

    async def ping(self, key: str) -> None:
        target = self._targets.get(key)
        if target is None:
            return
        async with self._limit:
            try:
                server = await JavaServer.async_lookup(target.address, timeout=2)
                status = await server.async_status()
            except Exception as exc:  # noqa: BLE001 - any ping failure keeps the last count
                metrics.PLAYER_PINGS.labels(outcome="failed").inc()
                log.debug("ping of %s at %s failed: %s", key, target.address, exc)
                return
        metrics.PLAYER_PINGS.labels(outcome="ok").inc()
        sample = [p.name for p in (status.players.sample or [])][:MAX_SAMPLE]
        players = Players(online=status.players.online, max=status.players.max, sample=sample)
        if self._counts.get(key) != players and key in self._targets:
            self._counts[key] = players
            self._on_change(key)
