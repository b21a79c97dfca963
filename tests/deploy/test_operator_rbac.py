"""The operator does its whole job with nothing but its ServiceAccount's permissions.

`test_rbac.py` shows the ServiceAccounts can do no more than intended; this shows the operator
needs no more: a real operator process, authenticated with a token of the craftplane-operator
ServiceAccount (the RBAC of manifests/base and the tenant template, applied for real), watching
tenant namespaces the way the Deployment configures it, runs a server to Running and deletes it,
and grows a server's world volume (a PVC patch) on a StorageClass that allows expansion.
"""

from __future__ import annotations

import json
import re
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from craftplane.testing.admission import wait_admitted
from craftplane.testing.kubectl import Kubectl
from craftplane.testing.platform import Platform
from craftplane.testing.processes import ManagedProcess
from craftplane.testing.servers import wait_phase
from craftplane.testing.wait import wait_for
from tests.deploy.conftest import MANIFESTS, SYSTEM, Installed, render
from tests.operator.conftest import operator_process, server_manifest

pytestmark = pytest.mark.cluster

ACCOUNT = f"system:serviceaccount:{SYSTEM}:craftplane-operator"


@pytest.fixture
def lease_namespace(kubectl: Kubectl) -> Iterator[str]:
    """The operator's leader-election Role and binding, unchanged but in a namespace of the test's
    own: the shared cluster may run other operators competing for the Lease in craftplane-system.
    """
    name = f"t-lease-{secrets.token_hex(3)}"
    kubectl.run("create", "namespace", name)
    objects = [
        o
        for o in render(kubectl, MANIFESTS / "base")
        if o["kind"] in ("Role", "RoleBinding")
        and o["metadata"]["name"] == "craftplane-operator-leader-election"
    ]
    assert len(objects) == 2
    for obj in objects:
        obj["metadata"]["namespace"] = name
    kubectl.apply(yaml.safe_dump_all(objects))
    yield name
    kubectl.run("delete", "namespace", name, "--wait=false", check=False)


@pytest.fixture
def service_account_kubeconfig(kubectl: Kubectl, installed: Installed, tmp_path: Path) -> Path:
    token = kubectl.run(
        "create", "token", "craftplane-operator", "-n", SYSTEM, "--duration=1h"
    ).stdout.strip()
    path = tmp_path / "kubeconfig"
    shutil.copy(kubectl.kubeconfig, path)
    scoped = Kubectl(path, kubectl.binary)
    scoped.run("config", "set-credentials", "craftplane-operator", f"--token={token}")
    scoped.run("config", "set-context", "--current", "--user=craftplane-operator")
    whoami = scoped.json("auth", "whoami")
    assert whoami["status"]["userInfo"]["username"] == ACCOUNT
    return path


@pytest.fixture
def expandable_class(kubectl: Kubectl) -> Iterator[str]:
    """A StorageClass like the cluster's default one, but certainly allowing expansion."""
    classes = kubectl.json("get", "storageclasses")["items"]
    default = next(
        c
        for c in classes
        if c["metadata"].get("annotations", {}).get("storageclass.kubernetes.io/is-default-class")
        == "true"
    )
    if default.get("allowVolumeExpansion"):
        # The sandbox's kwok class binds claims only under its own name: use it as it is.
        yield default["metadata"]["name"]
        return
    name = f"t-expand-{secrets.token_hex(3)}"
    storage_class = {
        "apiVersion": "storage.k8s.io/v1",
        "kind": "StorageClass",
        "metadata": {"name": name},
        "provisioner": default["provisioner"],
        "parameters": default.get("parameters", {}),
        "reclaimPolicy": "Delete",
        "volumeBindingMode": "Immediate",
        "allowVolumeExpansion": True,
    }
    kubectl.apply(yaml.safe_dump(storage_class))
    yield name
    kubectl.run("delete", "storageclass", name, "--wait=false", check=False)


@pytest.fixture
def storage_policy(kubectl: Kubectl, installed: Installed, expandable_class: str) -> Iterator[str]:
    """The tenant's policy, by the admin: servers may name the expandable class."""
    name = f"t-grow-{secrets.token_hex(3)}"
    policy = {
        "apiVersion": "craftplane.io/v1alpha1",
        "kind": "CraftplanePolicy",
        "metadata": {"name": name},
        "spec": {"storageClasses": [expandable_class]},
    }
    kubectl.apply(yaml.safe_dump(policy))
    namespace = installed.tenant_namespace
    kubectl.run("label", "namespace", namespace, f"craftplane.io/policy={name}", "--overwrite")
    yield expandable_class
    kubectl.run("label", "namespace", namespace, "craftplane.io/policy-", check=False)
    kubectl.run("delete", "craftplanepolicy", name, "--ignore-not-found", check=False)


def _requested(kubectl: Kubectl, namespace: str, claim: str) -> str | None:
    pvc = kubectl.get("pvc", claim, namespace) or {}
    return pvc.get("spec", {}).get("resources", {}).get("requests", {}).get("storage")


