"""Reconcile one MinecraftServer: gather what exists, plan (pure), apply the plan.

Level-based and idempotent: the outcome depends only on what the cluster says now, so running
it twice changes nothing the second time. What to do is decided in `planning`; this module
only reads (`gather`) and performs (`_write`, `_settle`) what the plan says.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import replace

from craftplane import logs
from craftplane.clock import utcnow
from craftplane.contracts.cr_events import phase_event
from craftplane.contracts.events import Event, EventKind, state_key
from craftplane.contracts.names import MANAGER_NAME, TENANT_LABEL
from craftplane.kube import KubeClient, KubeError, Obj
from craftplane_operator import metrics
from craftplane_operator.builders import ServerContext, existing_password, generate_password
from craftplane_operator.builders.naming import child_slot, slot_kind
from craftplane_operator.gathered import Gathered, read_spec
from craftplane_operator.hostname_index import HostnameIndex
from craftplane_operator.ownership import (
    APPLIED_SLOTS,
    STATEFULSET_NEEDS,
    ApplyRefusal,
    controlled_by,
    is_refusal,
)
from craftplane_operator.placement import Placement, placed
from craftplane_operator.planning import CHILD_NAMES, ChildApply, Plan, StatusPlan, plan
from craftplane_operator.players import PlayerTracker
from craftplane_operator.policies import PolicyDirectory
from craftplane_operator.profiles import Binding, governing_policy, profiled
from craftplane_operator.publisher import Publisher
from craftplane_operator.recorder import EventRecorder
from craftplane_operator.routing import RouterConfig
from craftplane_operator.statefulset_migration import replace_statefulset
from craftplane_operator.store import ObjectStore
from craftplane_operator.tenants import TenantDirectory
from craftplane_operator.upkeep_runner import UpkeepRunner

log = logs.get_logger(__name__)

KIND = "MinecraftServer"


class ApplyRefused(RuntimeError):
    """The API server refused a child (reported on the status): the work queue retries the
    server at its backoff rather than at once, or only at the next resync."""


def split_key(key: str) -> tuple[str, str]:
    namespace, name = key.split("/", 1)
    return namespace, name


class Reconciler:
    def __init__(
        self,
        kube: KubeClient,
        store: ObjectStore,
        publisher: Publisher,
        recorder: EventRecorder,
        tenants: TenantDirectory,
        players: PlayerTracker,
        *,
        ping_in_cluster: bool,
        ping_target_annotation: bool = False,
        placement: Placement | None = None,
        upkeep: UpkeepRunner | None = None,
        policies: PolicyDirectory | None = None,
        hostnames: HostnameIndex | None = None,
        hibernation_minute: float = 60.0,
    ) -> None:
        self.kube = kube
        self.store = store
        self.publisher = publisher
        self.recorder = recorder
        self.tenants = tenants
        self.players = players
        self.ping_in_cluster = ping_in_cluster
        self.ping_target_annotation = ping_target_annotation
        self.placement = placement
        self.upkeep = upkeep
        self.policies = policies  # None: no CraftplanePolicy is consulted
        # Who holds which custom hostname, and the settings it was built with.
        self.hostnames = hostnames if hostnames is not None else HostnameIndex(RouterConfig())
        self.hibernation_minute = hibernation_minute
        # The last phase-event state this process published per server uid: after a restart
        # it is empty, so every server's current state is published once (JetStream drops the
        # duplicates).
        self._published: dict[str, str] = {}
        self.phases = metrics.ServersByPhase()

    async def reconcile(self, key: str) -> None:
        started = time.perf_counter()
        seen = await self.gather(key)
        decided = plan(seen)
        if decided.confirm_empty:
            # About to hibernate on a count up to a ping interval old: ask the server again.
            await self.players.ping(key)
            seen = replace(seen, players=self.players.players(key))
            decided = plan(seen)
        if decided.writes:
            # What the status says depends on the API server's answers to these writes.
            seen = await self._write(decided, seen)
            decided = plan(seen)
        await self._settle(decided, seen)
        if self.upkeep is not None:
            self.upkeep.after(decided)
        if decided.timed:
            metrics.RECONCILE_SECONDS.observe(time.perf_counter() - started)
        if seen.refusals:
            # Reported on the status; the work queue's backoff paces the next attempt.
            raise ApplyRefused("; ".join(f"{r.kind} {r.name}: {r.message}" for r in seen.refusals))

    # -- gather -----------------------------------------------------------------------------

    async def gather(self, key: str) -> Gathered:
        namespace, name = split_key(key)
        body = self.store.get(KIND, namespace, name) or await self._fetch(namespace, name)
        if body is None:
            return Gathered(key, None, utcnow())
        labels = await self.tenants.labels_of(namespace)
        tenant = labels.get(TENANT_LABEL)
        spec = read_spec(body)
        uid = body["metadata"].get("uid", "")
        children: dict[str, Obj | None] = {}
        problem = None
        if isinstance(spec, ServerContext):
            # Where the server runs: its policy's profile (the admin's), then this cluster's
            # placement (node pool, image: the operator's configuration), which wins over it.
            outcome = profiled(spec, await self._binding(spec, labels))
            spec, problem = placed(outcome.server, self.placement), outcome.problem
            children = await self._children(namespace, name, uid)
        secret = children.get("Secret")
        # Someone else's Secret is never read, not even for its password.
        reused = existing_password(secret) if controlled_by(secret, uid) else None
        countdown, allowlist = self.upkeep.gathered(key) if self.upkeep else (None, None)
        asked = spec.spec.service.hostnames if isinstance(spec, ServerContext) else []
        return Gathered(
            key=key,
            body=body,
            now=utcnow(),
            tenant=tenant,
            spec=spec,
            children=children,
            new_password="" if reused else generate_password(),
            players=self.players.players(key),
            published=self._published.get(uid),
            ping_in_cluster=self.ping_in_cluster,
            ping_target_annotation=self.ping_target_annotation,
            countdown=countdown,
            allowlist=allowlist,
            placement_problem=problem,
            routing=self.hostnames.config,
            holders=self.hostnames.holders_of(asked),
            hibernation_minute=self.hibernation_minute,
        )

    async def _binding(self, server: ServerContext, labels: Mapping[str, str]) -> Binding | None:
        governing = governing_policy(labels, server.spec)
        if governing is None or self.policies is None:
            return None
        name, enforced = governing
        return Binding(await self.policies.get(name), enforced)

    async def _fetch(self, namespace: str, name: str) -> Obj | None:
        body = await self.kube.get(KIND, namespace, name)
        if body is not None:
            self.store.put(body)
        return body

    async def _children(self, namespace: str, name: str, uid: str) -> dict[str, Obj | None]:
        names = {kind: child_name(name) for kind, child_name in CHILD_NAMES.items()}
        found = {
            slot: self.store.get(slot_kind(slot), namespace, child) for slot, child in names.items()
        }
        for slot in APPLIED_SLOTS:
            if found[slot] is not None:
                continue
            # The store holds only what carries our label. Before applying under a name, ask
            # the API whether an object holds it: one the watch has not delivered yet (an
            # RCON password must never be regenerated over the running one), or someone
            # else's, which the apply would take over.
            live = await self.kube.get(slot_kind(slot), namespace, names[slot])
            found[slot] = live
            if live is not None and controlled_by(live, uid):
                # Not someone else's: no watch event would ever tell the store it is gone.
                self.store.put(live)
        return found

    # -- apply ------------------------------------------------------------------------------

    async def _write(self, decided: Plan, seen: Gathered) -> Gathered:
        """The plan's writes to the CR and its children; what was gathered, updated by them."""
        assert seen.body is not None
        body = seen.body
        meta = body["metadata"]
        server = f"{meta['namespace']}/{meta['name']}"
        if decided.finalizer_patch is not None:
            body = await self.kube.merge_patch(
                KIND, meta["namespace"], meta["name"], decided.finalizer_patch
            )
            self.store.put(body)
        live = dict(seen.children)
        refusals: list[ApplyRefusal] = []
        for change in decided.children:
            desired = change.desired
            slot = child_slot(desired, meta["name"])
            if slot == "StatefulSet" and {r.slot for r in refusals} & STATEFULSET_NEEDS:
                continue  # its pod would start without its own Secret or ConfigMap
            applied = await self._apply(change, slot, server)
            if isinstance(applied, ApplyRefusal):
                refusals.append(applied)
            else:
                live[slot] = applied
        refusal = None
        if decided.resize is not None:
            resize = decided.resize
            try:
                resized = await self.kube.merge_patch(
                    "PersistentVolumeClaim", meta["namespace"], resize.name, resize.patch
                )
            except KubeError as exc:
                if exc.status not in (403, 422):
                    raise
                refusal = (exc.body.get("message") or str(exc))[:300]
            else:
                self.store.put(resized)
                live["PersistentVolumeClaim"] = resized
                log.info(
                    "resizing PersistentVolumeClaim %s to %s",
                    resize.name,
                    resize.size,
                    extra={"server": server, "child": "PersistentVolumeClaim"},
                )
        if decided.replace is not None:
            live["StatefulSet"] = await replace_statefulset(
                self.kube, self.recorder, self.store, body, decided.replace
            )
        return replace(
            seen, body=body, children=live, volume_refusal=refusal, refusals=tuple(refusals)
        )

    async def _apply(self, change: ChildApply, slot: str, server: str) -> Obj | ApplyRefusal:
        """Server-side apply one child; the API server's 4xx answer as a refusal to report."""
        desired = change.desired
        kind, name = desired["kind"], desired["metadata"]["name"]
        try:
            applied = await self.kube.apply(desired, field_manager=MANAGER_NAME)
        except KubeError as exc:
            if not is_refusal(exc.status):
                raise
            message = str(exc.body.get("message") or exc)
            log.warning(
                "the API server refused %s %s (%d): %s",
                kind,
                name,
                exc.status,
                message,
                extra={"server": server, "child": kind},
            )
            return ApplyRefusal(slot, kind, name, exc.status, message)
        self.store.put(applied)
        log.info("%s %s %s", change.action, kind, name, extra={"server": server, "child": kind})
        return applied

    async def _settle(self, decided: Plan, seen: Gathered) -> None:
        """The plan's status, events and finalization (its writes, if any, are done)."""
        key = decided.key
        if decided.status is not None and seen.body is not None:
            if decided.status_best_effort:
                try:
                    await self._apply_status(key, decided.status, seen.body, seen.tenant)
                except KubeError as exc:
                    log.warning("could not write Terminating status for %s: %s", key, exc)
            else:
                await self._apply_status(key, decided.status, seen.body, seen.tenant)
        if decided.finalize is not None and seen.body is not None:
            meta = seen.body["metadata"]
            self._publish(decided.finalize.deleted, force=True)
            await self.kube.merge_patch(
                KIND, meta["namespace"], meta["name"], decided.finalize.patch
            )
            log.info("finalized; children are garbage-collected", extra={"server": key})
            self.store.drop(KIND, meta["namespace"], meta["name"])
        if decided.forget:
            self.players.track(key, None)
            self.phases.set(key, None)

    async def _apply_status(
        self, key: str, status: StatusPlan, body: Obj, tenant: str | None
    ) -> None:
        meta = body["metadata"]
        if status.patch is not None:
            body = await self.kube.merge_patch(
                KIND,
                meta["namespace"],
                meta["name"],
                {"status": status.patch},
                subresource="status",
            )
            self.store.put(body)
        for event in status.spec_events:
            self._publish(event)
        if status.transition is not None:
            transition = status.transition
            log.info(
                "phase %s -> %s (%s)",
                transition.old or "-",
                transition.new.value,
                transition.reason,
                extra={"server": key, "phase": transition.new.value, "reason": transition.reason},
            )
        for kube_event in status.kube_events:
            await self.recorder.record(
                body,
                warning=kube_event.warning,
                reason=kube_event.reason,
                message=kube_event.message,
            )
        self.phases.set(key, status.phase)
        if status.phase_event is not None:
            # The written body's resourceVersion is part of the event's id.
            written = phase_event(body, tenant) if status.patch is not None else None
            self._publish(written or status.phase_event)
        self.players.track(key, status.ping)

    def _publish(self, event: Event, *, force: bool = False) -> None:
        """Submit an event; a phase event is remembered, and unless forced, sent only when new."""
        if event.type.kind is EventKind.STATUS:
            uid = event.server.uid
            state = state_key(event)
            if not force and self._published.get(uid) == state:
                return
            self._published[uid] = state
        self.publisher.submit(event)

    async def republish(self, namespace: str | None, name: str | None) -> int:
        """Answer sync.required: publish the current state of the servers asked about."""
        if namespace and name:
            one = await self.kube.get(KIND, namespace, name)
            bodies = [one] if one else []
        else:
            bodies = await self.kube.list_objects(KIND, namespace)
        for body in bodies:
            tenant = await self.tenants.tenant_of(body["metadata"]["namespace"])
            event = phase_event(body, tenant)
            if event is not None:
                self._publish(event, force=True)
        return len(bodies)
