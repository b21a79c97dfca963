"""`craftplane tenant create` and `tenant sync` against the real API server: a tenant on a
CraftplanePolicy of the test's own (one server), its labels, quota, limits and network
policies; the quota refusing a second MinecraftServer; a policy edit reaching the quota."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from collections.abc import Iterator

import pytest
import yaml

from craftplane.testing.admission import wait_admitted
from craftplane.testing.kubectl import Kubectl
from craftplane.testing.platform import Platform
from craftplane.testing.plugin import server_manifest
from craftplane.testing.policies import ensure_policy
from craftplane.testing.processes import ManagedProcess
from craftplane.testing.wait import wait_for

pytestmark = pytest.mark.cluster

NETWORK_POLICIES = {
    "default-deny",
    "allow-dns-egress",
    "allow-game-port",
    "allow-rcon-from-craftplane",
    "allow-server-downloads",
    "allow-backup-egress",
}


def craftplane(platform: Platform, *args: str) -> subprocess.CompletedProcess[str]:
    """The command as a user runs it, on the test's cluster."""
    env = {**os.environ, "KUBECONFIG": str(platform.kubeconfig)}
    return subprocess.run(
        [sys.executable, "-m", "craftplane.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture
def one_server_policy(
    kubectl: Kubectl, crds_installed: None, operator: ManagedProcess
) -> Iterator[str]:
    """A policy admission knows of (the operator lists it in the unknown-policy binding)."""
    name = f"t-one-{secrets.token_hex(3)}"
    spec = {
        "quota": {"servers": 1, "cpu": "2", "memory": "4Gi", "storage": "20Gi"},
        "serviceTypes": ["ClusterIP", "NodePort"],
    }
    ensure_policy(kubectl, name, spec)
    yield name
    kubectl.run("delete", "craftplanepolicy", name, "--ignore-not-found", check=False)


@pytest.fixture
def tenant(kubectl: Kubectl) -> Iterator[str]:
    name = f"tc{secrets.token_hex(3)}"
    yield name
    namespace = f"tenant-{name}"
    kubectl.run("delete", "minecraftservers", "--all", "-n", namespace, "--wait=false", check=False)
    # An operator of the session may have put its finalizer on the server; if none is there to
    # remove it, the namespace would never finish terminating.
    for server in ("first", "second"):
        kubectl.run(
            "patch", "minecraftserver", server, "-n", namespace, "--type=merge",
            "-p", '{"metadata": {"finalizers": null}}', check=False,
        )  # fmt: skip
    kubectl.run("delete", "namespace", namespace, "--wait=false", "--ignore-not-found", check=False)


def test_a_tenant_is_made_from_its_policy_and_its_quota_holds(
    platform: Platform, kubectl: Kubectl, one_server_policy: str, tenant: str
) -> None:
    namespace = f"tenant-{tenant}"
    policy = one_server_policy
    dry = craftplane(platform, "tenant", "create", tenant, "--policy", policy, "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert next(yaml.safe_load_all(dry.stdout))["kind"] == "Namespace"
    assert kubectl.get("namespace", namespace) is None, "--dry-run applied something"

    made = craftplane(platform, "tenant", "create", tenant, "--policy", policy)
    assert made.returncode == 0, made.stderr
    assert f"namespace/{namespace} created" in made.stdout.splitlines()

    labels = kubectl.json("get", "namespace", namespace)["metadata"]["labels"]
    assert labels["craftplane.io/tenant"] == tenant
    assert labels["craftplane.io/policy"] == policy
    for mode in ("enforce", "warn", "audit"):
        assert labels[f"pod-security.kubernetes.io/{mode}"] == "restricted"

    quota = kubectl.json("get", "resourcequota", "tenant-quota", "-n", namespace)
    hard = quota["spec"]["hard"]
    assert hard["count/minecraftservers.craftplane.io"] == "1"
    assert (hard["requests.cpu"], hard["limits.cpu"]) == ("2", "2")
    assert (hard["requests.memory"], hard["limits.memory"]) == ("4Gi", "4Gi")
    assert hard["requests.storage"] == "20Gi" and hard["persistentvolumeclaims"] == "1"
    assert (hard["services.nodeports"], hard["services.loadbalancers"]) == ("1", "0")
    # The command waited until the quota controller counted it (else: "status unknown").
    assert quota["status"]["hard"] == hard

    limits = kubectl.json("get", "limitrange", "tenant-limits", "-n", namespace)["spec"]["limits"]
    assert limits[0]["max"] == {"cpu": "4", "memory": "16Gi"}
    found = kubectl.json("get", "networkpolicies", "-n", namespace)["items"]
    assert {p["metadata"]["name"] for p in found} == NETWORK_POLICIES
    bindings = kubectl.json("get", "rolebindings", "-n", namespace)["items"]
    assert {b["metadata"]["name"] for b in bindings} >= {
        "craftplane-operator", "craftplane-gateway", "tenant-admin",
    }  # fmt: skip

    # Admission learns of a new policy through its informers and the operator's next pass.
    wait_admitted(kubectl, namespace, server_manifest("first"))
    kubectl.apply(server_manifest("first"), namespace)
    second = kubectl.run(
        "apply", "-n", namespace, "-f", "-", stdin=server_manifest("second"), check=False
    )
    assert second.returncode != 0, "a second server was admitted past quota.servers=1"
    assert "exceeded quota: tenant-quota" in second.stderr, second.stderr
    assert "count/minecraftservers.craftplane.io" in second.stderr
    assert kubectl.get("minecraftserver", "second", namespace) is None

    again = craftplane(platform, "tenant", "create", tenant, "--policy", policy)
    assert again.returncode == 0, again.stderr
    assert not [line for line in again.stdout.splitlines() if line.endswith(" created")]


def test_sync_carries_a_policy_edit_into_the_quota(
    platform: Platform, kubectl: Kubectl, one_server_policy: str, tenant: str
) -> None:
    namespace = f"tenant-{tenant}"
    made = craftplane(platform, "tenant", "create", tenant, "--policy", one_server_policy)
    assert made.returncode == 0, made.stderr
    wait_admitted(kubectl, namespace, server_manifest("first"))
    kubectl.apply(server_manifest("first"), namespace)

    patch = json.dumps({"spec": {"quota": {"servers": 2}}})
    kubectl.run("patch", "craftplanepolicy", one_server_policy, "--type=merge", "-p", patch)
    # Only this policy's tenants: the cluster is shared, and others' tenants are not ours to touch.
    synced = craftplane(platform, "tenant", "sync", "--policy", one_server_policy)
    assert synced.returncode == 0, synced.stderr
    assert synced.stdout == (
        f"{namespace} (policy {one_server_policy}): resourcequota/tenant-quota configured, "
        "limitrange/tenant-limits unchanged\n"
    )

    def counted() -> bool:
        quota = kubectl.json("get", "resourcequota", "tenant-quota", "-n", namespace)
        counted: dict[str, str] = quota.get("status", {}).get("hard", {})
        return counted.get("count/minecraftservers.craftplane.io") == "2"

    wait_for(counted, timeout=30, what="the quota controller counting the new quota")
    kubectl.apply(server_manifest("second"), namespace)
    assert kubectl.get("minecraftserver", "second", namespace) is not None

    again = craftplane(platform, "tenant", "sync", tenant)
    assert again.returncode == 0, again.stderr
    assert again.stdout == (
        f"{namespace} (policy {one_server_policy}): resourcequota/tenant-quota unchanged, "
        "limitrange/tenant-limits unchanged\n"
    )
