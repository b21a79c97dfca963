"""Applying spec.storage to a world volume that already exists."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from craftplane.contracts.spec import Storage
from craftplane.contracts.status import Phase
from craftplane_operator.conditions import build_conditions
from craftplane_operator.phase import Derived, Reason, with_problem
from craftplane_operator.volume import STORAGE_NOT_APPLIED, plan_volume

pytestmark = pytest.mark.unit


def pvc(size: str, storage_class: str = "standard", **meta: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": "data-mc-0", **meta},
        "spec": {"storageClassName": storage_class, "resources": {"requests": {"storage": size}}},
    }


@pytest.mark.parametrize(
    ("size", "current", "patch"),
    [
        ("20Gi", "10Gi", {"spec": {"resources": {"requests": {"storage": "20Gi"}}}}),
        ("10Gi", "10Gi", None),
        ("10240Mi", "10Gi", None),  # the same size written differently
        ("11000Mi", "10Gi", {"spec": {"resources": {"requests": {"storage": "11000Mi"}}}}),
    ],
)
def test_a_larger_size_grows_the_claim_and_an_equal_one_does_nothing(
    size: str, current: str, patch: dict[str, Any] | None
) -> None:
    plan = plan_volume(Storage(size=size), pvc(current))
    assert plan.patch == patch
    assert plan.problem is None


def test_a_smaller_size_is_a_problem_not_a_patch() -> None:
    plan = plan_volume(Storage(size="5Gi"), pvc("10Gi"))
    assert plan.patch is None
    assert plan.problem is not None
    assert "cannot shrink" in plan.problem and "keeps 10Gi" in plan.problem


def test_another_storage_class_is_a_problem() -> None:
    plan = plan_volume(Storage(size="10Gi", storageClassName="fast"), pvc("10Gi"))
    assert plan.patch is None
    assert plan.problem is not None and "class cannot change" in plan.problem


def test_no_claim_yet_or_one_being_deleted_needs_nothing() -> None:
    assert plan_volume(Storage(size="20Gi"), None) == plan_volume(Storage(size="1Gi"), None)
    deleting = pvc("1Gi", deletionTimestamp="2026-01-01T00:00:00Z")
    assert plan_volume(Storage(size="20Gi"), deleting).patch is None


def test_a_problem_degrades_a_running_server_without_changing_its_phase() -> None:
    running = Derived(Phase.RUNNING, Reason.RUNNING, "Running.", ready=True)
    degraded = with_problem(running, STORAGE_NOT_APPLIED, "too small")
    assert degraded.phase is Phase.RUNNING and degraded.ready
    conditions = {
        c["type"]: c for c in build_conditions(degraded, [], 1, datetime(2026, 1, 1, tzinfo=UTC))
    }
    assert conditions["Ready"]["status"] == "True"
    assert conditions["Ready"]["reason"] == Reason.RUNNING
    assert conditions["Degraded"]["status"] == "True"
    assert conditions["Degraded"]["reason"] == STORAGE_NOT_APPLIED
    assert conditions["Degraded"]["message"] == "too small"


def test_a_failing_server_keeps_its_own_degraded_reason() -> None:
    failing = Derived(Phase.ERROR, Reason.CRASH_LOOP, "crashing", degraded=True)
    assert with_problem(failing, STORAGE_NOT_APPLIED, "too small") == failing
