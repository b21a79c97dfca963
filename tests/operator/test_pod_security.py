"""Game server pods the operator generates are admitted under Pod Security "restricted"."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest
import yaml

from craftplane.testing.kubectl import Kubectl
from craftplane.testing.processes import ManagedProcess
from craftplane.testing.servers import wait_phase
from craftplane.testing.wait import wait_for
from tests.deploy.conftest import tenant_kustomization
from tests.operator.conftest import server_manifest

pytestmark = pytest.mark.cluster


def enforce_restricted(kubectl: Kubectl, namespace: str) -> None:
    kubectl.run(
        "label",
        "--overwrite",
        "namespace",
        namespace,
        "pod-security.kubernetes.io/enforce=restricted",
        "pod-security.kubernetes.io/enforce-version=latest",
    )


def assert_enforced(kubectl: Kubectl, namespace: str) -> None:
    """The label is in force: a pod running as root is refused in the namespace."""
    root_pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "root-probe", "namespace": namespace},
        "spec": {"containers": [{"name": "c", "image": "busybox:1.36"}]},
    }
    result = kubectl.run(
        "create", "--dry-run=server", "-f", "-", stdin=yaml.safe_dump(root_pod), check=False
    )
    assert result.returncode != 0, "a root pod was admitted: the namespace is not restricted"
    assert "violate" in result.stderr and "PodSecurity" in result.stderr, result.stderr


def assert_admitted_and_running(kubectl: Kubectl, namespace: str, name: str) -> None:
    body = wait_phase(kubectl, namespace, name, "Running", timeout=90)
    assert body["status"]["internalAddress"]["port"] == 25565
    pods = kubectl.json("get", "pods", "-n", namespace, "-l", f"craftplane.io/server={name}")
    assert len(pods["items"]) == 1
    pod = pods["items"][0]
    assert pod["status"]["phase"] == "Running"
    ready = {c["type"]: c["status"] for c in pod["status"]["conditions"]}
    assert ready.get("Ready") == "True"
    # Nothing was refused along the way (the StatefulSet controller reports it as FailedCreate).
    events = kubectl.json(
        "get", "events", "-n", namespace, "--field-selector", "reason=FailedCreate"
    )["items"]
    assert [e["message"] for e in events] == []


def test_server_pod_is_admitted_in_a_restricted_namespace(
    kubectl: Kubectl, namespace: str, operator: ManagedProcess
) -> None:
    enforce_restricted(kubectl, namespace)
    assert_enforced(kubectl, namespace)
    kubectl.apply(server_manifest("restricted", rcon={"enabled": True}), namespace)
    assert_admitted_and_running(kubectl, namespace, "restricted")


@pytest.fixture
def tenant_namespace(kubectl: Kubectl) -> Iterator[str]:
    """A namespace made from the tenant template (manifests/tenant): quota, limits, policies."""
    tenant = f"pss{secrets.token_hex(3)}"
    with tenant_kustomization(tenant) as path:
        kubectl.run("apply", "-k", str(path))
    name = f"tenant-{tenant}"
    wait_for(
        lambda: kubectl.get("serviceaccount", "default", name) is not None,
        timeout=30,
        what=f"default ServiceAccount in {name}",
    )
    yield name
    kubectl.run("delete", "namespace", name, "--wait=false", check=False)


def test_server_runs_in_a_namespace_from_the_tenant_template(
    kubectl: Kubectl, tenant_namespace: str, operator: ManagedProcess
) -> None:
    assert_enforced(kubectl, tenant_namespace)
    kubectl.apply(server_manifest("tenant-server"), tenant_namespace)
    assert_admitted_and_running(kubectl, tenant_namespace, "tenant-server")
    quota = kubectl.get("resourcequota", "tenant-quota", tenant_namespace)
    assert quota is not None
    assert quota["status"]["used"]["count/minecraftservers.craftplane.io"] == "1"
