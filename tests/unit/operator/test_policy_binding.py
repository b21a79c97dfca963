"""The leader's loop keeping the unknown-policy binding listing the CraftplanePolicies that
exist: written only when it differs, never created, and allowed by the operator's RBAC."""

from __future__ import annotations

import asyncio
import copy
import logging
from pathlib import Path
from typing import Any

import pytest
import yaml

from craftplane.contracts.admission import UNKNOWN_NAME, unknown_policy_binding
from craftplane.kube import KubeError, path_for
from craftplane.supervise import every
from craftplane.testing.wait import async_wait_for
from craftplane_operator.policy_binding import BINDING_KIND, PolicyBindingKeeper

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[3]
LOGGER = "craftplane.operator.policy_binding"


def live_form(binding: dict[str, Any]) -> dict[str, Any]:
    """The binding as the API server returns it: defaults, metadata and another's label."""
    live = copy.deepcopy(binding)
    live["metadata"].update(uid="u1", resourceVersion="7", generation=1)
    live["metadata"]["labels"]["example.com/owner"] = "admin"
    live["spec"]["matchResources"].update(matchPolicy="Equivalent", objectSelector={})
    return live


class FakeKube:
    """Policies and the one binding; an apply stores what was applied (server-side apply)."""

    def __init__(self, policies: list[str], binding: dict[str, Any] | None) -> None:
        self.policies = policies
        self.binding = binding
        self.applied: list[tuple[dict[str, Any], str]] = []
        self.failure: KubeError | None = None
        self.failed = 0  # lists refused while failure was set

    async def list_objects(self, kind: str, namespace: str | None = None) -> list[dict[str, Any]]:
        assert (kind, namespace) == ("CraftplanePolicy", None)
        if self.failure is not None:
            self.failed += 1
            raise self.failure
        return [{"metadata": {"name": name}, "spec": {}} for name in self.policies]

    async def get(self, kind: str, namespace: str | None, name: str) -> dict[str, Any] | None:
        assert (kind, namespace, name) == (BINDING_KIND, None, UNKNOWN_NAME)
        return None if self.binding is None else copy.deepcopy(self.binding)

    async def apply(self, obj: dict[str, Any], *, field_manager: str) -> dict[str, Any]:
        self.applied.append((copy.deepcopy(obj), field_manager))
        self.binding = live_form(obj)
        return self.binding


def keeper(kube: FakeKube) -> PolicyBindingKeeper:
    fake: Any = kube
    return PolicyBindingKeeper(fake)


def test_the_binding_is_addressed_cluster_wide() -> None:
    assert path_for(BINDING_KIND, None, UNKNOWN_NAME) == (
        "/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicybindings/"
        "craftplane-unknown-policy"
    )


async def test_an_up_to_date_binding_is_not_written() -> None:
    kube = FakeKube(["default"], live_form(unknown_policy_binding(["default"])))
    binding = keeper(kube)
    for _ in range(3):
        assert await binding.sync_once() is False
    assert kube.applied == []


async def test_a_new_policy_is_applied_once_then_left_alone(
    caplog: pytest.LogCaptureFixture,
) -> None:
    kube = FakeKube(["default"], live_form(unknown_policy_binding(["default"])))
    binding = keeper(kube)
    kube.policies = ["default", "gold"]
    with caplog.at_level(logging.INFO, logger=LOGGER):
        assert await binding.sync_once() is True
    assert kube.applied == [(unknown_policy_binding(["default", "gold"]), "craftplane-operator")]
    (record,) = [r for r in caplog.records if "now excludes" in r.getMessage()]
    assert record.getMessage() == "policy binding now excludes 2 policies"
    assert getattr(record, "policies", None) == "default,gold"
    assert await binding.sync_once() is False
    assert len(kube.applied) == 1

    # A deleted policy is taken out again; so is an admin's hand edit of the list.
    kube.policies = ["gold"]
    assert await binding.sync_once() is True
    assert kube.applied[-1][0] == unknown_policy_binding(["gold"])
    assert kube.binding is not None
    kube.binding["spec"]["validationActions"] = ["Audit"]
    assert await binding.sync_once() is True
    assert kube.applied[-1][0]["spec"]["validationActions"] == ["Deny"]


async def test_a_missing_binding_is_reported_once_and_never_created(
    caplog: pytest.LogCaptureFixture,
) -> None:
    kube = FakeKube(["default", "gold"], None)
    binding = keeper(kube)
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        for _ in range(3):
            assert await binding.sync_once() is False
    assert kube.applied == []
    warnings = [r for r in caplog.records if "is missing" in r.getMessage()]
    assert len(warnings) == 1, "reported once, not every pass"

    # Re-installed with the default list: brought up to date at the next pass.
    kube.binding = live_form(unknown_policy_binding(["default"]))
    assert await binding.sync_once() is True
    assert kube.applied[-1][0] == unknown_policy_binding(["default", "gold"])


async def test_an_api_failure_is_raised_for_the_loop_which_carries_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    kube = FakeKube(["default", "gold"], live_form(unknown_policy_binding(["default"])))
    kube.failure = KubeError(0, "API server unreachable")
    binding = keeper(kube)
    with pytest.raises(KubeError):
        await binding.sync_once()

    async def work() -> None:
        await binding.sync_once()

    loop = every(0.01, work, what="binding", log=logging.getLogger("t"), errors=KubeError)
    task = asyncio.create_task(loop())

    async def failed_again() -> bool:
        return kube.failed >= 3

    # Failing passes come one after another: the loop outlives them.
    await async_wait_for(failed_again, timeout=5, interval=0.01, what="three failed passes")
    assert kube.applied == [] and not task.done(), "failures are logged; the loop goes on"
    assert any("API server unreachable" in r.getMessage() for r in caplog.records)
    kube.failure = None

    async def applied() -> bool:
        return bool(kube.applied)

    await async_wait_for(applied, timeout=5, interval=0.01, what="the binding applied")
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert [obj for obj, _ in kube.applied] == [unknown_policy_binding(["default", "gold"])]


def test_the_cluster_role_allows_exactly_what_the_loop_does() -> None:
    documents = yaml.safe_load_all((ROOT / "manifests/base/operator/rbac.yaml").read_text())
    role = next(
        d
        for d in documents
        if d["kind"] == "ClusterRole" and d["metadata"]["name"] == "craftplane-operator"
    )
    rules = role["rules"]
    binding_rules = [r for r in rules if "validatingadmissionpolicybindings" in r["resources"]]
    assert binding_rules == [
        {
            "apiGroups": ["admissionregistration.k8s.io"],
            "resources": ["validatingadmissionpolicybindings"],
            "resourceNames": [UNKNOWN_NAME],
            # get: compare; patch: server-side apply. No create: it is installed, not made.
            "verbs": ["get", "patch"],
        }
    ]
    policies = [r for r in rules if "craftplanepolicies" in r["resources"]]
    assert any("list" in r["verbs"] and "resourceNames" not in r for r in policies)
