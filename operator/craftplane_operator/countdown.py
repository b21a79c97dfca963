"""Announcements before a stop or restart: a `say` countdown over RCON, then `save-all`.

One asyncio task per server, outside any reconcile (a reconcile never waits minutes). The
plan holds the disruptive change until the task for that exact request reports done; the
task then asks for a reconcile. An RCON failure is logged and recorded as an Event, and the
stop proceeds anyway: the image's SIGTERM handling still saves the world.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from craftplane import logs, rcon
from craftplane_operator.disruption import Announce, CountdownView
from craftplane_operator.maintenance import countdown

log = logs.get_logger(__name__)

Locate = Callable[[str, str], Awaitable[rcon.Target]]  # (namespace, name) -> target
Run = Callable[[rcon.Target, str], Awaitable[str]]
Notify = Callable[[str, str, str], Awaitable[None]]  # (key, reason, message): a Warning Event
Sleep = Callable[[float], Awaitable[None]]


@dataclass
class _Running:
    announce: Announce
    deadline: float
    done: bool = False
    task: asyncio.Task[None] | None = None


class Countdowns:
    def __init__(
        self,
        locate: Locate,
        run: Run,
        on_change: Callable[[str], None],
        notify: Notify,
        *,
        sleep: Sleep = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._locate = locate
        self._run = run
        self._on_change = on_change
        self._notify = notify
        self._sleep = sleep
        self._clock = clock
        self._by_key: dict[str, _Running] = {}

    def view(self, key: str) -> CountdownView | None:
        running = self._by_key.get(key)
        if running is None:
            return None
        remaining = max(0, round(running.deadline - self._clock()))
        announce = running.announce
        return CountdownView(
            announce.request, running.done, remaining, announce.players, announce.verb
        )

    def start(self, key: str, announce: Announce) -> None:
        """Run the announcement for `announce.request` unless it already runs or ran."""
        running = self._by_key.get(key)
        if running is not None and running.announce.request == announce.request:
            return
        self.forget(key)  # another request's countdown: the newer disruption replaces it
        entry = _Running(announce, self._clock() + announce.seconds)
        self._by_key[key] = entry
        entry.task = asyncio.create_task(self._announce(key, entry), name=f"countdown {key}")

    def forget(self, key: str) -> None:
        running = self._by_key.pop(key, None)
        if running is not None and running.task is not None and not running.task.done():
            running.task.cancel()

    def forget_done(self, key: str) -> None:
        """Drop a finished announcement once its disruption went through."""
        running = self._by_key.get(key)
        if running is not None and running.done:
            del self._by_key[key]

    async def stop(self) -> None:
        tasks = [r.task for r in self._by_key.values() if r.task is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._by_key.clear()

    async def _announce(self, key: str, entry: _Running) -> None:
        announce = entry.announce
        namespace, name = key.split("/", 1)
        failure: str | None = None
        try:
            target = await self._locate(namespace, name)
            failure = await self._count_down(key, entry, target)
            try:
                await self._run(target, "save-all")
            except rcon.RconError as exc:
                failure = failure or f"save-all failed: {exc}"
        except rcon.RconError as exc:
            failure = str(exc)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a broken announcement must not block the stop
            log.exception("announcement failed", extra={"server": key})
            failure = str(exc)
        if failure is not None:
            log.warning(
                "announcement before %s failed, proceeding: %s",
                announce.verb,
                failure,
                extra={"server": key},
            )
            await self._notify(key, "AnnouncementFailed", f"before {announce.verb}: {failure}")
        else:
            log.info("world saved before %s", announce.verb, extra={"server": key})
        entry.done = True
        self._on_change(key)

    async def _count_down(self, key: str, entry: _Running, target: rcon.Target) -> str | None:
        announce = entry.announce
        started = entry.deadline - announce.seconds
        for step in countdown(announce.seconds, announce.verb):
            wait = started + step.offset - self._clock()
            if wait > 0:
                await self._sleep(wait)
            try:
                await self._run(target, f"say {step.message}")
            except rcon.RconError as exc:
                # The players cannot be told; waiting out the rest would only delay the stop.
                return f"say failed: {exc}"
            # The status message shows the time left.
            self._on_change(key)
        if announce.seconds:
            log.info(
                "announced %s to %d players",
                announce.verb,
                announce.players,
                extra={"server": key},
            )
        return None
