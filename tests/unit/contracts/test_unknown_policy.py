"""The fail-closed catch-all for a namespace naming a CraftplanePolicy that does not exist:
the admission policy that always refuses, and the binding that picks exactly those namespaces."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from itertools import chain, combinations
from typing import Any

import pytest
import yaml

from craftplane.contracts import admission
from craftplane.contracts.admission import (
    UNKNOWN_NAME,
    UNKNOWN_RULE,
    build_unknown_policy,
    nameable_policies,
    unknown_policy_binding,
)
from craftplane.contracts.names import TENANT_LABEL
from craftplane.contracts.policy import DEFAULT_POLICY, POLICY_LABEL

pytestmark = pytest.mark.unit


def expressions(binding: Mapping[str, Any]) -> list[dict[str, Any]]:
    selector = binding["spec"]["matchResources"]["namespaceSelector"]
    assert set(selector) == {"matchExpressions"}, "no matchLabels: every term is an expression"
    found: list[dict[str, Any]] = selector["matchExpressions"]
    return found


def selects(requirements: Sequence[Mapping[str, Any]], labels: Mapping[str, str]) -> bool:
    """A label selector's answer, as Kubernetes gives it (NotIn matches an absent key)."""
    for req in requirements:
        key, operator = req["key"], req["operator"]
        if operator == "Exists":
            ok = key in labels
        elif operator == "NotIn":
            ok = labels.get(key) not in req["values"] if key in labels else True
        else:
            raise AssertionError(f"unexpected operator {operator}")
        if not ok:
            return False
    return True


@pytest.mark.parametrize(
    ("names", "expected"),
    [
        (
            ["default"],
            [
                {"key": TENANT_LABEL, "operator": "Exists"},
                {"key": POLICY_LABEL, "operator": "Exists"},
                {"key": POLICY_LABEL, "operator": "NotIn", "values": ["default", ""]},
            ],
        ),
        (
            ["gold", "default", "bronze", "gold"],
            [
                {"key": TENANT_LABEL, "operator": "Exists"},
                {"key": POLICY_LABEL, "operator": "Exists"},
                {
                    "key": POLICY_LABEL,
                    "operator": "NotIn",
                    "values": ["bronze", "default", "gold", ""],
                },
            ],
        ),
        # Without the default, no label (or an empty one) names a missing policy too.
        (
            ["gold"],
            [
                {"key": TENANT_LABEL, "operator": "Exists"},
                {"key": POLICY_LABEL, "operator": "NotIn", "values": ["gold"]},
            ],
        ),
        ([], [{"key": TENANT_LABEL, "operator": "Exists"}]),
    ],
    ids=["default only", "several, unsorted, repeated", "no default", "none at all"],
)
def test_the_binding_for_a_set_of_policies(names: list[str], expected: list[Any]) -> None:
    binding = unknown_policy_binding(names)
    assert expressions(binding) == expected
    for requirement in expressions(binding):
        if requirement["operator"] == "NotIn":
            assert requirement["values"], "an empty NotIn list is refused by the API server"
    assert binding["kind"] == "ValidatingAdmissionPolicyBinding"
    assert binding["metadata"] == {
        "name": UNKNOWN_NAME,
        "labels": {
            "app.kubernetes.io/part-of": "craftplane",
            "app.kubernetes.io/managed-by": "craftplane-operator",
        },
    }
    assert binding["spec"]["policyName"] == UNKNOWN_NAME
    assert binding["spec"]["validationActions"] == ["Deny"]
    assert "paramRef" not in binding["spec"]


def test_names_no_label_can_hold_are_left_out() -> None:
    too_long = "p" * 64
    assert nameable_policies(["default", too_long, "p" * 63, ""]) == ["default", "p" * 63]
    assert too_long not in str(unknown_policy_binding([too_long, "default"]))


POLICIES = ("default", "gold", "a.b")
NAMESPACE_LABELS: list[dict[str, str]] = [
    {},
    {POLICY_LABEL: ""},
    {POLICY_LABEL: "default"},
    {POLICY_LABEL: "gold"},
    {POLICY_LABEL: "a.b"},
    {POLICY_LABEL: "golden"},
    {POLICY_LABEL: "Gold"},
]


@pytest.mark.parametrize(
    "existing",
    [list(c) for c in chain.from_iterable(combinations(POLICIES, n) for n in range(4))],
    ids=lambda c: ",".join(c) or "none",
)
def test_the_binding_selects_exactly_the_tenants_whose_policy_is_missing(
    existing: list[str],
) -> None:
    requirements = expressions(unknown_policy_binding(existing))
    for labels in NAMESPACE_LABELS:
        named = labels.get(POLICY_LABEL) or DEFAULT_POLICY  # as the operator reads it
        tenant = {TENANT_LABEL: "acme", **labels}
        assert selects(requirements, tenant) == (named not in existing), (existing, labels)
        # Not a tenant's namespace: never this policy's business.
        assert not selects(requirements, labels), (existing, labels)


def test_the_unknown_policy_refuses_every_spec_write_it_is_bound_to() -> None:
    policy = build_unknown_policy()
    tenant_policy = admission.build_policy()
    assert policy["metadata"]["name"] == UNKNOWN_NAME
    spec = policy["spec"]
    assert "paramKind" not in spec, "it reads no policy: its binding has chosen the namespaces"
    assert spec["failurePolicy"] == "Fail"
    assert spec["matchConstraints"] == tenant_policy["spec"]["matchConstraints"]
    rules = spec["matchConstraints"]["resourceRules"]
    assert [r["operations"] for r in rules] == [["CREATE", "UPDATE"]]
    assert rules[0]["resources"] == ["minecraftservers"], "not /status: the operator's writes"
    # The same effective name as the tenant policy's (an empty label is the default).
    assert spec["variables"] == tenant_policy["spec"]["variables"][:1]

    (condition,) = spec["matchConditions"]
    assert condition["expression"].startswith("request.operation != 'UPDATE' || ")
    assert "object.?spec" in condition["expression"]
    assert "oldObject.?spec" in condition["expression"]

    (validation,) = spec["validations"]
    assert validation["expression"] == "false"
    assert validation["reason"] == "Invalid"
    message = validation["messageExpression"]
    assert message.startswith("'spec: namespace ' + request.namespace + ")
    assert "variables.policyName" in message
    assert message.endswith(f"(rule {UNKNOWN_RULE})'")
    assert validation["message"].startswith("spec: ")
    assert validation["message"].endswith(f"(rule {UNKNOWN_RULE})")


def test_the_rendered_file_installs_both_policies_and_the_default_binding() -> None:
    documents = list(yaml.safe_load_all(admission.render_yaml()))
    assert [(d["kind"], d["metadata"]["name"]) for d in documents] == [
        ("ValidatingAdmissionPolicy", admission.NAME),
        ("ValidatingAdmissionPolicyBinding", admission.NAME),
        ("ValidatingAdmissionPolicy", UNKNOWN_NAME),
        ("ValidatingAdmissionPolicyBinding", UNKNOWN_NAME),
    ]
    assert documents[3] == unknown_policy_binding([DEFAULT_POLICY])
