"""Hibernation through whole plans: an empty server falls asleep by the day-2 stop path, a
join's request wakes it, and at no point is its spec written (GitOps owns spec.stopped)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from craftplane.contracts.cr_events import phase_event
from craftplane.contracts.events import EventType
from craftplane.contracts.hibernation import WAKE_REQUEST_ANNOTATION, WAKE_REQUESTER_ANNOTATION
from craftplane.contracts.status import Players
from craftplane_operator.disruption import CountdownView
from craftplane_operator.planning import Gathered, Plan, plan
from tests.unit.operator.factories import pod, service, statefulset
from tests.unit.operator.test_planning import NOW, RUNNING_CHILDREN, body, gathered, reconcile

pytestmark = pytest.mark.unit

SPEC = {"hibernation": {"afterEmptyMinutes": 10}}
EMPTY = Players(online=0, max=20)
ASLEEP_CHILDREN = {"StatefulSet": statefulset(replicas=0), "Service": service()}


def status_of(seen: Gathered) -> dict[str, Any]:
    assert seen.body is not None
    found: dict[str, Any] = seen.body.get("status") or {}
    return found


def ready_reason(seen: Gathered) -> str:
    return str(next(c["reason"] for c in status_of(seen)["conditions"] if c["type"] == "Ready"))


def condition(seen: Gathered, kind: str) -> dict[str, Any]:
    found: dict[str, Any] = next(c for c in status_of(seen)["conditions"] if c["type"] == kind)
    return found


def events(decided: Plan) -> list[tuple[bool, str]]:
    assert decided.status is not None
    return [(e.warning, e.reason) for e in decided.status.kube_events]


def statefulset_replicas(decided: Plan) -> int | None:
    found = [c.desired for c in decided.children if c.desired["kind"] == "StatefulSet"]
    return int(found[0]["spec"]["replicas"]) if found else None


def later(seen: Gathered, minutes: float = 0, **changes: Any) -> Gathered:
    return replace(seen, now=seen.now + timedelta(minutes=minutes), **changes)


def annotated(seen: Gathered, annotations: dict[str, str]) -> Gathered:
    assert seen.body is not None
    meta = {**seen.body["metadata"], "annotations": annotations}
    return replace(seen, body={**seen.body, "metadata": meta}, spec=None)


def _asleep() -> tuple[Gathered, list[Plan]]:
    """An empty server, through the clock and the stop path, to sleep."""
    seen = gathered(body(SPEC), children=RUNNING_CHILDREN, ping_in_cluster=True, players=EMPTY)
    plans = []
    decided, seen = reconcile(seen)
    plans.append(decided)
    decided, seen = reconcile(later(seen, 10))
    plans.append(decided)
    request = f"hibernate:{status_of(seen)['hibernation']['hibernatedAt']}"
    decided, seen = reconcile(replace(seen, countdown=CountdownView(request, done=True)))
    plans.append(decided)
    decided, seen = reconcile(replace(seen, children=ASLEEP_CHILDREN, players=None))
    plans.append(decided)
    return seen, plans


def test_the_clock_starts_when_the_running_server_is_empty_and_sets_an_alarm() -> None:
    seen = gathered(body(SPEC), children=RUNNING_CHILDREN, ping_in_cluster=True, players=EMPTY)
    decided, after = reconcile(seen)
    assert status_of(after)["hibernation"]["emptySince"] == "2025-01-01T12:00:00Z"
    assert decided.upkeep is not None and decided.upkeep.wake_at == NOW + timedelta(minutes=10)
    assert condition(after, "WakeOnJoin")["status"] == "True"
    assert not decided.confirm_empty
    assert plan(after).changes_nothing


def test_an_empty_server_falls_asleep_through_the_stop_path() -> None:
    seen = gathered(body(SPEC), children=RUNNING_CHILDREN, ping_in_cluster=True, players=EMPTY)
    _, seen = reconcile(seen)
    decided, saving = reconcile(later(seen, 10))
    # A fresh count first; then the world is saved before the pod goes (no countdown: empty).
    assert decided.confirm_empty
    assert decided.upkeep is not None and decided.upkeep.announce is not None
    announce = decided.upkeep.announce
    assert (announce.request, announce.verb, announce.seconds) == (
        "hibernate:2025-01-01T12:10:00Z",
        "hibernating",
        0,
    )
    assert statefulset_replicas(decided) is None  # held until the save is done
    assert status_of(saving)["phase"] == "Stopped" and ready_reason(saving) == "Hibernating"
    # What the timeline's first entry of the sleep says: why.
    assert status_of(saving)["message"] == (
        "Hibernating after 10 minutes with nobody online: saving the world and stopping; "
        "a join wakes it."
    )
    assert (False, "Hibernating") in events(decided)
    assert decided.status is not None and decided.status.phase_event is not None
    assert decided.status.phase_event.type is EventType.K8S_STOPPED
    assert decided.status.phase_event.reason == "Hibernating"
    assert decided.status.phase_event.message == status_of(saving)["message"]

    done = replace(saving, countdown=CountdownView(announce.request, done=True))
    assert statefulset_replicas(plan(done)) == 0
    _, stopping = reconcile(done)
    assert stopping.body is not None and stopping.body["spec"].get("stopped") is not True


def test_asleep_it_says_so_and_nothing_changes_until_a_request() -> None:
    asleep, plans = _asleep()
    status = status_of(asleep)
    assert status["phase"] == "Stopped" and ready_reason(asleep) == "Hibernating"
    assert status["message"] == (
        "Hibernating after 10 minutes with nobody online; a player joining wakes it."
    )
    assert status["hibernation"]["state"] == "Asleep"
    assert "players" not in status
    # Never the spec: the body's spec.stopped is the owner's and stays as they wrote it.
    assert asleep.body is not None and "stopped" not in asleep.body["spec"]
    assert all(p.finalizer_patch is None for p in plans)
    again = plan(asleep)
    assert again.changes_nothing
    assert again.status is not None and again.status.ping is None
    event = phase_event(asleep.body, "acme")
    assert event is not None and event.reason == "Hibernating"


def test_a_join_wakes_it_and_the_start_is_measured() -> None:
    asleep, _ = _asleep()
    join = {
        WAKE_REQUEST_ANNOTATION: "2025-01-01T12:14:00Z",
        WAKE_REQUESTER_ANNOTATION: "join:Steve",
    }
    asked = later(annotated(asleep, join), 5)
    assert statefulset_replicas(plan(asked)) == 1
    decided, waking = reconcile(asked)
    assert (False, "Waking") in events(decided)
    assert status_of(waking)["phase"] == "Starting" and ready_reason(waking) == "Waking"
    assert status_of(waking)["message"].startswith("Woken by a join (Steve): ")
    assert decided.upkeep is not None
    assert decided.upkeep.wake_at == waking.now + timedelta(seconds=300)
    woken = status_of(waking)["hibernation"]
    assert (woken["state"], woken["wokenBy"]) == ("Waking", "join:Steve")
    assert decided.status is not None and decided.status.phase_event is not None
    assert decided.status.phase_event.message == status_of(waking)["message"]

    starting = {**RUNNING_CHILDREN, "Pod": pod(ready=False, started=True)}
    _, still = reconcile(replace(waking, children=starting))
    assert ready_reason(still) == "Waking"
    _, running = reconcile(replace(later(still, 0.5), children=RUNNING_CHILDREN))
    assert status_of(running)["phase"] == "Running"
    assert status_of(running)["hibernation"]["lastStartSeconds"] == 30
    assert status_of(running)["hibernation"]["state"] == "Awake"


def test_the_owners_stop_wins_over_hibernation() -> None:
    asleep, _ = _asleep()
    assert asleep.body is not None
    owner = {**asleep.body, "spec": {**asleep.body["spec"], "stopped": True}}
    _, stopped = reconcile(replace(asleep, body=owner, spec=None))
    assert status_of(stopped)["phase"] == "Stopped" and ready_reason(stopped) == "Stopped"
    assert status_of(stopped)["hibernation"]["state"] == "Awake"


def test_a_server_that_never_runs_after_its_wake_goes_back_to_sleep_with_a_warning() -> None:
    asleep, _ = _asleep()
    join = {WAKE_REQUEST_ANNOTATION: "2025-01-01T12:14:00Z", WAKE_REQUESTER_ANNOTATION: "join:Bob"}
    _, waking = reconcile(later(annotated(asleep, join), 5))
    crashing = {
        **RUNNING_CHILDREN,
        "Pod": pod(
            state={"waiting": {"reason": "CrashLoopBackOff"}},
            last_state={"terminated": {"exitCode": 137, "reason": "Error"}},
        ),
    }
    failing = replace(later(waking, 1), children=crashing)
    # No countdown nor save for a pod that never came up: straight back to 0 replicas.
    assert statefulset_replicas(plan(failing)) == 0
    decided, back = reconcile(failing)
    assert (True, "WakeFailed") in events(decided)
    assert status_of(back)["phase"] == "Stopped" and ready_reason(back) == "Hibernating"
    record = status_of(back)["hibernation"]
    assert (record["state"], record["failedWakes"]) == ("Asleep", 1)
    assert "keeps crashing" in record["lastFailure"]


def test_an_invalid_spec_keeps_what_hibernation_remembers() -> None:
    asleep, _ = _asleep()
    assert asleep.body is not None
    broken = {**asleep.body, "spec": {**asleep.body["spec"], "properties": {"maxPlayers": 0}}}
    _, after = reconcile(replace(asleep, body=broken, spec=None))
    assert status_of(after)["phase"] == "Error"
    assert status_of(after)["hibernation"] == status_of(asleep)["hibernation"]


def test_a_woken_server_starts_a_fresh_clock_not_the_one_from_before_its_sleep() -> None:
    """What the record no longer says is removed from the status (a merge patch keeps what it
    does not name): the clock that put it to sleep must not put it to sleep again at once."""
    asleep, _ = _asleep()
    assert "emptySince" not in status_of(asleep)["hibernation"]
    join = {WAKE_REQUEST_ANNOTATION: "2025-01-01T12:14:00Z", WAKE_REQUESTER_ANNOTATION: "join:Al"}
    _, waking = reconcile(later(annotated(asleep, join), 5))
    _, running = reconcile(replace(later(waking, 1), children=RUNNING_CHILDREN, players=EMPTY))
    assert status_of(running)["phase"] == "Running"
    assert status_of(running)["hibernation"]["emptySince"] == "2025-01-01T12:16:00Z"
    decided, still = reconcile(later(running, 1))
    assert status_of(still)["phase"] == "Running", "not asleep again a minute after its wake"
    assert not decided.confirm_empty
