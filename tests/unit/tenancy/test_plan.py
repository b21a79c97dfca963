"""The tenant planner: a tenant's objects from its name and its CraftplanePolicy."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from craftplane import tenancy
from craftplane.contracts.policy import CraftplanePolicySpec
from craftplane.contracts.quantity import parse_quantity

pytestmark = pytest.mark.unit


def spec(**fields: Any) -> CraftplanePolicySpec:
    return CraftplanePolicySpec.model_validate(fields)


def test_the_default_policy_plan() -> None:
    planned = tenancy.plan("acme", "default", spec())
    assert planned.namespace_name == "tenant-acme"
    assert planned.namespace["metadata"]["labels"] == {
        "craftplane.io/tenant": "acme",
        "craftplane.io/policy": "default",
        "pod-security.kubernetes.io/enforce": "restricted",
        "pod-security.kubernetes.io/enforce-version": "latest",
        "pod-security.kubernetes.io/warn": "restricted",
        "pod-security.kubernetes.io/audit": "restricted",
    }
    assert planned.quota["spec"]["hard"] == {
        "count/minecraftservers.craftplane.io": "10",
        "pods": "20",
        "requests.cpu": "8",
        "requests.memory": "32Gi",
        "limits.cpu": "8",
        "limits.memory": "32Gi",
        "persistentvolumeclaims": "10",
        "requests.storage": "500Gi",
        "services": "20",
        "services.loadbalancers": "0",
        "services.nodeports": "0",
        "configmaps": "51",
        "secrets": "51",
    }
    container, volume = planned.limits["spec"]["limits"]
    assert container["max"] == {"cpu": "4", "memory": "16Gi"}
    assert volume == {"type": "PersistentVolumeClaim", "min": {"storage": "1Gi"},
                      "max": {"storage": "100Gi"}}  # fmt: skip


def test_every_object_is_in_the_namespace_which_comes_first() -> None:
    planned = tenancy.plan("acme", "gold", spec())
    first, *rest = planned.objects()
    assert first["kind"] == "Namespace"
    assert {o["metadata"]["namespace"] for o in rest} == {"tenant-acme"}
    kinds = [o["kind"] for o in rest]
    assert kinds.count("NetworkPolicy") == 6 and kinds.count("RoleBinding") == 4
    # The operator may watch the namespace at once: its binding comes before anything else.
    assert kinds.index("RoleBinding") < kinds.index("ResourceQuota") < kinds.index("NetworkPolicy")
    assert planned.policy_objects() == [planned.quota, planned.limits]
    admins = [o for o in rest if o["metadata"]["name"] == "tenant-admin"]
    assert {o["kind"] for o in admins} == {"Role", "RoleBinding"}
    binding = next(o for o in admins if o["kind"] == "RoleBinding")
    assert binding["subjects"][0]["name"] == "craftplane:tenant:acme"


@pytest.mark.parametrize(
    ("service_types", "load_balancers", "node_ports"),
    [
        (["ClusterIP"], "0", "0"),
        (["ClusterIP", "NodePort"], "0", "3"),
        # A LoadBalancer Service takes a node port as well.
        (["LoadBalancer"], "3", "3"),
        (["ClusterIP", "NodePort", "LoadBalancer"], "3", "3"),
    ],
)
def test_service_quota_follows_the_allowed_types(
    service_types: list[str], load_balancers: str, node_ports: str
) -> None:
    hard = tenancy.quota_hard(spec(serviceTypes=service_types, quota={"servers": 3}))
    assert hard["services.loadbalancers"] == load_balancers
    assert hard["services.nodeports"] == node_ports


def test_quota_counts_follow_the_server_count() -> None:
    hard = tenancy.quota_hard(
        spec(quota={"servers": 1, "cpu": "2", "memory": "4Gi", "storage": "20Gi"})
    )
    assert hard["count/minecraftservers.craftplane.io"] == "1"
    assert hard["persistentvolumeclaims"] == "1"
    assert (hard["requests.cpu"], hard["limits.cpu"]) == ("2", "2")
    assert (hard["requests.memory"], hard["limits.memory"]) == ("4Gi", "4Gi")
    assert hard["requests.storage"] == "20Gi"
    assert (hard["pods"], hard["services"], hard["secrets"]) == ("2", "2", "6")
    # kube-root-ca.crt is there even in a tenant allowed no servers at all.
    assert tenancy.quota_hard(spec(quota={"servers": 0}))["configmaps"] == "1"


@pytest.mark.parametrize(
    "maxima",
    [
        {"cpu": "4", "memory": "16Gi", "storage": "100Gi"},
        {"cpu": "500m", "memory": "768Mi", "storage": "512Mi"},
        {"cpu": "100m", "memory": "512Mi", "storage": "1Gi"},
        {"cpu": "64", "memory": "1Ti", "storage": "10Ti"},
    ],
)
def test_limit_defaults_never_exceed_the_maxima(maxima: dict[str, str]) -> None:
    # The API server refuses a LimitRange whose default or minimum is above its maximum.
    container, volume = tenancy.plan("acme", "p", spec(maxPerServer=maxima)).limits["spec"][
        "limits"
    ]
    assert container["max"] == {"cpu": maxima["cpu"], "memory": maxima["memory"]}
    for resource in ("cpu", "memory"):
        high = parse_quantity(container["max"][resource])
        default = parse_quantity(container["default"][resource])
        request = parse_quantity(container["defaultRequest"][resource])
        assert request <= default <= high
    assert volume["max"] == {"storage": maxima["storage"]}
    assert parse_quantity(volume["min"]["storage"]) <= parse_quantity(maxima["storage"])


def test_a_small_maximum_lowers_the_defaults_to_it() -> None:
    small = spec(maxPerServer={"cpu": "500m", "memory": "768Mi", "storage": "512Mi"})
    container, volume = tenancy.limits_object("tenant-acme", small)["spec"]["limits"]
    assert container["default"] == {"cpu": "500m", "memory": "768Mi"}
    assert container["defaultRequest"] == {"cpu": "250m", "memory": "512Mi"}
    assert volume["min"] == {"storage": "512Mi"}


@pytest.mark.parametrize(
    ("tenant", "reason"),
    [
        ("default", "reserved"),
        ("kube-system", "reserved"),
        ("kube-anything", "reserved"),
        ("craftplane-system", "reserved"),
        ("craftplanex", "reserved"),
        ("Acme", "not a valid tenant name"),
        ("", "not a valid tenant name"),
        ("a" * 33, "not a valid tenant name"),
        ("acme-", "not a valid tenant name"),
    ],
)
def test_reserved_and_invalid_tenants_are_refused(tenant: str, reason: str) -> None:
    error = tenancy.tenant_error(tenant)
    assert error is not None and reason in error
    with pytest.raises(ValueError, match=reason):
        tenancy.plan(tenant, "default", spec())


@pytest.mark.parametrize("policy", ["Gold", "a" * 64, "-gold", "gold_1", ""])
def test_policy_names_a_label_cannot_hold_are_refused(policy: str) -> None:
    assert tenancy.policy_error(policy) is not None
    with pytest.raises(ValueError, match="CraftplanePolicy name"):
        tenancy.plan("acme", policy, spec())


@pytest.mark.parametrize("policy", ["default", "gold", "tier.gold-2", "a" * 63])
def test_policy_names_that_fit_a_label(policy: str) -> None:
    assert tenancy.policy_error(policy) is None


@pytest.mark.parametrize(
    ("name", "labels", "expected"),
    [
        ("tenant-acme", {"craftplane.io/tenant": "acme"}, tenancy.Binding("acme", "default")),
        (
            "tenant-acme",
            {"craftplane.io/tenant": "acme", "craftplane.io/policy": "gold"},
            tenancy.Binding("acme", "gold"),
        ),
        ("tenant-acme", {"craftplane.io/tenant": "other"}, None),
        ("games", {"craftplane.io/tenant": "games"}, None),
        ("tenant-acme", {}, None),
    ],
)
def test_binding_of_a_namespace(
    name: str, labels: dict[str, str], expected: tenancy.Binding | None
) -> None:
    assert tenancy.binding_of({"metadata": {"name": name, "labels": labels}}) == expected


def test_a_policy_is_parsed_from_its_api_body() -> None:
    body = {"metadata": {"name": "gold"}, "spec": {"quota": {"servers": 3}}}
    assert tenancy.parse_policy(body).quota.servers == 3
    assert tenancy.parse_policy({"metadata": {"name": "default"}}) == CraftplanePolicySpec()
    with pytest.raises(tenancy.InvalidPolicy, match=r"'gold' is not valid: spec\.quota\.servers"):
        tenancy.parse_policy({"metadata": {"name": "gold"}, "spec": {"quota": {"servers": -1}}})


def test_the_yaml_reads_back_as_the_objects() -> None:
    objects = tenancy.plan("acme", "default", spec()).objects()
    assert list(yaml.safe_load_all(tenancy.render_yaml(objects))) == objects