def _assert_never_refused(proc: ManagedProcess, offset: int) -> None:
    log = proc.log_path.read_bytes()[offset:].decode(errors="replace")
    # A whole-word status code: a timestamp such as "02.403+00:00" is not a refusal.
    refused = re.compile(r"(?<![\d.])403(?![\d+])|[Ff]orbidden|Not enough permissions")
    hits = [line for line in log.splitlines() if refused.search(line)]
    assert not hits, f"refused in {proc.log_path}: {hits[:3]}"


def _service_account_operator(
    platform: Platform, index: int, kubeconfig: Path, tenant: str, lease_namespace: str
) -> ManagedProcess:
    return operator_process(
        platform,
        index,
        KUBECONFIG=str(kubeconfig),
        # As the Deployment has it ('["tenant-*"]'), narrowed to this test's tenant so the
        # process leaves alone the tenant namespaces of whoever else shares the cluster.
        CRAFTPLANE_OPERATOR_NAMESPACES=json.dumps([f"{tenant}*"]),
        CRAFTPLANE_OPERATOR_LEASE_NAMESPACE=lease_namespace,
    )


def test_operator_grows_a_world_volume_on_its_service_account_alone(
    kubectl: Kubectl,
    platform: Platform,
    installed: Installed,
    crds_installed: None,
    lease_namespace: str,
    service_account_kubeconfig: Path,
    storage_policy: str,
) -> None:
    tenant = installed.tenant_namespace
    proc = _service_account_operator(
        platform, 71, service_account_kubeconfig, tenant, lease_namespace
    )
    offset = proc.log_path.stat().st_size if proc.log_path.exists() else 0
    proc.start()
    try:
        wait_for(
            lambda: proc.metric("craftplane_operator_leader") == 1,
            timeout=60,
            what="the operator to lead",
        )
        storage = {"size": "1Gi", "storageClassName": storage_policy}
        # Admitted once an operator (this one, on its ServiceAccount, if no other is running)
        # has listed the test's policy in the unknown-policy binding.
        wait_admitted(kubectl, tenant, server_manifest("sa-grow", storage=storage))
        kubectl.apply(server_manifest("sa-grow", storage=storage), tenant)
        wait_phase(kubectl, tenant, "sa-grow", "Running", timeout=90)
        claim = "data-sa-grow-0"
        assert _requested(kubectl, tenant, claim) == "1Gi"

        patch = json.dumps({"spec": {"storage": {"size": "2Gi"}}})
        kubectl.run("patch", "mcs", "-n", tenant, "sa-grow", "--type=merge", "-p", patch)
        wait_for(
            lambda: _requested(kubectl, tenant, claim) == "2Gi",
            timeout=30,
            what="the PVC asks for 2Gi, patched by the ServiceAccount's operator",
        )
        body = kubectl.get("mcs", "sa-grow", tenant) or {}
        degraded = [
            c for c in body.get("status", {}).get("conditions", []) if c["type"] == "Degraded"
        ]
        assert all(c.get("reason") != "StorageNotApplied" for c in degraded), degraded

        kubectl.run("delete", "mcs", "sa-grow", "-n", tenant, "--wait=true", "--timeout=60s")
    finally:
        proc.terminate()
    _assert_never_refused(proc, offset)


def test_operator_runs_a_server_on_its_service_account_alone(
    kubectl: Kubectl,
    platform: Platform,
    installed: Installed,
    crds_installed: None,  # stops the sandbox's own operator; the CRD is installed
    lease_namespace: str,
    service_account_kubeconfig: Path,
) -> None:
    tenant = installed.tenant_namespace
    proc = _service_account_operator(
        platform, 70, service_account_kubeconfig, tenant, lease_namespace
    )
    offset = proc.log_path.stat().st_size if proc.log_path.exists() else 0
    proc.start()
    try:
        wait_for(
            lambda: proc.metric("craftplane_operator_leader") == 1,
            timeout=60,
            what="the operator to lead",
        )
        kubectl.apply(server_manifest("sa-only"), tenant)
        body = wait_phase(kubectl, tenant, "sa-only", "Running", timeout=90)
        assert body["status"]["internalAddress"]["port"] == 25565

        # The transition events were written by this process (its identity), not another one.
        def own_events() -> list[str]:
            items = kubectl.json("get", "events", "-n", tenant)["items"]
            return [
                e["reason"]
                for e in items
                if e.get("reportingInstance", "").startswith("test-operator-70-")
            ]

        wait_for(own_events, timeout=30, what="events recorded by the ServiceAccount's operator")
        secret = kubectl.json("get", "secrets", "-n", tenant, "-l", "craftplane.io/server=sa-only")[
            "items"
        ]
        assert len(secret) == 1, "the RCON Secret was not created"

        kubectl.run("delete", "mcs", "sa-only", "-n", tenant, "--wait=true", "--timeout=60s")
    finally:
        proc.terminate()
    _assert_never_refused(proc, offset)
