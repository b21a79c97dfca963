"""Announced stops and restarts: what the plan holds back, asks for and records (pure)."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import pytest

from craftplane.contracts.lifecycle import RESTART_REQUEST_ANNOTATION, RESTART_REQUESTER_ANNOTATION
from craftplane_operator.builders import ServerContext, build_children
from craftplane_operator.builders.naming import CONFIG_HASH_ANNOTATION
from craftplane_operator.disruption import (
    RESTARTED_AT_ANNOTATION,
    Announce,
    CountdownView,
    Inputs,
    plan_upkeep,
)
from tests.unit.operator.factories import cr_body

pytestmark = pytest.mark.unit

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
ASKED = "2026-01-01T11:59:00Z"


def server(
    spec: dict[str, Any] | None = None, annotations: dict[str, str] | None = None
) -> ServerContext:
    spec = {"lifecycle": {"announceSeconds": 30}, **(spec or {})}
    return ServerContext.from_body(cr_body(spec, annotations=annotations or {}))


def sts_of(srv: ServerContext) -> dict[str, Any]:
    return next(c for c in build_children(srv, "pw") if c["kind"] == "StatefulSet")


def inputs(
    srv: ServerContext,
    *,
    current: dict[str, Any] | None = None,
    running: bool = True,
    players: int = 1,
    countdown: CountdownView | None = None,
    status: dict[str, Any] | None = None,
) -> Inputs:
    live = sts_of(server()) if current is None else current
    return Inputs(srv, status or {}, live, sts_of(srv), running, players, countdown, NOW)


def asking() -> ServerContext:
    return server(
        annotations={RESTART_REQUEST_ANNOTATION: ASKED, RESTART_REQUESTER_ANNOTATION: "alice"}
    )


def mark(sts: dict[str, Any] | None) -> str | None:
    assert sts is not None
    value = sts["spec"]["template"]["metadata"]["annotations"].get(RESTARTED_AT_ANNOTATION)
    return str(value) if value is not None else None


def test_nothing_disruptive_applies_as_built() -> None:
    upkeep = plan_upkeep(inputs(server()))
    assert upkeep.statefulset == sts_of(server())
    assert (upkeep.announce, upkeep.message, upkeep.disrupting) == (None, None, False)


def test_a_stop_while_running_is_held_and_announced() -> None:
    upkeep = plan_upkeep(inputs(server({"stopped": True}), players=2))
    assert upkeep.statefulset is None
    assert upkeep.announce == Announce("stop@3", "stopping", 30, 2)
    assert upkeep.message == "Saving the world before stopping"


def test_with_nobody_online_only_the_save_is_asked_for() -> None:
    upkeep = plan_upkeep(inputs(server({"stopped": True}), players=0))
    assert upkeep.announce == Announce("stop@3", "stopping", 0, 0)


def test_a_running_countdown_shows_its_progress() -> None:
    view = CountdownView("stop@3", done=False, remaining=10, players=1, verb="stopping")
    upkeep = plan_upkeep(inputs(server({"stopped": True}), countdown=view))
    assert upkeep.statefulset is None and upkeep.announce is None
    assert upkeep.message == "Stopping in 10 s (announced to 1 player)"


def test_once_the_countdown_is_done_the_stop_goes_through() -> None:
    view = CountdownView("stop@3", done=True, verb="stopping")
    upkeep = plan_upkeep(inputs(server({"stopped": True}), countdown=view))
    assert upkeep.statefulset is not None and upkeep.statefulset["spec"]["replicas"] == 0


def test_a_countdown_done_for_another_request_does_not_count() -> None:
    view = CountdownView("restart:earlier", done=True)
    upkeep = plan_upkeep(inputs(server({"stopped": True}), countdown=view))
    assert upkeep.statefulset is None and upkeep.announce is not None


def test_a_stop_of_a_server_not_running_is_not_held() -> None:
    upkeep = plan_upkeep(inputs(server({"stopped": True}), running=False))
    assert upkeep.statefulset is not None and upkeep.announce is None


def test_a_config_change_that_rolls_the_pod_is_held() -> None:
    changed = server({"properties": {"motd": "new"}})
    assert (
        sts_of(changed)["spec"]["template"]["metadata"]["annotations"][CONFIG_HASH_ANNOTATION]
        != sts_of(server())["spec"]["template"]["metadata"]["annotations"][CONFIG_HASH_ANNOTATION]
    )
    upkeep = plan_upkeep(inputs(changed))
    assert upkeep.statefulset is None
    assert upkeep.announce is not None and upkeep.announce.request.startswith("rollout:")


def test_a_cpu_change_that_rolls_the_pod_is_held_but_a_rewritten_quantity_is_not() -> None:
    changed = server({"resources": {"cpu": "2", "memory": "2Gi"}})
    upkeep = plan_upkeep(inputs(changed, current=sts_of(server({"resources": {"cpu": "1"}}))))
    assert upkeep.statefulset is None and upkeep.announce is not None
    # The API server writes 0.5 back as 500m: the same limit, nothing to announce.
    live = sts_of(server({"resources": {"cpu": "0.5"}}))
    live["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["cpu"] = "500m"
    same = plan_upkeep(inputs(server({"resources": {"cpu": "0.5"}}), current=live))
    assert same.announce is None and same.statefulset is not None


def test_a_scheduling_change_rolls_the_pod_only_after_the_countdown() -> None:
    # An admin's edit of a placement profile moves the pod to other nodes: a restart.
    live = sts_of(server())
    moved = server({"scheduling": {"nodeSelector": {"pool": "game-v2"}}})
    upkeep = plan_upkeep(inputs(moved, current=live))
    assert upkeep.statefulset is None and upkeep.announce is not None
    rollout = upkeep.announce.request
    assert rollout.startswith("rollout:")
    # Another shape with the same config hash and image is another countdown.
    elsewhere = server({"scheduling": {"nodeSelector": {"pool": "game-v3"}}})
    assert plan_upkeep(inputs(elsewhere, current=live)).announce.request != rollout  # type: ignore[union-attr]
    # Nothing moved: nothing to announce.
    assert plan_upkeep(inputs(server(), current=live)).announce is None


def test_a_restart_request_is_announced_then_carried_out_once() -> None:
    srv = asking()
    first = plan_upkeep(inputs(srv))
    assert first.announce == Announce(f"restart:{ASKED}", "restarting", 30, 1)
    done = CountdownView(f"restart:{ASKED}", done=True)
    second = plan_upkeep(inputs(srv, countdown=done))
    assert mark(second.statefulset) == ASKED
    assert second.last_restart == {
        "requestedAt": ASKED,
        "by": "alice",
        "doneAt": "2026-01-01T12:00:00Z",
    }
    assert [n.reason for n in second.notices] == ["Restarted"]
    # The next pass sees the bumped StatefulSet (the status write may not have happened).
    bumped = copy.deepcopy(second.statefulset)
    third = plan_upkeep(inputs(srv, current=bumped))
    assert third.announce is None and mark(third.statefulset) == ASKED
    assert third.last_restart is not None and third.last_restart["requestedAt"] == ASKED
    # Once recorded, the request is answered: nothing more happens, the mark stays.
    fourth = plan_upkeep(inputs(srv, current=bumped, status={"lastRestart": third.last_restart}))
    assert (fourth.announce, fourth.last_restart, fourth.notices) == (None, None, ())
    assert fourth.statefulset == bumped


def test_a_restart_of_a_server_not_running_needs_no_countdown() -> None:
    upkeep = plan_upkeep(inputs(asking(), running=False))
    assert upkeep.announce is None and mark(upkeep.statefulset) == ASKED


def test_a_stopped_server_ignores_a_restart_and_records_it() -> None:
    srv = ServerContext.from_body(
        cr_body({"stopped": True}, annotations={RESTART_REQUEST_ANNOTATION: ASKED})
    )
    stopped = copy.deepcopy(sts_of(srv))
    upkeep = plan_upkeep(inputs(srv, current=stopped))
    assert upkeep.last_restart == {"requestedAt": ASKED, "by": ""}
    assert [n.reason for n in upkeep.notices] == ["RestartSkipped"]
    assert mark(upkeep.statefulset) is None


def test_a_due_schedule_restarts_like_a_request() -> None:
    srv = server({"lifecycle": {"restartSchedule": {"cron": "0 4 * * *"}}})
    status = {"nextRestart": "2026-01-01T04:00:00Z"}
    upkeep = plan_upkeep(inputs(srv, players=0, status=status))
    assert upkeep.announce == Announce("restart:2026-01-01T04:00:00Z", "restarting", 0, 0)
    assert upkeep.next_restart == "2026-01-01T04:00:00Z"
    done = CountdownView("restart:2026-01-01T04:00:00Z", done=True)
    upkeep = plan_upkeep(inputs(srv, players=0, status=status, countdown=done))
    assert upkeep.last_restart is not None and upkeep.last_restart["by"] == "schedule"
    after = {**status, "lastRestart": upkeep.last_restart}
    moved = plan_upkeep(inputs(srv, current=upkeep.statefulset, status=after))
    assert moved.next_restart == "2026-01-02T04:00:00Z" and moved.announce is None


def test_a_waiting_schedule_says_why() -> None:
    schedule = {"cron": "0 4 * * *", "whenEmptyOnly": True, "maxDelayMinutes": 600}
    srv = server({"lifecycle": {"restartSchedule": schedule}})
    upkeep = plan_upkeep(inputs(srv, players=2, status={"nextRestart": "2026-01-01T04:00:00Z"}))
    assert upkeep.announce is None and upkeep.statefulset is not None
    assert upkeep.message == "Restart due since 04:00, waiting for 2 players to leave"
    assert upkeep.wake_at == datetime(2026, 1, 1, 14, 0, tzinfo=UTC)
