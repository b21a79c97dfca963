"""A tenant namespace naming a CraftplanePolicy that does not exist (an admin's typo) is refused
every spec write, not admitted unchecked: `craftplane-unknown-policy`, whose binding the
operator keeps listing the policies that exist. Creating the policy lifts the refusal; updates
that leave the spec alone (annotations, the operator's finalizer, deletion) always pass."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator

import pytest
import yaml

from craftplane.contracts.admission import UNKNOWN_NAME, UNKNOWN_RULE
from craftplane.contracts.names import FINALIZER, TENANT_LABEL
from craftplane.contracts.policy import POLICY_LABEL
from craftplane.testing.admission import wait_admitted, wait_refused
from craftplane.testing.kubectl import Kubectl
from craftplane.testing.processes import ManagedProcess
from craftplane.testing.wait import wait_for
from tests.operator.conftest import server_manifest

pytestmark = pytest.mark.cluster


@pytest.fixture
def tenant(kubectl: Kubectl, namespace: str) -> str:
    """The test's namespace as a tenant's, on the default policy for now."""
    kubectl.run("label", "namespace", namespace, f"{TENANT_LABEL}=unk{secrets.token_hex(2)}")
    return namespace


@pytest.fixture
def missing_policy(kubectl: Kubectl) -> Iterator[str]:
    """A policy name nobody has created; deleted afterwards in case the test created it."""
    name = f"t-nosuch-{secrets.token_hex(3)}"
    yield name
    kubectl.run("delete", "craftplanepolicy", name, "--ignore-not-found", check=False)


def _binding_excludes(kubectl: Kubectl) -> list[str]:
    binding = kubectl.get("validatingadmissionpolicybinding", UNKNOWN_NAME) or {}
    expressions = (
        binding.get("spec", {})
        .get("matchResources", {})
        .get("namespaceSelector", {})
        .get("matchExpressions", [])
    )
    return [v for e in expressions if e.get("operator") == "NotIn" for v in e.get("values", [])]


def _finalizers(kubectl: Kubectl, namespace: str, name: str) -> list[str]:
    body = kubectl.get("mcs", name, namespace) or {}
    found: list[str] = body.get("metadata", {}).get("finalizers", [])
    return found


def test_a_missing_policy_is_refused_until_the_admin_creates_it(
    kubectl: Kubectl, tenant: str, missing_policy: str, operator: ManagedProcess
) -> None:
    probe = server_manifest("probe")
    wait_admitted(kubectl, tenant, probe)  # the default policy, which exists
    kubectl.run("label", "namespace", tenant, f"{POLICY_LABEL}={missing_policy}", "--overwrite")

    refusal = wait_refused(kubectl, tenant, probe, UNKNOWN_RULE)
    assert f"ValidatingAdmissionPolicy '{UNKNOWN_NAME}'" in refusal, refusal
    assert f"spec: namespace {tenant} names CraftplanePolicy {missing_policy}," in refusal
    assert missing_policy not in _binding_excludes(kubectl)

    policy = {
        "apiVersion": "craftplane.io/v1alpha1",
        "kind": "CraftplanePolicy",
        "metadata": {"name": missing_policy},
        "spec": {},
    }
    kubectl.apply(yaml.safe_dump(policy))
    # The operator's next pass lists it in the binding; admission then sees the binding.
    wait_admitted(kubectl, tenant, probe)
    assert missing_policy in _binding_excludes(kubectl)
    assert "default" in _binding_excludes(kubectl)

    # Deleted again: refused again, once the operator has taken it out of the list.
    kubectl.run("delete", "craftplanepolicy", missing_policy)
    wait_for(
        lambda: missing_policy not in _binding_excludes(kubectl),
        timeout=60,
        what=f"the binding forgets {missing_policy}",
    )
    wait_refused(kubectl, tenant, probe, UNKNOWN_RULE)


def test_updates_leaving_the_spec_alone_pass_while_the_policy_is_missing(
    kubectl: Kubectl, tenant: str, missing_policy: str, operator: ManagedProcess
) -> None:
    kubectl.apply(server_manifest("before"), tenant)
    wait_for(
        lambda: FINALIZER in _finalizers(kubectl, tenant, "before"),
        timeout=60,
        what="the operator's finalizer on before",
    )
    kubectl.run("label", "namespace", tenant, f"{POLICY_LABEL}={missing_policy}", "--overwrite")
    wait_refused(kubectl, tenant, server_manifest("probe"), UNKNOWN_RULE)

    # Metadata only: the tenant's own annotation, and whatever the operator writes.
    annotate = kubectl.run(
        "annotate", "mcs", "before", "-n", tenant, "test.craftplane.io/touched=yes",
        "--overwrite", check=False,
    )  # fmt: skip
    assert annotate.returncode == 0, annotate.stderr

    # A spec change is refused: it would otherwise be kept, unchecked, by the ratchet later.
    stop = kubectl.run(
        "patch", "mcs", "before", "-n", tenant, "--type=merge",
        "-p", json.dumps({"spec": {"stopped": True}}), check=False,
    )  # fmt: skip
    assert stop.returncode != 0 and f"rule {UNKNOWN_RULE})" in stop.stderr, stop.stderr

    # Deletion ends with the operator removing its finalizer (spec unchanged): it never hangs.
    kubectl.run("delete", "mcs", "before", "-n", tenant, "--wait=true", "--timeout=60s")
    assert kubectl.get("mcs", "before", tenant) is None
