"""The backup controllers: one work queue key per MinecraftBackup, MinecraftRestore and
server (its backup side), each reconciled by gather -> plan (pure) -> perform, repeated
until the plan is settled.

Keys name the kind: `MinecraftBackup/<ns>/<name>`, `MinecraftRestore/<ns>/<name>`,
`MinecraftServer/<ns>/<name>`. A change of a server (its CR, pod, volume) reconciles its
backup side, which passes the change on to the backups and restores of that server still
in progress; each also asks to be looked at again when its plan says (a running Job's
progress, a wait) and the server at its next backup slot.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any, Final, TypeVar

from craftplane import logs
from craftplane.contracts.backup import BACKUP_KIND, RESTORE_KIND
from craftplane.contracts.names import KIND
from craftplane.kube import KubeClient
from craftplane_operator.backups.actions import Step
from craftplane_operator.backups.backup_plan import plan_backup
from craftplane_operator.backups.gather import ForeignJob, Gatherer
from craftplane_operator.backups.jobs import JobConfig
from craftplane_operator.backups.perform import Locate, Performer, Run
from craftplane_operator.backups.restore_plan import plan_restore
from craftplane_operator.backups.seen import Config
from craftplane_operator.backups.server_plan import plan_server
from craftplane_operator.recorder import EventRecorder
from craftplane_operator.settings import OperatorSettings
from craftplane_operator.store import ObjectStore
from craftplane_operator.upkeep_runner import Alarms

log = logs.get_logger(__name__)

# Bounds one reconcile; a plan that keeps asking for the same failed step waits this long.
MAX_STEPS: Final = 12
STALLED_SECONDS: Final = 30.0
FOREIGN_SECONDS: Final = 5.0
KINDS: Final = (BACKUP_KIND, RESTORE_KIND, KIND)

Seen = TypeVar("Seen")


def key_of(kind: str, namespace: str, name: str) -> str:
    return f"{kind}/{namespace}/{name}"


def split_key(key: str) -> tuple[str, str, str]:
    kind, namespace, name = key.split("/", 2)
    return kind, namespace, name


class BackupController:
    def __init__(
        self,
        kube: KubeClient,
        store: ObjectStore,
        recorder: EventRecorder,
        *,
        locate: Locate,
        run: Run,
        config: Config,
        players: Callable[[str], int],
        add: Callable[[str], None],
        add_after: Callable[[str, float], None],
    ) -> None:
        self.store = store
        self.performer = Performer(kube, store, recorder, locate, run)
        self.gatherer = Gatherer(kube, store, self.performer, config, players)
        self._add = add
        self._add_after = add_after
        self.alarms = Alarms(add)

    def server_changed(self, server_key: str) -> None:
        """A server (`ns/name`) or one of its children changed."""
        namespace, name = server_key.split("/", 1)
        self._add(key_of(KIND, namespace, name))

    def add(self, kind: str, namespace: str, name: str) -> None:
        self._add(key_of(kind, namespace, name))

    async def reconcile(self, key: str) -> None:
        kind, namespace, name = split_key(key)
        if kind == BACKUP_KIND:
            extra = self._extra(kind, namespace, name, "backup")
            gathered = await self._drive(
                key, lambda: self.gatherer.backup(key, namespace, name), plan_backup, extra
            )
            if not gathered:
                await self._orphans(namespace, name, extra)
        elif kind == RESTORE_KIND:
            extra = self._extra(kind, namespace, name, "restore")
            await self._drive(
                key, lambda: self.gatherer.restore(key, namespace, name), plan_restore, extra
            )
        elif kind == KIND:
            await self._server(key, namespace, name)
        else:
            log.warning("unknown backup work key %s", key)

    def _extra(self, kind: str, namespace: str, name: str, field: str) -> dict[str, str]:
        body = self.store.get(kind, namespace, name) or {}
        server = str((body.get("spec") or {}).get("server") or "")
        return {"namespace": namespace, "server": f"{namespace}/{server}", field: name}

    async def _drive(
        self,
        key: str,
        gather: Callable[[], Awaitable[Seen | None]],
        plan: Callable[[Seen], Step],
        extra: dict[str, str],
    ) -> bool:
        """Plan and perform until settled; False when the object is gone."""
        failed: Step | None = None
        step = Step()
        for _ in range(MAX_STEPS):
            try:
                seen = await gather()
            except ForeignJob as exc:
                log.info("%s; looking again in %.0f s", exc, FOREIGN_SECONDS, extra=extra)
                self._add_after(key, FOREIGN_SECONDS)
                return True
            if seen is None:
                self.performer.forget(key)
                self.gatherer.forget(key)
                return False
            step = plan(seen)
            if step.settled:
                break
            if step == failed:  # the plan has nothing else to try for now
                self._add_after(key, STALLED_SECONDS)
                return True
            failed = None if await self.performer.run(key, step, extra) else step
        else:
            log.warning("not settled after %d steps; looking again soon", MAX_STEPS, extra=extra)
            self._add_after(key, STALLED_SECONDS)
            return True
        if step.requeue_after is not None:
            self._add_after(key, step.requeue_after)
        return True

    async def _orphans(self, namespace: str, name: str, extra: dict[str, str]) -> None:
        """A gone backup's forget Job (not owned by it, so not garbage-collected)."""
        for job in await self.gatherer.orphans(namespace, name):
            await self.performer.kube.delete("Job", namespace, job, propagation="Background")
            self.store.drop("Job", namespace, job)
            log.info("deleted Job %s of a deleted backup", job, extra=extra)

    async def _server(self, key: str, namespace: str, name: str) -> None:
        extra = {"namespace": namespace, "server": f"{namespace}/{name}"}
        wake: list[Any] = [None]

        async def gather() -> Any:
            return await self.gatherer.server(key, namespace, name)

        def plan(seen: Any) -> Step:
            decided = plan_server(seen)
            wake[0] = decided.wake_at
            return decided.step

        present = await self._drive(key, gather, plan, extra)
        self.alarms.wake_at(key, wake[0] if present else None)
        for kind, other in self.gatherer.related(namespace, name):
            self._add(key_of(kind, namespace, other))

    def stop(self) -> None:
        self.alarms.stop()


def config_from(settings: OperatorSettings) -> Config:
    """The backup Jobs' and deadlines' settings."""
    return Config(
        jobs=JobConfig(
            image=settings.backup_image,
            requests={"cpu": settings.backup_cpu_request, "memory": settings.backup_memory_request},
            limits={"cpu": settings.backup_cpu_limit, "memory": settings.backup_memory_limit},
            deadline_seconds=settings.backup_deadline_seconds,
        ),
        progress_seconds=settings.backup_progress_seconds,
        verify_deadline=timedelta(seconds=settings.backup_verify_deadline_seconds),
        restore_start_deadline=timedelta(seconds=settings.restore_start_deadline_seconds),
        day_seconds=settings.hibernation_day_seconds,
    )
