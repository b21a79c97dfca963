"""Waking a hibernating server when a player logs in to it (the router's `Waker`).

The wake is asked of the operator through the API: a merge patch of the two wake annotations
(`craftplane.contracts.hibernation`), which is all the router may write (RBAC: patch on
MinecraftServers in tenant namespaces only; the admission policy of `router_admission`: only
those two annotations). The operator answers it; the router only watches the result.

What the player sees: Java clients give up on a login after about 30 s. A server whose last
wake took under ``hold_under`` seconds (status.hibernation.lastStartSeconds) is waited for, up
to ``hold_for`` seconds, and the login is then forwarded as if nothing happened; any other
(or one not known) gets a disconnect at once saying when to rejoin. A server already waking is
not asked again.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable
from datetime import datetime
from typing import Any, Final, Protocol

from craftplane import logs
from craftplane.clock import utcnow
from craftplane.contracts.hibernation import wake_annotations
from craftplane.contracts.names import KIND
from craftplane.kube import KubeError
from craftplane_router.metrics import RouterMetrics
from craftplane_router.route_changes import RouteChanges
from craftplane_router.routes import Route, State

log = logs.get_logger(__name__)

# "rejoin in about N s" is rounded up to this, and never says less.
ROUND_SECONDS: Final = 5
# A restore from the archive, then a start: how much longer than an unknown start it says.
ARCHIVE_FACTOR: Final = 3
# The patch must leave the player time to be held: an API server slower than this is down.
REQUEST_TIMEOUT: Final = 5.0


class Patcher(Protocol):
    """What of ``craftplane.kube.KubeClient`` the waker needs."""

    async def merge_patch(
        self, kind: str, namespace: str | None, name: str, patch: dict[str, Any]
    ) -> dict[str, Any]: ...


def starting(route: Route, seconds: float) -> str:
    """The disconnect reason of a player asked to rejoin a server that is starting."""
    rounded = max(ROUND_SECONDS, math.ceil(seconds / ROUND_SECONDS) * ROUND_SECONDS)
    return f"{route.name} is starting — rejoin in about {rounded} s"


def restoring(route: Route, seconds: float) -> str:
    """The disconnect reason of a player whose join restores an archived server."""
    rounded = max(ROUND_SECONDS, math.ceil(seconds / ROUND_SECONDS) * ROUND_SECONDS)
    return (
        f"{route.name} was archived and is being restored from its backup — "
        f"rejoin in about {rounded} s"
    )


def unavailable(route: Route) -> str:
    return f"{route.name} could not be woken right now; try again in a moment"


def _running(route: Route) -> bool:
    return route.state is State.RUNNING


class JoinWaker:
    def __init__(
        self,
        kube: Patcher,
        changes: RouteChanges,
        metrics: RouterMetrics,
        *,
        hold_under: float = 20.0,
        hold_for: float = 25.0,
        unknown_start: float = 60.0,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._kube = kube
        self._changes = changes
        self._metrics = metrics
        self._hold_under = hold_under
        self._hold_for = hold_for
        self._unknown_start = unknown_start
        self._clock = clock

    async def wake(self, route: Route, player: str) -> Route | str:
        where = {"server": route.server, "player": player}
        if route.state is State.SLEEPING:
            if not await self._request(route, player):
                return unavailable(route)
        else:
            self._metrics.wake(route, "already_waking")
        if route.archived:
            log.info("asked %s to rejoin while the archive is restored", player, extra=where)
            return restoring(route, self._unknown_start * ARCHIVE_FACTOR)
        expected = route.start_seconds
        if expected is None or expected >= self._hold_under:
            log.info("asked %s to rejoin while the server starts", player, extra=where)
            return starting(route, self._unknown_start if expected is None else expected)
        found = await self._changes.wait_for(route.key, _running, self._hold_for)
        if found is not None:
            log.info("forwarding %s to the woken server", player, extra=where)
            return found
        log.info("the server was not up within %.0fs", self._hold_for, extra=where)
        return starting(route, max(expected - self._hold_for, 0))

    async def _request(self, route: Route, player: str) -> bool:
        patch = {"metadata": {"annotations": wake_annotations(self._clock(), player)}}
        try:
            async with asyncio.timeout(REQUEST_TIMEOUT):
                await self._kube.merge_patch(KIND, route.namespace, route.name, patch)
        except (KubeError, TimeoutError) as exc:
            self._metrics.wake(route, "failed")
            log.warning(
                "asking for a wake failed: %s",
                exc,
                extra={"server": route.server, "player": player},
            )
            return False
        self._metrics.wake(route, "requested")
        log.info("asked for a wake", extra={"server": route.server, "player": player})
        return True
