"""The reconcile planner: what it writes, reports and publishes for each situation (no cluster)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import pytest

from craftplane.contracts.cr_events import phase_event
from craftplane.contracts.events import EventType, state_key
from craftplane.contracts.names import FINALIZER, PING_TARGET_ANNOTATION
from craftplane.contracts.status import Phase, Players
from craftplane_operator.builders import existing_password
from craftplane_operator.builders.naming import child_slot
from craftplane_operator.planning import Gathered, Plan, merge_patch, plan
from craftplane_operator.players import Target
from tests.unit.operator.factories import NAME, cr_body, merge, pod, pvc, service, statefulset

pytestmark = pytest.mark.unit

NOW = datetime(2025, 1, 1, 12, 0, 0, tzinfo=UTC)
KEY = "team-a/survival"
PASSWORD = "fresh-password-from-the-gatherer"


def body(
    spec: dict[str, Any] | None = None, *, status: dict[str, Any] | None = None, **metadata: Any
) -> dict[str, Any]:
    metadata.setdefault("resourceVersion", "100")
    metadata.setdefault("finalizers", [FINALIZER])
    cr = cr_body(spec, **metadata)
    if status is not None:
        cr["status"] = status
    return cr


def gathered(cr: dict[str, Any] | None, **found: Any) -> Gathered:
    found.setdefault("new_password", PASSWORD)
    found.setdefault("tenant", "acme")
    return Gathered.of(KEY, cr, NOW, **found)


# -- a fake API server: it stores what it is sent, as the reconciler's applier sends it ------


def created(
    desired: dict[str, Any], current: dict[str, Any] | None = None, revision: str = "1"
) -> dict[str, Any]:
    """What a server-side apply answers: the fields sent, over what was there (e.g. status)."""
    live = merge(current or {}, desired)
    live["metadata"]["resourceVersion"] = revision
    if live["kind"] == "Service":
        live["spec"].setdefault("clusterIP", "10.96.0.10")  # a headless one says "None"
    return live


def write(decided: Plan, seen: Gathered) -> Gathered:
    assert seen.body is not None
    cr = seen.body
    if decided.finalizer_patch is not None:
        cr = merge_patch(cr, decided.finalizer_patch)
        cr["metadata"]["resourceVersion"] = "101"
    live = dict(seen.children)
    for change in decided.children:
        slot = child_slot(change.desired, NAME)
        live[slot] = created(change.desired, live.get(slot))
    if decided.replace is not None:
        # An orphaning delete: the StatefulSet lingers, terminating, until the GC is done.
        gone = live["StatefulSet"]
        assert gone is not None
        live["StatefulSet"] = merge(
            gone, {"metadata": {"deletionTimestamp": "2025-01-01T12:00:00Z"}}
        )
    if decided.resize is not None:
        current = live["PersistentVolumeClaim"]
        assert current is not None
        live["PersistentVolumeClaim"] = merge_patch(current, decided.resize.patch)
    return replace(seen, body=cr, children=live)


def settle(decided: Plan, seen: Gathered) -> Gathered:
    """What the next reconcile gathers after the plan's status and events were applied."""
    assert seen.body is not None and decided.status is not None
    cr = seen.body
    if decided.status.patch is not None:
        cr = {**cr, "status": merge_patch(cr.get("status") or {}, decided.status.patch)}
        cr["metadata"] = {**cr["metadata"], "resourceVersion": "102"}
    published = seen.published
    if decided.status.phase_event is not None:
        event = phase_event(cr, seen.tenant)
        assert event is not None
        published = state_key(event)
    return replace(seen, body=cr, published=published, spec=None)


def reconcile(seen: Gathered) -> tuple[Plan, Gathered]:
    """One reconcile as the applier runs it: writes, then the status from a second plan."""
    decided = plan(seen)
    if decided.writes:
        seen = write(decided, seen)
        decided = plan(seen)
    return decided, settle(decided, seen)


# -- the table ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Expect:
    phase: Phase | None = None
    reason: str | None = None
    children: tuple[str, ...] = ()  # "created Secret", ...
    finalizer: bool = False
    spec_events: tuple[EventType, ...] = ()
    phase_event: EventType | None = None
    kube_events: tuple[tuple[bool, str], ...] = ()  # (warning, reason)
    ping: Target | None = None
    finalize: bool = False
    forget: bool = False


