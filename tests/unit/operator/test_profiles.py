"""Placement profiles: which policy governs a server, and the scheduling its profile gives it."""

from __future__ import annotations

from typing import Any

import pytest

from craftplane.contracts.policy import CraftplanePolicySpec
from craftplane_operator.builders import build_statefulset
from craftplane_operator.placement import Placement, placed
from craftplane_operator.profiles import (
    PLACEMENT_UNKNOWN,
    POLICY_INVALID,
    POLICY_NOT_FOUND,
    UNCHECKED,
    Binding,
    PlacementProblem,
    StoredPolicy,
    governing_policy,
    hold_placement,
    profiled,
    with_scheduling_of,
)
from tests.unit.operator.factories import server

pytestmark = pytest.mark.unit

GAME_TOLERATION = {"key": "pool", "operator": "Equal", "value": "game", "effect": "NoSchedule"}
OWN_TOLERATION = {"key": "mine", "operator": "Exists"}
ZONE_AFFINITY = {
    "nodeAffinity": {
        "requiredDuringSchedulingIgnoredDuringExecution": {
            "nodeSelectorTerms": [
                {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a"]}]}
            ]
        }
    }
}
SPREAD = {
    "podAntiAffinity": {
        "preferredDuringSchedulingIgnoredDuringExecution": [
            {
                "weight": 50,
                "podAffinityTerm": {
                    "labelSelector": {"matchLabels": {"app": "x"}},
                    "topologyKey": "kubernetes.io/hostname",
                },
            }
        ]
    }
}
GAME = {
    "name": "game",
    "nodeSelector": {"pool": "game", "disk": "ssd"},
    "tolerations": [GAME_TOLERATION],
    "affinity": ZONE_AFFINITY,
}
BATCH = {"name": "batch", "nodeSelector": {"pool": "batch"}}
RAW = {"nodeSelector": {"pool": "mine", "arch": "arm64"}, "tolerations": [OWN_TOLERATION]}


def policy(**spec: Any) -> StoredPolicy:
    return StoredPolicy(
        "gold", CraftplanePolicySpec.model_validate({"placements": [GAME, BATCH], **spec})
    )


def pod_of(spec: dict[str, Any], binding: Binding | None) -> dict[str, Any]:
    """The pod template the server's StatefulSet gets."""
    outcome = profiled(server(spec), binding)
    assert outcome.problem is None, outcome.problem
    pod: dict[str, Any] = build_statefulset(outcome.server, "h")["spec"]["template"]["spec"]
    return {k: pod[k] for k in ("nodeSelector", "tolerations", "affinity") if k in pod}


@pytest.mark.parametrize(
    ("labels", "spec", "expected"),
    [
        ({"craftplane.io/tenant": "acme"}, {}, ("default", True)),
        ({"craftplane.io/tenant": "acme", "craftplane.io/policy": "gold"}, {}, ("gold", True)),
        # Admission holds only tenants' namespaces to a policy; the operator does not either.
        ({}, {}, None),
        (None, {}, None),
        ({"craftplane.io/policy": "gold"}, {}, None),
        # ...unless the server asks for a profile: it is resolved, raw scheduling kept.
        ({"craftplane.io/policy": "gold"}, {"placement": "game"}, ("gold", False)),
        ({}, {"placement": "game"}, ("default", False)),
    ],
)
def test_the_governing_policy(
    labels: dict[str, str] | None, spec: dict[str, Any], expected: tuple[str, bool] | None
) -> None:
    assert governing_policy(labels, server(spec).spec) == expected


PROFILE_CASES: list[tuple[str, dict[str, Any], Binding | None, dict[str, Any]]] = [
    (
        "the named profile",
        {"placement": "game"},
        Binding(policy(), enforced=True),
        {"nodeSelector": GAME["nodeSelector"], "tolerations": [GAME_TOLERATION]}
        | {"affinity": ZONE_AFFINITY},
    ),
    (
        "the policy's default profile for a server naming none",
        {},
        Binding(policy(defaultPlacement="batch"), enforced=True),
        {"nodeSelector": {"pool": "batch"}},
    ),
    (
        "a named profile over the default",
        {"placement": "game"},
        Binding(policy(defaultPlacement="batch"), enforced=True),
        {"nodeSelector": GAME["nodeSelector"], "tolerations": [GAME_TOLERATION]}
        | {"affinity": ZONE_AFFINITY},
    ),
    (
        "no profile, no default: nothing",
        {},
        Binding(policy(), enforced=True),
        {},
    ),
    (
        "raw scheduling allowed: merged, the profile's keys win, its tolerations first",
        {"placement": "game", "scheduling": {**RAW, "affinity": SPREAD}},
        Binding(policy(rawScheduling=True), enforced=True),
        {
            "nodeSelector": {"pool": "game", "disk": "ssd", "arch": "arm64"},
            "tolerations": [GAME_TOLERATION, OWN_TOLERATION],
            "affinity": {**ZONE_AFFINITY, **SPREAD},
        },
    ),
    (
        "raw scheduling allowed, no profile: the spec's own",
        {"scheduling": RAW},
        Binding(policy(rawScheduling=True), enforced=True),
        RAW,
    ),
    (
        "raw scheduling not allowed (a server from before the policy said so): ignored",
        {"placement": "batch", "scheduling": RAW},
        Binding(policy(), enforced=True),
        {"nodeSelector": {"pool": "batch"}},
    ),
    (
        "not a tenant's namespace: the profile over the spec's own",
        {"placement": "batch", "scheduling": RAW},
        Binding(policy(), enforced=False),
        {"nodeSelector": {"pool": "batch", "arch": "arm64"}, "tolerations": [OWN_TOLERATION]},
    ),
    ("no policy governs it: the spec's own", {"scheduling": RAW}, None, RAW),
]


@pytest.mark.parametrize(
    ("spec", "binding", "expected"),
    [c[1:] for c in PROFILE_CASES],
    ids=[c[0] for c in PROFILE_CASES],
)
def test_the_profile_reaches_the_pod_template(
    spec: dict[str, Any], binding: Binding | None, expected: dict[str, Any]
) -> None:
    assert pod_of(spec, binding) == expected


def test_the_cluster_placement_wins_over_the_profile() -> None:
    cluster = Placement.model_validate(
        {
            "namespaces": ["team-a"],
            "nodeSelector": {"pool": "cluster"},
            "tolerations": [{"key": "cluster", "operator": "Exists"}],
        }
    )
    outcome = profiled(server({"placement": "game"}), Binding(policy(), enforced=True))
    pod = build_statefulset(placed(outcome.server, cluster), "h")["spec"]["template"]["spec"]
    assert pod["nodeSelector"] == {"pool": "cluster", "disk": "ssd"}
    assert pod["tolerations"] == [{"key": "cluster", "operator": "Exists"}, GAME_TOLERATION]


UNRESOLVED: list[tuple[str, dict[str, Any], StoredPolicy, str, str]] = [
    (
        "a profile the policy lacks",
        {"placement": "gpu"},
        policy(),
        PLACEMENT_UNKNOWN,
        "placement gpu is not a profile of CraftplanePolicy gold (profiles: game, batch)",
    ),
    (
        "a profile of a policy without any",
        {"placement": "gpu"},
        StoredPolicy("gold", CraftplanePolicySpec()),
        PLACEMENT_UNKNOWN,
        "(profiles: none)",
    ),
    ("no such policy", {}, StoredPolicy("gold"), POLICY_NOT_FOUND, "CraftplanePolicy gold, "),
    (
        "a policy the operator cannot read",
        {"placement": "game"},
        StoredPolicy("gold", invalid="spec.future: Extra inputs are not permitted"),
        POLICY_INVALID,
        "CraftplanePolicy gold cannot be read (spec.future: Extra inputs",
    ),
]


@pytest.mark.parametrize(
    ("spec", "stored", "reason", "says"),
    [c[1:] for c in UNRESOLVED],
    ids=[c[0] for c in UNRESOLVED],
)
def test_an_unresolved_placement_is_a_problem_and_changes_nothing(
    spec: dict[str, Any], stored: StoredPolicy, reason: str, says: str
) -> None:
    original = server(spec)
    outcome = profiled(original, Binding(stored, enforced=True))
    assert outcome.problem is not None
    assert outcome.problem.reason == reason
    assert says in outcome.problem.message
    held = "nothing of the server" if reason in UNCHECKED else "left as it was"
    assert held in outcome.problem.message
    assert outcome.server is original


PROBLEM = PlacementProblem(PLACEMENT_UNKNOWN, "placement gpu is not a profile")


def _statefulset(scheduling: dict[str, Any]) -> dict[str, Any]:
    return build_statefulset(server({"scheduling": scheduling}), "h")


def test_while_unresolved_the_live_statefulset_keeps_its_scheduling() -> None:
    live = _statefulset(RAW)
    desired = build_statefulset(server({"properties": {"motd": "new"}}), "h2")
    kept = with_scheduling_of(desired, live)
    pod = kept["spec"]["template"]["spec"]
    assert pod["nodeSelector"] == RAW["nodeSelector"]
    assert pod["tolerations"] == [OWN_TOLERATION]
    assert "affinity" not in pod
    # Everything else is as desired.
    assert kept["spec"]["template"]["metadata"] == desired["spec"]["template"]["metadata"]
    assert "nodeSelector" not in desired["spec"]["template"]["spec"], "not mutated"


def test_while_unresolved_a_field_the_live_one_lacks_is_not_applied() -> None:
    desired = _statefulset({"nodeSelector": {"pool": "other"}, "affinity": ZONE_AFFINITY})
    pod = with_scheduling_of(desired, _statefulset({}))["spec"]["template"]["spec"]
    assert not {"nodeSelector", "tolerations", "affinity"} & set(pod)


def test_hold_keeps_the_other_children_and_creates_no_statefulset() -> None:
    others: list[dict[str, Any]] = [{"kind": "Secret"}, {"kind": "ConfigMap"}]
    desired = [*others, _statefulset({})]
    assert hold_placement(desired, None, None) is desired
    assert hold_placement(desired, None, PROBLEM) == others
    held = hold_placement(desired, _statefulset(RAW), PROBLEM)
    assert held[:2] == others
    assert held[2]["spec"]["template"]["spec"]["nodeSelector"] == RAW["nodeSelector"]
