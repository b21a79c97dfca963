"""Deciding a reconcile (pure): from what was gathered to the writes, status and events it needs.

The reconciler gathers (the CR, its children, the player count, what was last published),
calls `plan`, and performs the plan. Everything that decides lives here, so each case is a
table-driven test without a cluster; running `plan` on what its own plan produced must give
a plan that changes nothing (see the tests' "reconcile twice").

A plan that writes children describes the status as it was *before* those writes (it depends
on the API server's answers), so the reconciler applies the writes, gathers and asks again.
A server held for a restore (`backups.hold`) is planned as if spec.stopped were true.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, Final

from pydantic import ValidationError

from craftplane.contracts.cr_events import phase_event, spec_event
from craftplane.contracts.events import Event, EventType, state_key
from craftplane.contracts.names import FINALIZER
from craftplane.contracts.status import Phase
from craftplane_operator import hibernation
from craftplane_operator.backups.hold import describe, held, hold_reason
from craftplane_operator.builders import build_children, existing_password
from craftplane_operator.builders.context import ServerContext
from craftplane_operator.builders.naming import (
    PODS_SERVICE_SLOT,
    child_slot,
    configmap_name,
    headless_service_name,
    pod_name,
    pvc_name,
    secret_name,
    service_name,
    statefulset_name,
)
from craftplane_operator.conditions import (
    Upkept,
    desired_status,
    hostname_events,
    hostnames_condition,
    problem_events,
    status_patch,
)
from craftplane_operator.disruption import Notice as KubeEvent
from craftplane_operator.disruption import Upkeep
from craftplane_operator.gathered import Gathered as Gathered  # re-exported
from craftplane_operator.gathered import read_spec
from craftplane_operator.matching import up_to_date
from craftplane_operator.merge_patch import merge_patch as merge_patch  # re-exported
from craftplane_operator.ownership import guard
from craftplane_operator.phase import Derived, Observed, Reason, derive, with_problem
from craftplane_operator.players import Target, ping_target
from craftplane_operator.profiles import (
    UNCHECKED,
    hold_placement,
    judge_placement,
)
from craftplane_operator.routing import Routes, route_server
from craftplane_operator.sleep_plan import mark, sleep_of
from craftplane_operator.statefulset_migration import OrphanReplace, fit_immutable, replacement
from craftplane_operator.upkeep import AllowlistJob, plan_day2
from craftplane_operator.volume import STORAGE_NOT_APPLIED, VolumeResize, plan_resize

Obj = dict[str, Any]

# The children a reconcile reads, by kind, and how each is named after its server.
CHILD_NAMES: Final = {
    "Secret": secret_name,
    "ConfigMap": configmap_name,
    "Service": service_name,
    PODS_SERVICE_SLOT: headless_service_name,
    "StatefulSet": statefulset_name,
    "Pod": pod_name,
    "PersistentVolumeClaim": pvc_name,
}

TERMINATING: Final = Derived(
    phase=Phase.TERMINATING,
    reason=Reason.DELETING,
    message="the server is being deleted",
    progressing=True,
)


@dataclass(frozen=True)
class ChildApply:
    action: str  # "created" or "repaired", for the log
    desired: Obj


@dataclass(frozen=True)
class Transition:
    old: str | None
    new: Phase
    reason: str


@dataclass(frozen=True)
class StatusPlan:
    patch: Obj | None  # merge patch for the status subresource; None: already says it
    spec_events: tuple[Event, ...]  # server.created / server.updated
    kube_events: tuple[KubeEvent, ...]
    transition: Transition | None
    phase: Phase
    # The phase event to publish, None when the last one published says the same. Its id holds
    # the resourceVersion (rebuilt after a status write); the decision rests on the state key.
    phase_event: Event | None
    ping: Target | None


@dataclass(frozen=True)
class Finalize:
    deleted: Event  # server.deleted, published even if published before
    patch: Obj  # removes our finalizer


@dataclass(frozen=True)
class Plan:
    key: str
    finalizer_patch: Obj | None = None
    children: tuple[ChildApply, ...] = ()
    resize: VolumeResize | None = None
    replace: OrphanReplace | None = None  # a StatefulSet whose immutable fields changed
    status: StatusPlan | None = None
    # Terminating status is a courtesy: failing to write it must not hold up the deletion.
    status_best_effort: bool = False
    finalize: Finalize | None = None
    forget: bool = False  # stop pinging and counting the server
    timed: bool = False  # a full reconcile of a valid server (what the duration metric measures)
    upkeep: Upkeep | None = None  # announcements to start, when to wake up
    allowlist: AllowlistJob | None = None  # sync the allowlist over RCON (when due)
    # Hibernates in this plan: ping for a fresh player count and plan again before acting,
    # so a player who joined since the last ping is not stopped on (mc-router's R#507).
    confirm_empty: bool = False

    @property
    def writes(self) -> bool:
        """Whether it changes the CR's metadata or children (then the status comes later)."""
        return bool(self.finalizer_patch or self.children or self.resize or self.replace)

    @property
    def changes_nothing(self) -> bool:
        """No write, no event: what a reconcile of an unchanged server plans (tracking the same
        ping target and counting the same phase again are no-ops)."""
        status = self.status
        quiet = status is None or (
            status.patch is None
            and not status.spec_events
            and not status.kube_events
            and status.transition is None
            and status.phase_event is None
        )
        return quiet and not self.writes and self.finalize is None


