"""A hostile tenant with kubectl (or a GitOps controller) on its own RBAC identity: a
ServiceAccount of its namespace bound to the template's tenant-admin Role. Every hostile spec
is refused by the admission policy, naming the rule and the field; the policy itself, and the
namespace's choice of policy, are out of the tenant's reach."""

from __future__ import annotations

import json
import secrets
import shutil
from collections.abc import Iterator

import pytest
import yaml

from craftplane.testing.admission import wait_admitted, wait_refused
from craftplane.testing.hostile import HOSTILE_SPECS, Hostile, hostile_manifest
from craftplane.testing.kubectl import Kubectl
from craftplane.testing.processes import ManagedProcess
from tests.deploy.conftest import Installed
from tests.operator.conftest import server_manifest

pytestmark = pytest.mark.cluster

ACCOUNT = "tenant-ci"
PLAIN = Hostile("plain", {}, "", "")


@pytest.fixture(scope="module")
def as_tenant(
    kubectl: Kubectl, installed: Installed, tmp_path_factory: pytest.TempPathFactory
) -> Kubectl:
    """kubectl as the tenant's ServiceAccount, with nothing but the tenant's own Role."""
    namespace = installed.tenant_namespace
    kubectl.run("create", "serviceaccount", ACCOUNT, "-n", namespace)
    kubectl.run(
        "create", "rolebinding", ACCOUNT, "-n", namespace, "--role=tenant-admin",
        f"--serviceaccount={namespace}:{ACCOUNT}",
    )  # fmt: skip
    token = kubectl.run("create", "token", ACCOUNT, "-n", namespace, "--duration=1h").stdout
    path = tmp_path_factory.mktemp("tenant") / "kubeconfig"
    shutil.copy(kubectl.kubeconfig, path)
    scoped = Kubectl(path, kubectl.binary)
    scoped.run("config", "set-credentials", ACCOUNT, f"--token={token.strip()}")
    scoped.run(
        "config", "set-context", "--current", f"--user={ACCOUNT}", f"--namespace={namespace}"
    )
    user = scoped.json("auth", "whoami")["status"]["userInfo"]["username"]
    assert user == f"system:serviceaccount:{namespace}:{ACCOUNT}"
    # Judged by the policy's rules, not refused while admission is still configuring itself.
    wait_admitted(kubectl, namespace, json.dumps(hostile_manifest("probe", PLAIN)))
    return scoped


@pytest.fixture
def permissive_policy(
    kubectl: Kubectl, installed: Installed, operator: ManagedProcess
) -> Iterator[str]:
    """A policy allowing fixed node ports, bound to the tenant's namespace by the admin, once
    admission knows it exists (the operator lists it in the unknown-policy binding)."""
    name = f"t-open-{secrets.token_hex(3)}"
    policy = {
        "apiVersion": "craftplane.io/v1alpha1",
        "kind": "CraftplanePolicy",
        "metadata": {"name": name},
        "spec": {
            "serviceTypes": ["ClusterIP", "NodePort"],
            "nodePorts": {"min": 30600, "max": 30610},
        },
    }
    kubectl.apply(yaml.safe_dump(policy))
    namespace = installed.tenant_namespace
    kubectl.run("label", "namespace", namespace, f"craftplane.io/policy={name}", "--overwrite")
    try:
        wait_admitted(kubectl, namespace, server_manifest("admission-probe"))
        yield name
    finally:
        kubectl.run("label", "namespace", namespace, "craftplane.io/policy-", check=False)
        kubectl.run("delete", "craftplanepolicy", name, "--ignore-not-found", check=False)


@pytest.mark.parametrize("hostile", HOSTILE_SPECS, ids=lambda h: h.id)
def test_admission_refuses_the_hostile_spec_naming_rule_and_field(
    as_tenant: Kubectl, hostile: Hostile
) -> None:
    name = f"h{secrets.token_hex(3)}"
    result = as_tenant.run(
        "apply", "-f", "-", stdin=json.dumps(hostile_manifest(name, hostile)), check=False
    )
    assert result.returncode != 0, result.stdout
    assert "ValidatingAdmissionPolicy 'craftplane-tenant-policy'" in result.stderr
    assert f"{hostile.field}: " in result.stderr, result.stderr
    assert f"rule {hostile.rule})" in result.stderr, result.stderr
    assert as_tenant.run("get", "mcs", name, check=False).returncode != 0


def test_the_tenant_cannot_reach_the_policy_nor_choose_its_own(
    as_tenant: Kubectl, installed: Installed
) -> None:
    own = {
        "apiVersion": "craftplane.io/v1alpha1",
        "kind": "CraftplanePolicy",
        "metadata": {"name": "mine"},
        "spec": {"rawScheduling": True, "serviceTypes": ["LoadBalancer"]},
    }
    attempts = [
        as_tenant.run("apply", "-f", "-", stdin=json.dumps(own), check=False),
        as_tenant.run(
            "patch", "craftplanepolicy", "default", "--type=merge",
            "-p", '{"spec":{"rawScheduling":true}}', check=False,
        ),
        as_tenant.run(
            "label", "namespace", installed.tenant_namespace, "craftplane.io/policy=mine",
            check=False,
        ),
        as_tenant.run(
            "delete", "validatingadmissionpolicybinding", "craftplane-tenant-policy", check=False
        ),
    ]  # fmt: skip
    for result in attempts:
        assert result.returncode != 0, result.stdout
        assert "forbidden" in result.stderr.lower(), result.stderr


def test_a_tightened_policy_ratchets_unchanged_fields(
    as_tenant: Kubectl, kubectl: Kubectl, installed: Installed, permissive_policy: str
) -> None:
    namespace = installed.tenant_namespace
    server = {
        "apiVersion": "craftplane.io/v1alpha1",
        "kind": "MinecraftServer",
        "metadata": {"name": "ratchet"},
        "spec": {"eula": True, "service": {"type": "NodePort", "nodePort": 30605}},
    }
    # Outside the policy's range first: the range is named.
    outside = json.loads(json.dumps(server))
    outside["spec"]["service"]["nodePort"] = 30555
    refused = as_tenant.run("apply", "-f", "-", stdin=json.dumps(outside), check=False)
    assert refused.returncode != 0 and "outside 30600-30610" in refused.stderr, refused.stderr
    as_tenant.run("apply", "-f", "-", stdin=json.dumps(server))
    try:
        # The admin moves the tenant back to the default policy (ClusterIP only).
        kubectl.run("label", "namespace", namespace, "craftplane.io/policy-")
        # Admission reads namespace labels from a cache: wait until it sees the default.
        node_port = {**server, "metadata": {"name": "ratchet-probe"}}
        wait_refused(kubectl, namespace, json.dumps(node_port), "serviceTypes")
        stop = as_tenant.run(
            "patch", "mcs", "ratchet", "--type=merge", "-p", '{"spec":{"stopped":true}}',
            check=False,
        )  # fmt: skip
        assert stop.returncode == 0, stop.stderr
        move = as_tenant.run(
            "patch", "mcs", "ratchet", "--type=merge",
            "-p", '{"spec":{"service":{"nodePort":30606}}}', check=False,
        )  # fmt: skip
        # The Service ratchets as a whole: changing any of its fields meets every rule.
        assert move.returncode != 0 and "spec.service" in move.stderr, move.stderr
        assert "rule serviceTypes" in move.stderr or "rule nodePorts" in move.stderr
    finally:
        kubectl.run("delete", "mcs", "ratchet", "-n", namespace, "--wait=false", check=False)
