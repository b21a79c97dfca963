"""Gathering what a backup plan needs: the store first, the API where the store may lag.

The store holds what the watches said (backups, restores, servers, and the children and Jobs
carrying the operator's label). Where acting on a stale answer would do harm (copying a
server believed stopped, restoring into a volume believed missing) an object missing from
the store is asked for by GET before the plan decides.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Final

from craftplane import logs
from craftplane.clock import utcnow
from craftplane.contracts.backup import (
    BACKUP_COMPONENTS,
    BACKUP_KIND,
    LABEL_COMPONENT,
    REPOSITORY_SECRET,
    RESTORE_HOLD_ANNOTATION,
    RESTORE_KIND,
    BackupPhase,
    RestorePhase,
)
from craftplane.contracts.names import KIND
from craftplane.kube import KubeClient, KubeError
from craftplane_operator.backups import observe as o
from craftplane_operator.backups.names import (
    COPY_CONTAINER,
    RETENTION_ANNOTATION,
    SUFFIX_COPY,
    SUFFIX_FORGET,
    SUFFIX_RESTORE,
    SUFFIX_RETENTION,
    job_name,
    restore_from_name,
)
from craftplane_operator.backups.perform import Performer
from craftplane_operator.backups.queueing import needs_attention
from craftplane_operator.backups.seen import (
    BackupSeen,
    Config,
    JobView,
    RestoreSeen,
    ServerSeen,
    ServerView,
)
from craftplane_operator.builders.naming import pod_name, pvc_name
from craftplane_operator.store import ObjectStore

log = logs.get_logger(__name__)

Obj = dict[str, Any]

PROGRESS_LINES: Final = 5
FAILURE_LINES: Final = 20


class ForeignJob(RuntimeError):
    """A Job holds the name this backup's Job would get but belongs to an older object of
    the same name (being garbage-collected): wait for it to go."""


@dataclass(frozen=True)
class _Archive:
    pod: Obj | None = None
    backup: Obj | None = None
    restore: Obj | None = None


class Gatherer:
    def __init__(
        self,
        kube: KubeClient,
        store: ObjectStore,
        performer: Performer,
        config: Config,
        players: Callable[[str], int],
        *,
        clock: Callable[[], datetime] = utcnow,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.kube = kube
        self.store = store
        self.performer = performer
        self.config = config
        self.players = players
        self._clock = clock
        self._monotonic = monotonic
        self._log_read: dict[str, float] = {}

    def forget(self, key: str) -> None:
        self._log_read.pop(key, None)

    async def _get(self, kind: str, namespace: str, name: str) -> Obj | None:
        """From the store, else from the API (and then stored)."""
        found = self.store.get(kind, namespace, name)
        if found is not None:
            return found
        live = await self.kube.get(kind, namespace, name)
        if live is not None:
            self.store.put(live)
        return live

    async def _server(self, namespace: str, name: str, *, live: bool) -> ServerView:
        body = await self._get(KIND, namespace, name)
        if body is None:
            return ServerView()
        fetch = self._get if live else self._stored
        return ServerView(
            body=body,
            pod=await fetch("Pod", namespace, pod_name(name)),
            pvc=await fetch("PersistentVolumeClaim", namespace, pvc_name(name)),
            statefulset=await fetch("StatefulSet", namespace, name),
        )

    async def _stored(self, kind: str, namespace: str, name: str) -> Obj | None:
        return self.store.get(kind, namespace, name)

    async def _repository(self, namespace: str) -> str | None:
        try:
            secret = await self.kube.get("Secret", namespace, REPOSITORY_SECRET)
        except KubeError as exc:
            return f"the Secret {REPOSITORY_SECRET} in namespace {namespace} cannot be read: {exc}"
        return o.repository_problem(secret, namespace)

    async def _job(self, key: str, namespace: str, name: str, owner_uid: str | None) -> JobView:
        job = self.store.get("Job", namespace, name)
        if job is None:
            return JobView()
        owners = [r.get("uid") for r in o.meta(job).get("ownerReferences") or []]
        if owner_uid is not None and owners and owner_uid not in owners:
            raise ForeignJob(f"Job {name} belongs to an older object of the same name")
        pod = o.pods_of_job(self.store.of_kind("Pod", namespace), name)
        if not o.job_active(job) and not o.terminated(pod):
            # The Job's and its pod's watch events come on separate streams: the outcome is
            # read from the pod as the API has it, not from a store a step behind.
            pods = await self.kube.list_objects("Pod", namespace, label_selector=f"job-name={name}")
            for found in pods:
                self.store.put(found)
            pod = o.pods_of_job(pods, name) or pod
        lines = self._log_lines(key, job, pod)
        log_tail = None
        if lines and pod is not None:
            try:
                log_tail = tuple(
                    await self.kube.pod_log_tail(
                        namespace, o.meta(pod)["name"], lines=lines, container=COPY_CONTAINER
                    )
                )
            except KubeError as exc:
                log.debug("could not read the log of Job %s: %s", name, exc)
        return JobView(job, pod, log_tail)

    def _log_lines(self, key: str, job: Mapping[str, Any], pod: Mapping[str, Any] | None) -> int:
        """How much of the pod's log to read now: a little for the progress, at most every
        few seconds; more once, when the Job failed."""
        if pod is None:
            return 0
        if o.job_active(job):
            if o.status(pod).get("phase") != "Running":
                return 0
            now = self._monotonic()
            if now - self._log_read.get(key, 0.0) < self.config.progress_seconds:
                return 0
            self._log_read[key] = now
            return PROGRESS_LINES
        outcome = o.job_outcome(job, pod, "")
        return FAILURE_LINES if outcome is not None and not outcome.succeeded else 0

    def _queue(self, namespace: str) -> tuple[Obj, ...]:
        return (
            *self.store.of_kind(BACKUP_KIND, namespace),
            *self.store.of_kind(RESTORE_KIND, namespace),
        )

    def _repository_jobs(self, namespace: str) -> tuple[Obj, ...]:
        jobs = self.store.of_kind("Job", namespace)
        return tuple(
            j
            for j in jobs
            if (o.meta(j).get("labels") or {}).get(LABEL_COMPONENT) in BACKUP_COMPONENTS
        )

    # -- the three kinds ------------------------------------------------------------------------

    async def backup(self, key: str, namespace: str, name: str) -> BackupSeen | None:
        backup = await self._get(BACKUP_KIND, namespace, name)
        if backup is None:
            return None
        uid = o.meta(backup).get("uid")
        status = o.status(backup)
        phase = status.get("phase")
        settled = phase in (BackupPhase.COMPLETED.value, BackupPhase.FAILED.value)
        deleting = o.deleting(backup)
        server_name = str((backup.get("spec") or {}).get("server") or "")
        server = await self._server(namespace, server_name, live=not settled or deleting)
        copy = await self._job(key, namespace, job_name(name, SUFFIX_COPY), uid)
        retention = await self._job(key, namespace, job_name(name, SUFFIX_RETENTION), uid)
        forget = await self._job(key, namespace, job_name(name, SUFFIX_FORGET), None)
        retention_due = (
            phase == BackupPhase.COMPLETED.value
            and status.get("trigger") == "scheduled"
            and o.annotations_of(backup).get(RETENTION_ANNOTATION) != "true"
            and retention.job is None
        )
        needs_repository = (not settled and copy.job is None) or deleting or retention_due
        scratch_name = str((status.get("verification") or {}).get("scratchServer") or "")
        scratch = self.store.get(KIND, namespace, scratch_name) if scratch_name else None
        scratch_restore = (
            self.store.get(RESTORE_KIND, namespace, restore_from_name(scratch_name))
            if scratch_name
            else None
        )
        return BackupSeen(
            backup=backup,
            now=self._clock(),
            config=self.config,
            server=server,
            repository=await self._repository(namespace) if needs_repository else None,
            copy=copy,
            retention=retention,
            forget=forget,
            queue=self._queue(namespace),
            repository_jobs=self._repository_jobs(namespace),
            failures=self.performer.failures(key),
            refusals=self.performer.refusals(key),
            scratch=scratch,
            scratch_restore=scratch_restore,
        )

    async def orphans(self, namespace: str, name: str) -> list[str]:
        """Jobs left by a backup that is gone (its forget Job is not owned by it)."""
        job = self.store.get("Job", namespace, job_name(name, SUFFIX_FORGET))
        return [] if job is None else [o.meta(job)["name"]]

    async def restore(self, key: str, namespace: str, name: str) -> RestoreSeen | None:
        restore = await self._get(RESTORE_KIND, namespace, name)
        if restore is None:
            return None
        spec, status = restore.get("spec") or {}, o.status(restore)
        phase = status.get("phase")
        settled = phase in (RestorePhase.COMPLETED.value, RestorePhase.FAILED.value)
        backup = await self._get(BACKUP_KIND, namespace, str(spec.get("backup") or ""))
        server = await self._server(namespace, str(spec.get("server") or ""), live=not settled)
        job = await self._job(
            key, namespace, job_name(name, SUFFIX_RESTORE), o.meta(restore).get("uid")
        )
        pending = phase in (None, "", RestorePhase.PENDING.value)
        needs_repository = pending or (phase == RestorePhase.RESTORING.value and job.job is None)
        return RestoreSeen(
            restore=restore,
            now=self._clock(),
            config=self.config,
            backup=backup,
            server=server,
            repository=await self._repository(namespace) if needs_repository else None,
            job=job,
            queue=self._queue(namespace),
            repository_jobs=self._repository_jobs(namespace),
            refusals=self.performer.refusals(key),
        )

    async def server(self, key: str, namespace: str, name: str) -> ServerSeen | None:
        server = await self._get(KIND, namespace, name)
        if server is None:
            return None
        spec: Mapping[str, Any] = server.get("spec") or {}
        wanted = bool(spec.get("restoreFrom")) or bool((spec.get("backups") or {}).get("schedule"))
        pvc_key = ("PersistentVolumeClaim", namespace, pvc_name(name))
        pvc = await self._get(*pvc_key) if wanted else self.store.get(*pvc_key)
        holder_name = o.annotations_of(server).get(RESTORE_HOLD_ANNOTATION)
        holder = await self._get(RESTORE_KIND, namespace, holder_name) if holder_name else None
        restore_from = None
        if spec.get("restoreFrom"):
            restore_from = await self._get(RESTORE_KIND, namespace, restore_from_name(name))
        archive = await self._archive(server, namespace, name)
        return ServerSeen(
            server=server,
            now=self._clock(),
            pvc=pvc,
            statefulset=await self._get("StatefulSet", namespace, name),
            restore_from=restore_from,
            holder=holder,
            players=self.players(f"{namespace}/{name}"),
            refusals=self.performer.refusals(key),
            pod=archive.pod,
            archive_backup=archive.backup,
            archive_restore=archive.restore,
            day_seconds=self.config.day_seconds,
        )

    async def _archive(self, server: Obj, namespace: str, name: str) -> _Archive:
        """What the archive of a server with spec.hibernation.archiveAfterDays (or one still
        archived) needs, read from the API: it decides whether a volume goes."""
        record = o.status(server).get("archive")
        wanted = bool(((server.get("spec") or {}).get("hibernation") or {}).get("archiveAfterDays"))
        if not isinstance(record, Mapping) and not wanted:
            return _Archive()
        found = _Archive(pod=await self._get("Pod", namespace, pod_name(name)))
        if not isinstance(record, Mapping):
            return found
        backup, restore = str(record.get("backup") or ""), str(record.get("restore") or "")
        return replace(
            found,
            backup=await self._get(BACKUP_KIND, namespace, backup) if backup else None,
            restore=await self._get(RESTORE_KIND, namespace, restore) if restore else None,
        )

    def related(self, namespace: str, server: str) -> list[tuple[str, str]]:
        """(kind, name) of the backups and restores of `server` that are not settled, and the
        backup a scratch server verifies: what a change of the server may move on."""
        body = self.store.get(KIND, namespace, server)
        verify = bool(((body or {}).get("spec") or {}).get("backups", {}).get("verify"))
        found = [
            (str(obj.get("kind")), o.meta(obj)["name"])
            for obj in self._queue(namespace)
            if (obj.get("spec") or {}).get("server") == server and needs_attention(obj, verify)
        ]
        for ref in o.meta(body).get("ownerReferences") or []:
            if ref.get("kind") == BACKUP_KIND:
                found.append((BACKUP_KIND, str(ref.get("name"))))
        return found