def summary(decided: Plan) -> Expect:
    status = decided.status
    return Expect(
        phase=status.phase if status else None,
        reason=(status.patch or {}).get("conditions", [{}])[0].get("reason") if status else None,
        children=tuple(f"{c.action} {c.desired['kind']}" for c in decided.children),
        finalizer=decided.finalizer_patch is not None,
        spec_events=tuple(e.type for e in status.spec_events) if status else (),
        phase_event=status.phase_event.type if status and status.phase_event else None,
        kube_events=tuple((k.warning, k.reason) for k in status.kube_events) if status else (),
        ping=status.ping if status else None,
        finalize=decided.finalize is not None,
        forget=decided.forget,
    )


ALL_CREATED = (
    "created Secret",
    "created ConfigMap",
    "created Service",  # the game Service
    "created Service",  # the headless governing Service
    "created StatefulSet",
)
RUNNING_STATUS = {"phase": "Running", "observedGeneration": 3}
RUNNING_CHILDREN = {"StatefulSet": statefulset(), "Pod": pod(ready=True), "Service": service()}

CASES: list[tuple[str, Gathered, Expect]] = [
    ("the server is gone", gathered(None), Expect(forget=True)),
    (
        "a new server: finalizer first, every child created, announced as created",
        gathered(body(finalizers=[])),
        Expect(
            phase=Phase.STARTING,
            reason="Creating",
            children=ALL_CREATED,
            finalizer=True,
            spec_events=(EventType.SERVER_CREATED,),
            phase_event=EventType.K8S_STARTING,
            kube_events=((False, "Creating"),),
        ),
    ),
    (
        "an invalid spec: Error/InvalidSpec, no children",
        gathered(body({"properties": {"maxPlayers": 0}})),
        Expect(
            phase=Phase.ERROR,
            reason="InvalidSpec",
            spec_events=(EventType.SERVER_CREATED,),
            phase_event=EventType.K8S_ERROR,
            kube_events=((True, "InvalidSpec"),),
        ),
    ),
    (
        "running, pinged at its cluster address, with the spec model's default of 20 players",
        gathered(body(), children=RUNNING_CHILDREN, ping_in_cluster=True),
        Expect(
            phase=Phase.RUNNING,
            reason="Running",
            children=(
                "created Secret",
                "created ConfigMap",
                "repaired Service",
                "created Service",
                "repaired StatefulSet",
            ),
            spec_events=(EventType.SERVER_CREATED,),
            phase_event=EventType.K8S_RUNNING,
            kube_events=((False, "Running"),),
            ping=Target("10.96.0.10:25565", 20),
        ),
    ),
    (
        "running outside the cluster: only an annotated target is pinged, with spec maxPlayers",
        gathered(
            body({"properties": {"maxPlayers": 50}}, annotations={PING_TARGET_ANNOTATION: "h:1"}),
            children=RUNNING_CHILDREN,
            ping_target_annotation=True,
        ),
        Expect(
            phase=Phase.RUNNING,
            reason="Running",
            children=(
                "created Secret",
                "created ConfigMap",
                "repaired Service",
                "created Service",
                "repaired StatefulSet",
            ),
            spec_events=(EventType.SERVER_CREATED,),
            phase_event=EventType.K8S_RUNNING,
            kube_events=((False, "Running"),),
            ping=Target("h:1", 50),
        ),
    ),
    (
        "a newer generation than observed: announced as updated",
        gathered(body(status={"phase": "Starting", "observedGeneration": 2})),
        Expect(
            phase=Phase.STARTING,
            reason="Creating",
            children=ALL_CREATED,
            spec_events=(EventType.SERVER_UPDATED,),
            phase_event=EventType.K8S_STARTING,
        ),
    ),
    (
        "being deleted: Terminating written, server.deleted published, finalizer removed",
        gathered(body(deletionTimestamp="2025-01-01T11:59:59Z", status=RUNNING_STATUS)),
        Expect(
            phase=Phase.TERMINATING,
            reason="Deleting",
            phase_event=EventType.SERVER_STATUS_CHANGED,
            kube_events=((False, "Deleting"),),
            finalize=True,
            forget=True,
        ),
    ),
    (
        "being deleted, already Terminating: only the finalization",
        gathered(body(deletionTimestamp="2025-01-01T11:59:59Z", status={"phase": "Terminating"})),
        Expect(finalize=True, forget=True),
    ),
    (
        "being deleted without our finalizer: nothing to do",
        gathered(body(deletionTimestamp="2025-01-01T11:59:59Z", finalizers=["other"])),
        Expect(),
    ),
]


