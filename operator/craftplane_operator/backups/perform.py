"""Carrying out a backup plan's actions: API writes, RCON commands, Events.

Every written object goes into the store from the API server's answer, so the next plan of
the same reconcile sees it. What the plans must know about failures is remembered here: an
RCON command that failed (and since when), a creation the API server refused (quota,
admission), each under the key of the object reconciled and the action's tag.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from typing import Final

from craftplane import logs, rcon
from craftplane.clock import utcnow
from craftplane.kube import KubeClient, KubeError
from craftplane_operator.backups.actions import (
    Action,
    Create,
    Delete,
    PatchObject,
    PatchStatus,
    Rcon,
    Record,
    Step,
)
from craftplane_operator.backups.seen import Failure
from craftplane_operator.recorder import EventRecorder
from craftplane_operator.store import ObjectStore

log = logs.get_logger(__name__)

# save-all flush returns once the world is written: a big world takes a while.
FLUSH_TIMEOUT: Final = 300.0
COMMAND_TIMEOUT: Final = 10.0
REFUSALS: Final = frozenset({400, 403, 422})

Locate = Callable[[str, str], Awaitable[rcon.Target]]
Run = Callable[[rcon.Target, str, float], Awaitable[str]]


class Performer:
    def __init__(
        self,
        kube: KubeClient,
        store: ObjectStore,
        recorder: EventRecorder,
        locate: Locate,
        run: Run,
        *,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.kube = kube
        self.store = store
        self.recorder = recorder
        self._locate = locate
        self._run = run
        self._clock = clock
        self._failures: dict[tuple[str, str], Failure] = {}
        self._refusals: dict[tuple[str, str], str] = {}
        self._reported: dict[tuple[str, str], str] = {}

    def failures(self, key: str) -> dict[str, Failure]:
        return {tag: f for (k, tag), f in self._failures.items() if k == key}

    def refusals(self, key: str) -> dict[str, str]:
        return {tag: r for (k, tag), r in self._refusals.items() if k == key}

    def forget(self, key: str) -> None:
        for memory in (self._failures, self._refusals, self._reported):
            for entry in [e for e in memory if e[0] == key]:
                del memory[entry]

    async def run(self, key: str, step: Step, extra: Mapping[str, str]) -> bool:
        """Run the step's actions in order; False when one failed in a way the next plan
        handles (RCON down, a refused creation, an object gone or changed meanwhile)."""
        for action in step.actions:
            if not await self._one(key, action, extra):
                return False
        return True

    async def _one(self, key: str, action: Action, extra: Mapping[str, str]) -> bool:
        if isinstance(action, Record):
            await self.recorder.record(
                action.body, warning=action.warning, reason=action.reason, message=action.message
            )
            level = log.warning if action.warning else log.info
            level("%s: %s", action.reason, action.message, extra=dict(extra))
            return True
        if isinstance(action, Rcon):
            return await self._rcon(key, action, extra)
        try:
            return await self._write(key, action, extra)
        except KubeError as exc:
            if exc.not_found:
                kind, namespace, name = _target(action)
                self.store.drop(kind, namespace, name)
                return False
            if exc.conflict:
                await self._refresh(*_target(action))
                return False
            raise

    async def _write(self, key: str, action: Action, extra: Mapping[str, str]) -> bool:
        if isinstance(action, PatchStatus):
            body = {"status": action.patch}
            written = await self.kube.merge_patch(
                action.kind, action.namespace, action.name, body, subresource="status"
            )
            self.store.put(written)
        elif isinstance(action, PatchObject):
            written = await self.kube.merge_patch(
                action.kind, action.namespace, action.name, action.patch
            )
            self.store.put(written)
        elif isinstance(action, Create):
            return await self._create(key, action, extra)
        elif isinstance(action, Delete):
            propagation = "Background"
            await self.kube.delete(
                action.kind, action.namespace, action.name, propagation=propagation
            )
            self.store.drop(action.kind, action.namespace, action.name)
            log.info("deleted %s %s", action.kind, action.name, extra=dict(extra))
        return True

    async def _create(self, key: str, action: Create, extra: Mapping[str, str]) -> bool:
        body = action.body
        kind, meta = body["kind"], body["metadata"]
        self._refusals.pop((key, action.tag), None)
        try:
            created = await self.kube.create(body)
        except KubeError as exc:
            if exc.conflict:  # it exists already: what the plan wanted
                await self._refresh(kind, meta["namespace"], meta["name"])
                return True
            if exc.status not in REFUSALS:
                raise
            message = str(exc.body.get("message") or exc)
            self._refusals[key, action.tag] = message
            log.warning(
                "the API server refused %s %s (%d): %s",
                kind,
                meta["name"],
                exc.status,
                message,
                extra=dict(extra),
            )
            if action.about is not None and self._reported.get((key, action.tag)) != message:
                self._reported[key, action.tag] = message
                reason = f"{kind}Refused"
                text = f"the API server refused {kind} {meta['name']}: {message}"
                await self.recorder.record(action.about, warning=True, reason=reason, message=text)
            return False
        self._reported.pop((key, action.tag), None)
        self.store.put(created)
        log.info("created %s %s", kind, meta["name"], extra=dict(extra))
        return True

    async def _refresh(self, kind: str, namespace: str, name: str) -> None:
        live = await self.kube.get(kind, namespace, name)
        if live is None:
            self.store.drop(kind, namespace, name)
        else:
            self.store.put(live)

    async def _rcon(self, key: str, action: Rcon, extra: Mapping[str, str]) -> bool:
        try:
            target = await self._locate(action.namespace, action.server)
            for command in action.commands:
                timeout = FLUSH_TIMEOUT if command.startswith("save-all") else COMMAND_TIMEOUT
                answer = await self._run(target, command, timeout)
                log.info("ran %r: %s", command, answer.strip()[:200], extra=dict(extra))
        except rcon.RconError as exc:
            now = self._clock()
            before = self._failures.get((key, action.tag))
            first = before.first if before is not None else now
            self._failures[key, action.tag] = Failure(str(exc), first, now)
            log.warning("%s over RCON failed: %s", action.tag, exc, extra=dict(extra))
            return False
        self._failures.pop((key, action.tag), None)
        return True


def _target(action: Action) -> tuple[str, str, str]:
    if isinstance(action, Create):
        meta = action.body["metadata"]
        return action.body["kind"], meta["namespace"], meta["name"]
    assert not isinstance(action, Rcon | Record)
    return action.kind, action.namespace, action.name
