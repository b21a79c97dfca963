"""A server held for a restore is planned exactly like spec.stopped (the day-2 stop path)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from craftplane.contracts.backup import RESTORE_HOLD_ANNOTATION
from craftplane.contracts.status import Phase, Players
from craftplane_operator.backups.hold import HELD_REASON, awaiting_restore_from
from craftplane_operator.backups.names import RESTORED_FROM_ANNOTATION
from craftplane_operator.disruption import CountdownView
from craftplane_operator.planning import plan
from tests.unit.operator.test_planning import RUNNING_CHILDREN, body, gathered, reconcile

pytestmark = pytest.mark.unit

HOLD = {RESTORE_HOLD_ANNOTATION: "survival-restore-1"}


def statefulset_replicas(decided: Any) -> list[int]:
    return [
        c.desired["spec"]["replicas"]
        for c in decided.children
        if c.desired["kind"] == "StatefulSet"
    ]


def test_a_held_running_server_is_announced_saved_and_stopped() -> None:
    spec = {"lifecycle": {"announceSeconds": 60}}
    _, running = reconcile(gathered(body(spec), children=RUNNING_CHILDREN, ping_in_cluster=True))
    assert running.body is not None
    held_body = {**running.body, "metadata": {**running.body["metadata"], "annotations": HOLD}}
    online = Players(online=2, max=20)
    seen = replace(running, body=held_body, spec=None, players=online)
    decided = plan(seen)
    assert decided.upkeep is not None and decided.upkeep.announce is not None
    announce = decided.upkeep.announce
    assert (announce.verb, announce.players) == ("stopping", 2)
    assert announce.seconds == 60, "players online hear the countdown"
    assert statefulset_replicas(decided) == [], "nothing changes until the world is saved"
    done = replace(seen, countdown=CountdownView(announce.request, done=True, verb="stopping"))
    stopped = plan(done)
    assert statefulset_replicas(stopped) == [0]


def test_a_held_server_says_so_in_its_phase() -> None:
    children = {**RUNNING_CHILDREN, "Pod": None}
    seen = gathered(body(annotations=HOLD), children=children)
    _decided, after = reconcile(seen)
    assert after.body is not None
    status = after.body["status"]
    assert status["phase"] == Phase.STOPPED.value
    assert status["message"].startswith("Held stopped for restore survival-restore-1")
    ready = next(c for c in status["conditions"] if c["type"] == "Ready")
    assert ready["reason"] == HELD_REASON
    assert not plan(after).writes


def test_a_new_server_restored_from_a_backup_starts_with_no_replica() -> None:
    seen = gathered(body({"restoreFrom": {"backup": "old-world-1"}}))
    decided = plan(seen)
    assert statefulset_replicas(decided) == [0]
    restored = gathered(
        body({"restoreFrom": {"backup": "old-world-1"}}, status={"restoredFrom": "old-world-1"})
    )
    assert statefulset_replicas(plan(restored)) == [1]


@pytest.mark.parametrize(
    ("pvc", "sts", "status", "held"),
    [
        (None, None, {}, True),
        (
            {"metadata": {"annotations": {RESTORED_FROM_ANNOTATION: "old-world-1"}}},
            {"spec": {"replicas": 0}},
            {},
            True,
        ),
        ({"metadata": {}}, {"spec": {"replicas": 0}}, {}, False),
        (None, {"spec": {"replicas": 1}}, {}, False),
        (None, None, {"restoredFrom": "old-world-1"}, False),
    ],
    ids=["brand new", "volume made for it", "a world of its own", "it ran", "restored"],
)
def test_restore_from_holds_only_a_server_that_never_ran(
    pvc: dict[str, Any] | None, sts: dict[str, Any] | None, status: dict[str, Any], held: bool
) -> None:
    server = {"metadata": {}, "spec": {"restoreFrom": {"backup": "old-world-1"}}, "status": status}
    assert (awaiting_restore_from(server, pvc, sts) is not None) is held
