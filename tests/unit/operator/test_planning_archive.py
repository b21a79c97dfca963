"""An archived server through whole plans: held stopped while status.archive says Archived or
Restoring (even when a join wakes it), so its StatefulSet never starts on an empty volume."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from craftplane.contracts.backup import RESTORE_HOLD_ANNOTATION
from craftplane.contracts.hibernation import WAKE_REQUEST_ANNOTATION, WAKE_REQUESTER_ANNOTATION
from craftplane_operator.planning import Gathered, plan
from tests.unit.operator.test_planning import reconcile
from tests.unit.operator.test_planning_hibernation import (
    _asleep,
    annotated,
    later,
    ready_reason,
    statefulset_replicas,
    status_of,
)

pytestmark = pytest.mark.unit

BACKUP = "survival-archive-20250101-121500"


def with_archive(seen: Gathered, state: str) -> Gathered:
    assert seen.body is not None
    status = {**status_of(seen), "archive": {"state": state, "backup": BACKUP}}
    return replace(seen, body={**seen.body, "status": status})


def woken(seen: Gathered) -> Gathered:
    join = {WAKE_REQUEST_ANNOTATION: "2025-01-01T12:20:00Z", WAKE_REQUESTER_ANNOTATION: "join:Alex"}
    return later(annotated(seen, join), 10)


def test_archived_it_says_so_and_stays_stopped() -> None:
    asleep, _ = _asleep()
    archived = with_archive(asleep, "Archived")
    _, after = reconcile(archived)
    status: dict[str, Any] = status_of(after)
    assert status["phase"] == "Stopped" and ready_reason(after) == "Archived"
    assert BACKUP in status["message"] and "volume is deleted" in status["message"]
    assert status["archive"]["state"] == "Archived"  # the backup side's field, kept


def test_a_join_to_an_archived_server_does_not_start_it_before_its_world_is_back() -> None:
    asleep, _ = _asleep()
    asked = woken(with_archive(asleep, "Archived"))
    decided, waking = reconcile(asked)
    assert statefulset_replicas(decided) in (None, 0)
    assert status_of(waking)["hibernation"]["state"] == "Waking"
    assert ready_reason(waking) == "Archived"
    assert "restoring the world from backup" in status_of(waking)["message"]
    restoring = with_archive(waking, "Restoring")
    assert statefulset_replicas(plan(restoring)) in (None, 0)


def test_once_the_archive_is_gone_the_woken_server_starts() -> None:
    asleep, _ = _asleep()
    _, waking = reconcile(woken(with_archive(asleep, "Archived")))
    assert waking.body is not None
    status = {k: v for k, v in status_of(waking).items() if k != "archive"}
    back = replace(waking, body={**waking.body, "status": status})
    assert statefulset_replicas(plan(back)) == 1


def test_a_failed_archive_does_not_hold_the_server() -> None:
    asleep, _ = _asleep()
    failed = with_archive(woken(asleep), "Failed")
    assert statefulset_replicas(plan(failed)) == 1


def test_the_archives_own_restore_hold_does_not_forget_the_wake() -> None:
    asleep, _ = _asleep()
    _, waking = reconcile(woken(with_archive(asleep, "Archived")))
    restoring = with_archive(waking, "Restoring")
    assert restoring.body is not None
    meta = restoring.body["metadata"]
    annotations = {**(meta.get("annotations") or {}), RESTORE_HOLD_ANNOTATION: "r-1"}
    held = replace(
        restoring, body={**restoring.body, "metadata": {**meta, "annotations": annotations}}
    )
    _, after = reconcile(held)
    assert status_of(after)["hibernation"]["state"] == "Waking"
    assert statefulset_replicas(plan(after)) in (None, 0)