@pytest.mark.parametrize(("seen", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_plan(seen: Gathered, expected: Expect) -> None:
    assert summary(plan(seen)) == expected


def test_deletion_publishes_server_deleted_and_removes_only_our_finalizer() -> None:
    cr = body(deletionTimestamp="2025-01-01T11:59:59Z", finalizers=["a", FINALIZER, "b"])
    decided = plan(gathered(cr))
    assert decided.finalize is not None and decided.status_best_effort
    assert decided.finalize.deleted.type is EventType.SERVER_DELETED
    assert decided.finalize.deleted.phase is Phase.TERMINATING
    assert decided.finalize.patch == {
        "metadata": {"finalizers": ["a", "b"], "resourceVersion": "100"}
    }


def test_the_finalizer_is_added_with_a_resource_version_precondition() -> None:
    decided = plan(gathered(body(finalizers=["other"])))
    assert decided.finalizer_patch == {
        "metadata": {"finalizers": ["other", FINALIZER], "resourceVersion": "100"}
    }


def test_an_existing_rcon_password_is_never_replaced() -> None:
    first = plan(gathered(body()))
    secret = created(first.children[0].desired)
    assert existing_password(secret) == PASSWORD
    again = plan(gathered(body(), children={"Secret": secret}, new_password="another"))
    assert "created Secret" not in summary(again).children
    assert all(c.desired["kind"] != "Secret" for c in again.children)


def test_volume_claim_templates_are_kept_from_the_live_statefulset() -> None:
    live = statefulset()
    live["spec"]["volumeClaimTemplates"] = [{"metadata": {"name": "as-created"}}]
    decided = plan(gathered(body({"storage": {"size": "50Gi"}}), children={"StatefulSet": live}))
    (sts,) = [c.desired for c in decided.children if c.desired["kind"] == "StatefulSet"]
    assert sts["spec"]["volumeClaimTemplates"] == [{"metadata": {"name": "as-created"}}]


def world_volume(size: str) -> dict[str, Any]:
    claim = pvc()
    claim["spec"] = {"resources": {"requests": {"storage": size}}}
    return claim


def test_a_larger_size_grows_the_volume() -> None:
    decided = plan(
        gathered(
            body({"storage": {"size": "20Gi"}}),
            children={"PersistentVolumeClaim": world_volume("10Gi")},
        )
    )
    assert decided.resize is not None
    assert decided.resize.patch == {"spec": {"resources": {"requests": {"storage": "20Gi"}}}}


@pytest.mark.parametrize(
    ("size", "refusal", "message"),
    [
        ("5Gi", None, "storage.size 5Gi is smaller than the world volume (10Gi)"),
        ("20Gi", "forbidden: no expansion", "the world volume cannot grow to 20Gi: forbidden"),
    ],
)
def test_storage_that_cannot_apply_is_a_problem_reported_once(
    size: str, refusal: str | None, message: str
) -> None:
    seen = gathered(
        body({"storage": {"size": size}}, status=RUNNING_STATUS),
        children={**RUNNING_CHILDREN, "PersistentVolumeClaim": world_volume("10Gi")},
        volume_refusal=refusal,
    )
    decided = plan(seen)
    assert decided.resize is None and decided.status is not None
    (problem,) = [k for k in decided.status.kube_events if k.reason == "StorageNotApplied"]
    assert problem.warning and problem.message.startswith(message)
    _, after = reconcile(seen)
    assert decided.status.phase is Phase.RUNNING
    assert plan(replace(after, volume_refusal=refusal)).status.kube_events == ()  # type: ignore[union-attr]


def test_a_phase_event_already_published_is_not_published_again() -> None:
    seen = gathered(body(status=RUNNING_STATUS), children=RUNNING_CHILDREN)
    decided, after = reconcile(seen)
    assert decided.status is not None and decided.status.phase_event is not None
    assert plan(after).status.phase_event is None  # type: ignore[union-attr]
    restarted = plan(replace(after, published=None))  # a new process has published nothing
    assert restarted.status is not None and restarted.status.phase_event is not None
    assert restarted.status.phase_event.id == phase_event(after.body, "acme").id  # type: ignore[union-attr,arg-type]


def test_players_are_reported_while_running_and_a_new_count_is_published() -> None:
    seen = gathered(body(), children=RUNNING_CHILDREN)
    _, after = reconcile(seen)
    counted = replace(after, players=Players(online=3, max=20, sample=["a", "b", "c"]))
    decided = plan(counted)
    assert decided.status is not None and decided.status.patch is not None
    assert decided.status.patch["players"]["online"] == 3
    assert decided.status.phase_event is not None
    assert decided.status.phase_event.players_online == 3


# -- reconcile twice, nothing changes -----------------------------------------------------

TWICE = [
    ("a new server", gathered(body(finalizers=[]))),
    ("a running server", gathered(body(), children=RUNNING_CHILDREN, ping_in_cluster=True)),
    ("a stopped server", gathered(body({"stopped": True}))),
    ("an invalid spec", gathered(body({"properties": {"maxPlayers": 0}}, finalizers=[]))),
    (
        "a volume that cannot shrink",
        gathered(
            body({"storage": {"size": "5Gi"}}),
            children={**RUNNING_CHILDREN, "PersistentVolumeClaim": world_volume("10Gi")},
        ),
    ),
    (
        "a volume to grow",
        gathered(
            body({"storage": {"size": "20Gi"}}),
            children={**RUNNING_CHILDREN, "PersistentVolumeClaim": world_volume("10Gi")},
        ),
    ),
]


@pytest.mark.parametrize("seen", [c[1] for c in TWICE], ids=[c[0] for c in TWICE])
def test_reconcile_twice_nothing_changes(seen: Gathered) -> None:
    first, after = reconcile(seen)
    assert not first.changes_nothing
    second = plan(after)
    assert second.changes_nothing, second
    assert second.status is not None and first.status is not None
    assert second.status.ping == first.status.ping


# -- a StatefulSet on the old serviceName ---------------------------------------------------


def _governed_by(service_name: str, **metadata: Any) -> dict[str, Any]:
    live = statefulset()
    live["spec"]["serviceName"] = service_name
    live["metadata"].update({"uid": "sts-uid", **metadata})
    return live


def test_a_statefulset_on_the_game_service_is_replaced_not_applied() -> None:
    decided = plan(
        gathered(body(), children={**RUNNING_CHILDREN, "StatefulSet": _governed_by(NAME)})
    )
    assert decided.replace is not None and decided.writes
    assert (decided.replace.name, decided.replace.uid) == (NAME, "sts-uid")
    assert (decided.replace.old_service, decided.replace.new_service) == (NAME, f"{NAME}-pods")
    assert all(c.desired["kind"] != "StatefulSet" for c in decided.children)


@pytest.mark.parametrize(
    "live",
    [
        _governed_by(NAME, deletionTimestamp="2025-01-01T11:59:00Z"),
        _governed_by(f"{NAME}-pods", deletionTimestamp="2025-01-01T11:59:00Z"),
    ],
    ids=["being replaced", "being deleted"],
)
def test_a_terminating_statefulset_is_left_alone(live: dict[str, Any]) -> None:
    decided = plan(gathered(body(), children={**RUNNING_CHILDREN, "StatefulSet": live}))
    assert decided.replace is None
    assert all(c.desired["kind"] != "StatefulSet" for c in decided.children)


def test_a_statefulset_on_the_headless_service_is_not_replaced() -> None:
    decided = plan(gathered(body(), children=RUNNING_CHILDREN))
    assert decided.replace is None