def plan(seen: Gathered) -> Plan:
    """What one reconcile must do; the same `Gathered` always gives the same `Plan`."""
    body = seen.body
    if body is None:
        return Plan(seen.key, forget=True)
    if body["metadata"].get("deletionTimestamp"):
        return _deletion(seen, body)
    finalizer_patch = _finalizer_patch(body)
    server = seen.spec
    if server is None:
        server = read_spec(body)
    if isinstance(server, ValidationError):
        status = _status(seen, body, _invalid(server), max_players=None)
        return Plan(seen.key, finalizer_patch=finalizer_patch, status=status)
    assert server is not None  # not deleting: read_spec parsed it
    # Only what this server controls is read, applied or reported on.
    guarded = guard(server.uid, seen.children, seen.refusals)
    live = guarded.live
    pvc, sts = live.get("PersistentVolumeClaim"), live.get("StatefulSet")
    server = held(server, hold_reason(body, pvc, sts))
    previous: Mapping[str, Any] = body.get("status") or {}
    sleep = sleep_of(seen, previous, server, _observed(server, live))
    server = hibernation.planned(server, sleep)
    resize, problem = plan_resize(
        server.spec.storage, live.get("PersistentVolumeClaim"), seen.volume_refusal
    )
    observed = _observed(server, live)
    routes = route_server(
        server, seen.tenant, seen.routing, seen.holders, observed.service, observed.pod
    )
    server = replace(server, hostnames=routes.hostnames)  # the Service names them
    derived = replace(describe(derive(observed, seen.now), server), address=routes.address)
    if problem is not None:
        derived = with_problem(derived, STORAGE_NOT_APPLIED, problem)
    unplaced = seen.placement_problem
    held_all = unplaced is not None and unplaced.reason in UNCHECKED
    derived = guarded.judge(judge_placement(derived, unplaced, live.get("StatefulSet")))
    desired = _desired(server, live, seen.new_password, guarded.skip)
    day2 = plan_day2(
        server,
        previous,
        live,
        hold_placement(desired, live.get("StatefulSet"), unplaced),
        derived,
        players=seen.players,
        countdown=seen.countdown,
        outcome=seen.allowlist,
        now=seen.now,
    )
    day2 = mark(day2, sleep, server, previous.get("conditions") or [], seen.now)
    max_players = server.spec.properties.max_players
    return Plan(
        seen.key,
        finalizer_patch=finalizer_patch,
        children=_changes(day2.children, live, server.name),
        resize=None if held_all else resize,
        replace=None if held_all else replacement(server.name, live.get("StatefulSet")),
        status=_status(
            seen,
            body,
            day2.derived,
            max_players=max_players,
            day2=(day2.upkept, day2.notices),
            routes=routes,
        ),
        timed=True,
        upkeep=day2.upkeep,
        allowlist=day2.allowlist,
        confirm_empty=sleep.confirm_empty,
    )


def _observed(server: ServerContext, live: Mapping[str, Obj | None]) -> Observed:
    return Observed(
        body=_body_of(server),
        statefulset=live.get("StatefulSet"),
        pod=live.get("Pod"),
        pvc=live.get("PersistentVolumeClaim"),
        service=live.get("Service"),
    )


def _finalizer_patch(body: Obj) -> Obj | None:
    meta = body["metadata"]
    finalizers = list(meta.get("finalizers") or [])
    if FINALIZER in finalizers:
        return None
    return {
        "metadata": {
            "finalizers": [*finalizers, FINALIZER],
            "resourceVersion": meta["resourceVersion"],
        }
    }


def _desired(
    server: ServerContext,
    live: Mapping[str, Obj | None],
    new_password: str,
    skip: frozenset[str] = frozenset(),
) -> list[Obj]:
    # Never a new RCON password over an existing one: the running server would lock us out.
    password = existing_password(live.get("Secret")) or new_password
    built = []
    for desired in build_children(server, password):
        slot = child_slot(desired, server.name)
        if slot in skip:
            continue  # someone else's object holds the name, or one the pod needs is
        current = live.get(slot)
        if desired["kind"] == "StatefulSet" and not fit_immutable(server.name, desired, current):
            continue  # being replaced or deleted
        built.append(desired)
    return built


