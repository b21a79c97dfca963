"""Allowlist and ops applied live over RCON, and re-read periodically to notice drift.

A sync runs as its own task, never inside a reconcile: RCON may be slow or down, and a
failure must not fail the reconcile. It reads `whitelist list`, runs what `allowlist_sync`
plans, records what it applied in an annotation (ops cannot be listed), re-reads to confirm,
and keeps the outcome for the next reconcile's AllowlistSynced condition. Each server is
looked at again after the interval (or a backoff after a failure) through the work queue.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from craftplane import logs, rcon
from craftplane.kube import KubeError
from craftplane.supervise import Backoff
from craftplane_operator.allowlist_sync import (
    APPLIED_ANNOTATION,
    LIST_COMMAND,
    Applied,
    Desired,
    SyncOutcome,
    UnrecognizedOutput,
    confirmed,
    outcome,
    parse_whitelist,
    plan_sync,
    unavailable,
)

log = logs.get_logger(__name__)

Locate = Callable[[str, str], Awaitable[rcon.Target]]  # (namespace, name) -> target
Run = Callable[[rcon.Target, str], Awaitable[str]]
Annotate = Callable[[str, str, dict[str, str]], Awaitable[None]]  # (ns, name, annotations)


@dataclass(frozen=True)
class _Record:
    desired: Desired
    outcome: SyncOutcome
    at: float
    failures: int


class AllowlistSyncer:
    def __init__(
        self,
        locate: Locate,
        run: Run,
        annotate: Annotate,
        *,
        interval: float,
        on_change: Callable[[str], None],
        requeue: Callable[[str, float], None],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._locate = locate
        self._run = run
        self._annotate = annotate
        self._interval = interval
        self._on_change = on_change
        self._requeue = requeue
        self._clock = clock
        self._backoff = Backoff(initial=1.0, maximum=interval)
        self._records: dict[str, _Record] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}

    def outcome(self, key: str) -> SyncOutcome | None:
        record = self._records.get(key)
        return record.outcome if record is not None else None

    def _pause(self, record: _Record) -> float:
        return self._backoff.delay(record.failures) if record.failures else self._interval

    def ensure(self, key: str, desired: Desired, applied: Applied) -> None:
        """Sync now if the spec changed or the last look is older than the interval."""
        if key in self._tasks:
            return
        record = self._records.get(key)
        if (
            record is not None
            and record.desired == desired
            and self._clock() - record.at < self._pause(record)
        ):
            return
        task = asyncio.create_task(self._sync(key, desired, applied), name=f"allowlist {key}")
        self._tasks[key] = task
        task.add_done_callback(lambda done: self._finished(key, done))

    def _finished(self, key: str, task: asyncio.Task[None]) -> None:
        if self._tasks.get(key) is task:
            del self._tasks[key]

    def forget(self, key: str) -> None:
        self._records.pop(key, None)
        task = self._tasks.pop(key, None)
        if task is not None:
            task.cancel()

    async def stop(self) -> None:
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _sync(self, key: str, desired: Desired, applied: Applied) -> None:
        previous = self._records.get(key)
        failures = 0
        try:
            result = await self.sync_once(key, desired, applied)
        except (rcon.RconError, UnrecognizedOutput, KubeError) as exc:
            failures = (previous.failures if previous else 0) + 1
            log.warning("allowlist sync failed: %s", exc, extra={"server": key})
            result = unavailable(str(exc))
        record = _Record(desired, result, self._clock(), failures)
        self._records[key] = record
        if previous is None or previous.outcome != result:
            self._on_change(key)
        self._requeue(key, self._pause(record))

    async def sync_once(self, key: str, desired: Desired, applied: Applied) -> SyncOutcome:
        """One sync of the server at `key`; RconError, UnrecognizedOutput or KubeError."""
        namespace, name = key.split("/", 1)
        target = await self._locate(namespace, name)
        listed = parse_whitelist(await self._run(target, LIST_COMMAND))
        planned = plan_sync(desired, listed, applied)
        for command in planned.commands:
            answer = await self._run(target, command)
            log.info("ran %r: %s", command, answer.strip()[:200], extra={"server": key})
        if planned.applied != applied:
            encoded = planned.applied.encode()
            await self._annotate(namespace, name, {APPLIED_ANNOTATION: encoded})
        if planned.commands:
            listed = parse_whitelist(await self._run(target, LIST_COMMAND))
        return outcome(desired.mode, planned.drift, confirmed(desired, listed))
