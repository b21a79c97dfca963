"""What the reconciler does with the day-2 part of a plan: start announcements, sync the
allowlist, and wake the server up at its next restart slot, each through the work queue."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Final

from craftplane import logs, rcon
from craftplane.clock import utcnow
from craftplane.kube import KubeClient
from craftplane_operator.allowlist_sync import SyncOutcome
from craftplane_operator.countdown import Countdowns
from craftplane_operator.disruption import CountdownView
from craftplane_operator.planning import Plan
from craftplane_operator.rcon_ops import AllowlistSyncer

log = logs.get_logger(__name__)

# A slot is looked at a moment after it, so that `now` has reached it when the plan runs.
WAKE_SLACK_SECONDS: Final = 1.0


class Alarms:
    """At most one pending wake-up per server (each reconcile would otherwise add one)."""

    def __init__(self, add: Callable[[str], None]) -> None:
        self._add = add
        self._pending: dict[str, tuple[datetime, asyncio.TimerHandle]] = {}

    def wake_at(self, key: str, when: datetime | None) -> None:
        pending = self._pending.get(key)
        if pending is not None and pending[0] == when:
            return
        self.cancel(key)
        if when is None:
            return
        delay = max(0.0, (when - utcnow()).total_seconds()) + WAKE_SLACK_SECONDS

        def fire() -> None:
            self._pending.pop(key, None)
            self._add(key)

        handle = asyncio.get_running_loop().call_later(delay, fire)
        self._pending[key] = (when, handle)

    def cancel(self, key: str) -> None:
        pending = self._pending.pop(key, None)
        if pending is not None:
            pending[1].cancel()

    def stop(self) -> None:
        for key in list(self._pending):
            self.cancel(key)


class UpkeepRunner:
    def __init__(self, countdowns: Countdowns, syncer: AllowlistSyncer, alarms: Alarms) -> None:
        self.countdowns = countdowns
        self.syncer = syncer
        self.alarms = alarms

    def gathered(self, key: str) -> tuple[CountdownView | None, SyncOutcome | None]:
        return self.countdowns.view(key), self.syncer.outcome(key)

    def after(self, decided: Plan) -> None:
        """Carry out the plan's day-2 requests (its writes and status are done)."""
        key = decided.key
        if decided.forget:
            self.forget(key)
            return
        upkeep = decided.upkeep
        if upkeep is not None:
            if upkeep.announce is not None:
                log.info(
                    "announcing %s (%d s, %d players online)",
                    upkeep.announce.verb,
                    upkeep.announce.seconds,
                    upkeep.announce.players,
                    extra={"server": key},
                )
                self.countdowns.start(key, upkeep.announce)
            elif not upkeep.disrupting:
                self.countdowns.forget_done(key)
            self.alarms.wake_at(key, upkeep.wake_at)
        if decided.allowlist is not None:
            job = decided.allowlist
            self.syncer.ensure(key, job.desired, job.applied)
        elif decided.timed:
            # Not Running (or RCON off): the next start syncs afresh.
            self.syncer.forget(key)

    def forget(self, key: str) -> None:
        self.countdowns.forget(key)
        self.syncer.forget(key)
        self.alarms.cancel(key)

    async def stop(self) -> None:
        self.alarms.stop()
        await self.countdowns.stop()
        await self.syncer.stop()


def build_upkeep(
    kube: KubeClient,
    reach: rcon.Reach,
    *,
    allowlist_seconds: float,
    add: Callable[[str], None],
    add_after: Callable[[str, float], None],
    notify: Callable[[str, str, str], Awaitable[None]],
) -> UpkeepRunner:
    """The runner wired to the cluster: RCON found by `reach`, annotations patched on the CR."""

    async def locate(namespace: str, name: str) -> rcon.Target:
        return await rcon.locate(kube, namespace, name, reach)

    async def run(target: rcon.Target, command: str) -> str:
        return await rcon.run(target, command)

    async def annotate(namespace: str, name: str, annotations: dict[str, str]) -> None:
        patch = {"metadata": {"annotations": annotations}}
        await kube.merge_patch("MinecraftServer", namespace, name, patch)

    syncer = AllowlistSyncer(
        locate, run, annotate, interval=allowlist_seconds, on_change=add, requeue=add_after
    )
    return UpkeepRunner(Countdowns(locate, run, add, notify), syncer, Alarms(add))