def _changes(
    desired: list[Obj], live: Mapping[str, Obj | None], server_name: str
) -> tuple[ChildApply, ...]:
    changes = []
    for child in desired:
        current = live.get(child_slot(child, server_name))
        if not up_to_date(current, child):
            changes.append(ChildApply("created" if current is None else "repaired", child))
    return tuple(changes)


def _status(
    seen: Gathered,
    body: Obj,
    derived: Derived,
    *,
    max_players: int | None,
    day2: tuple[Upkept, tuple[KubeEvent, ...]] | None = None,
    routes: Routes | None = None,
) -> StatusPlan:
    meta = body["metadata"]
    previous: Mapping[str, Any] = body.get("status") or {}
    generation = int(meta.get("generation") or 1)
    upkept, notices = day2 or (_kept(previous), ())
    desired = desired_status(
        derived, previous, generation, seen.now, seen.players, upkept, routes=routes
    )
    patch = status_patch(previous, desired)
    after = body if patch is None else {**body, "status": merge_patch(previous, patch)}
    kube_events = [*problem_events(previous, derived), *notices]
    if routes is not None:
        conditions = previous.get("conditions") or []
        accepted = hostnames_condition(routes, conditions, generation, seen.now)
        kube_events.extend(hostname_events(conditions, accepted))
    old_phase = previous.get("phase")
    transition = None
    if old_phase != derived.phase.value:
        transition = Transition(old_phase, derived.phase, str(derived.reason))
        # Failing for a problem whose own Warning is in this pass: one event says it.
        if all(e.reason != derived.reason for e in kube_events):
            message = f"{derived.phase.value}: {derived.message}"
            kube_events.append(KubeEvent(derived.phase is Phase.ERROR, derived.reason, message))
    event = phase_event(after, seen.tenant)
    if event is not None and state_key(event) == seen.published:
        event = None
    return StatusPlan(
        patch=patch,
        spec_events=_spec_events(previous, after, seen.tenant),
        kube_events=tuple(kube_events),
        transition=transition,
        phase=derived.phase,
        phase_event=event,
        ping=ping_target(after, derived, max_players, **seen.ping_reach),
    )


def _kept(previous: Mapping[str, Any]) -> Upkept:
    """An invalid spec or a deletion: the restart records stay as they were."""
    return Upkept(
        next_restart=previous.get("nextRestart"),
        last_restart=previous.get("lastRestart"),
        hibernation=hibernation.read_record(previous),
    )


def _spec_events(previous: Mapping[str, Any], body: Obj, tenant: str | None) -> tuple[Event, ...]:
    observed = previous.get("observedGeneration")
    generation = body["metadata"].get("generation")
    if observed is None:
        return (spec_event(EventType.SERVER_CREATED, body, tenant),)
    if generation is not None and generation > observed:
        return (spec_event(EventType.SERVER_UPDATED, body, tenant),)
    return ()


def _invalid(exc: ValidationError) -> Derived:
    fields = "; ".join(
        f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
    )
    return Derived(
        phase=Phase.ERROR,
        reason=Reason.INVALID_SPEC,
        message=f"the spec is invalid: {fields}",
        degraded=True,
    )


def _deletion(seen: Gathered, body: Obj) -> Plan:
    meta = body["metadata"]
    finalizers = list(meta.get("finalizers") or [])
    if FINALIZER not in finalizers:
        return Plan(seen.key)
    status = None
    if (body.get("status") or {}).get("phase") != Phase.TERMINATING.value:
        status = _status(seen, body, TERMINATING, max_players=None)
    finalizers.remove(FINALIZER)
    # Children go with the CR through their owner references; the world's PVC stays or goes
    # with the StatefulSet's persistentVolumeClaimRetentionPolicy.
    patch = {"metadata": {"finalizers": finalizers, "resourceVersion": meta["resourceVersion"]}}
    return Plan(
        seen.key,
        status=status,
        status_best_effort=True,
        finalize=Finalize(spec_event(EventType.SERVER_DELETED, body, seen.tenant), patch),
        forget=True,
    )


def _body_of(server: ServerContext) -> Obj:
    """The CR as the phase derivation needs it (metadata and spec)."""
    return {
        "metadata": {
            "name": server.name,
            "namespace": server.namespace,
            "uid": server.uid,
            "generation": server.generation,
            "annotations": dict(server.annotations),
        },
        "spec": server.spec.model_dump(mode="json", by_alias=True),
    }
