"""Placement profiles end to end: the admin's CraftplanePolicy decides where a tenant's server
runs; a profile the policy lacks is refused at admission, and one removed later leaves the
server where it was, Degraded with the reason."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from craftplane.testing.admission import wait_admitted
from craftplane.testing.kubectl import Kubectl
from craftplane.testing.processes import ManagedProcess
from craftplane.testing.wait import wait_for
from tests.operator.conftest import server_manifest
from tests.operator.test_ownership import degraded, warning_events

pytestmark = pytest.mark.cluster

# Every kwok node of the sandbox carries it; the real node (tainted) does not.
KWOK_LABEL = ("type", "kwok")
# Tolerates a taint no node has: harmless, and visible on the pod template.
POOL_TOLERATION = {"key": "craftplane.io/test-pool", "operator": "Exists", "effect": "NoSchedule"}
POOL_A = {
    "name": "pool-a",
    "description": "kwok nodes",
    "nodeSelector": {KWOK_LABEL[0]: KWOK_LABEL[1]},
    "tolerations": [POOL_TOLERATION],
}
POOL_B = {
    "name": "pool-b",
    "nodeSelector": {KWOK_LABEL[0]: KWOK_LABEL[1], "kubernetes.io/os": "linux"},
}


def policy_manifest(name: str, *placements: dict[str, Any]) -> str:
    return yaml.safe_dump(
        {
            "apiVersion": "craftplane.io/v1alpha1",
            "kind": "CraftplanePolicy",
            "metadata": {"name": name},
            "spec": {"placements": list(placements)},
        }
    )


@pytest.fixture
def policy(kubectl: Kubectl) -> Iterator[str]:
    """A CraftplanePolicy of the test's own with two profiles, deleted afterwards."""
    kwok_nodes = kubectl.json("get", "nodes", "-l", "=".join(KWOK_LABEL))["items"]
    assert kwok_nodes, f"no node labelled {'='.join(KWOK_LABEL)}: not the kwok sandbox?"
    name = f"t-place-{secrets.token_hex(3)}"
    kubectl.apply(policy_manifest(name, POOL_A, POOL_B))
    yield name
    kubectl.run(
        "delete", "craftplanepolicy", name, "--ignore-not-found", "--wait=false", check=False
    )


@pytest.fixture
def tenant(kubectl: Kubectl, namespace: str, policy: str, operator: ManagedProcess) -> str:
    """The test's namespace as a tenant's, bound to the policy once admission knows the
    policy exists (the operator lists it in the unknown-policy binding)."""
    kubectl.run(
        "label",
        "namespace",
        namespace,
        f"craftplane.io/tenant=place{secrets.token_hex(2)}",
        f"craftplane.io/policy={policy}",
    )
    wait_admitted(kubectl, namespace, server_manifest("admission-probe"))
    return namespace


def pod_template(kubectl: Kubectl, namespace: str, name: str) -> dict[str, Any] | None:
    sts = kubectl.get("statefulset", name, namespace)
    if sts is None:
        return None
    spec: dict[str, Any] = sts["spec"]["template"]["spec"]
    return spec


def scheduling(pod: dict[str, Any]) -> dict[str, Any]:
    return {k: pod[k] for k in ("nodeSelector", "tolerations", "affinity") if k in pod}


def _refused_by_placements(kubectl: Kubectl, namespace: str, manifest: str) -> str | None:
    """The API server's refusal of a server-side dry run, once the admission policy has seen
    the new policy and the namespace's labels (both reach it through informers)."""
    result = kubectl.run(
        "apply", "--dry-run=server", "-n", namespace, "-f", "-", stdin=manifest, check=False
    )
    return result.stderr if result.returncode != 0 and "rule placements" in result.stderr else None


def test_a_servers_profile_places_it_and_an_unknown_one_is_refused_or_reported(
    kubectl: Kubectl, tenant: str, policy: str, operator: ManagedProcess
) -> None:
    namespace = tenant
    kubectl.apply(server_manifest("alpha", placement="pool-a"), namespace)

    pod = wait_for(
        lambda: pod_template(kubectl, namespace, "alpha"),
        timeout=60,
        what="alpha's StatefulSet",
    )
    assert pod["nodeSelector"][KWOK_LABEL[0]] == KWOK_LABEL[1], pod.get("nodeSelector")
    assert POOL_TOLERATION in pod.get("tolerations", []), pod.get("tolerations")
    placed_on = wait_for(
        lambda: (kubectl.get("pod", "alpha-0", namespace) or {}).get("spec", {}).get("nodeName"),
        timeout=60,
        what="alpha's pod scheduled",
    )
    node = kubectl.get("node", placed_on) or {}
    assert node["metadata"]["labels"].get(KWOK_LABEL[0]) == KWOK_LABEL[1], placed_on
    assert degraded(kubectl, namespace, "alpha", "PlacementUnknown") is None

    # A profile the policy does not have: refused for every client, kubectl included.
    unknown = server_manifest("gamma", placement="pool-z")
    message = wait_for(
        lambda: _refused_by_placements(kubectl, namespace, unknown),
        timeout=30,
        what="the admission policy refusing placement pool-z",
    )
    assert "pool-z" in message and policy in message, message
    applied = kubectl.run("apply", "-n", namespace, "-f", "-", stdin=unknown, check=False)
    assert applied.returncode != 0 and "rule placements" in applied.stderr, applied.stderr
    assert kubectl.get("minecraftserver", "gamma", namespace) is None

    # A server on pool-b; then the admin removes pool-b from the policy.
    kubectl.apply(server_manifest("beta", placement="pool-b"), namespace)
    before = wait_for(
        lambda: pod_template(kubectl, namespace, "beta"),
        timeout=60,
        what="beta's StatefulSet",
    )
    assert before["nodeSelector"].get("kubernetes.io/os") == "linux", before.get("nodeSelector")
    patch = json.dumps({"spec": {"placements": [POOL_A]}})
    kubectl.run("patch", "craftplanepolicy", policy, "--type=merge", "-p", patch)

    # The operator's policy cache (2 s for the tests' operator) and its resync (10 s).
    condition = wait_for(
        lambda: degraded(kubectl, namespace, "beta", "PlacementUnknown"),
        timeout=60,
        what="beta Degraded/PlacementUnknown",
    )
    assert (
        f"placement pool-b is not a profile of CraftplanePolicy {policy}" in (condition["message"])
    ), condition
    messages = wait_for(
        lambda: warning_events(kubectl, namespace, "beta", "PlacementUnknown"),
        timeout=30,
        what="a PlacementUnknown Warning on beta",
    )
    assert any("pool-b" in m for m in messages), messages
    # Where it ran, it runs on: the StatefulSet's scheduling is untouched.
    after = pod_template(kubectl, namespace, "beta")
    assert after is not None and scheduling(after) == scheduling(before)
    # The server on the profile that stayed is not disturbed.
    assert degraded(kubectl, namespace, "alpha", "PlacementUnknown") is None
