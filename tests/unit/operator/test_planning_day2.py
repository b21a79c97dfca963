"""The day-2 parts of a whole plan: held restarts, the restart record, AllowlistSynced."""

from __future__ import annotations

from dataclasses import replace

import pytest

from craftplane.contracts.lifecycle import RESTART_REQUEST_ANNOTATION, AllowlistMode
from craftplane_operator.allowlist_sync import outcome
from craftplane_operator.disruption import CountdownView
from craftplane_operator.planning import plan
from tests.unit.operator.test_planning import RUNNING_CHILDREN, body, gathered, reconcile

pytestmark = pytest.mark.unit

ASKED = "2025-01-01T11:58:00Z"


def conditions(status: dict[str, object] | None) -> dict[str, dict[str, str]]:
    listed = (status or {}).get("conditions") or []
    assert isinstance(listed, list)
    return {c["type"]: c for c in listed}


def test_a_requested_restart_is_held_then_done_once() -> None:
    _, settled = reconcile(gathered(body(), children=RUNNING_CHILDREN, ping_in_cluster=True))
    assert settled.body is not None
    asked = replace(
        settled,
        body={
            **settled.body,
            "metadata": {
                **settled.body["metadata"],
                "annotations": {RESTART_REQUEST_ANNOTATION: ASKED},
            },
        },
    )
    held, after = reconcile(asked)
    assert held.upkeep is not None and held.upkeep.announce is not None
    assert all(c.desired["kind"] != "StatefulSet" for c in held.children)
    assert after.body is not None
    assert after.body["status"]["message"] == "Saving the world before restarting"
    done = replace(after, countdown=CountdownView(f"restart:{ASKED}", done=True))
    restarted, final = reconcile(done)
    assert final.body is not None
    assert final.body["status"]["lastRestart"]["requestedAt"] == ASKED
    assert restarted.status is not None
    assert "Restarted" in [e.reason for e in restarted.status.kube_events]
    again = plan(final)
    assert again.changes_nothing, again
    assert again.upkeep is not None and again.upkeep.announce is None


def test_drift_is_reported_once_on_the_condition_and_as_an_event() -> None:
    found = outcome(AllowlistMode.ENFORCE, ("Griefer",), [])
    seen = gathered(body({"allowlist": ["Alex"]}), children=RUNNING_CHILDREN, ping_in_cluster=True)
    _, settled = reconcile(seen)
    decided, after = reconcile(replace(settled, allowlist=found))
    assert decided.allowlist is not None and decided.allowlist.desired.allowlist == ("Alex",)
    assert decided.status is not None
    assert ("AllowlistDrift", True) in [(e.reason, e.warning) for e in decided.status.kube_events]
    assert after.body is not None
    condition = conditions(after.body["status"])["AllowlistSynced"]
    assert (condition["status"], condition["reason"]) == ("True", "DriftReverted")
    assert "Griefer" in condition["message"]
    assert plan(after).changes_nothing


def test_the_next_slot_is_shown_and_stable() -> None:
    seen = gathered(
        body({"lifecycle": {"restartSchedule": {"cron": "0 4 * * *"}}}),
        children=RUNNING_CHILDREN,
        ping_in_cluster=True,
    )
    decided, after = reconcile(seen)
    assert after.body is not None
    assert after.body["status"]["nextRestart"] == "2025-01-02T04:00:00Z"
    assert decided.upkeep is not None and decided.upkeep.wake_at is not None
    assert plan(after).changes_nothing
