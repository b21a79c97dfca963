"""The sandbox control plane is a real Kubernetes: versions, controllers, scheduler, storage, admission."""

from __future__ import annotations

import json

import pytest

from craftplane.testing.kubectl import Kubectl
from craftplane.testing.wait import wait_for

pytestmark = pytest.mark.cluster


def test_server_version_is_at_least_1_34(kubectl: Kubectl) -> None:
    version = json.loads(kubectl.run("version", "-o", "json").stdout)["serverVersion"]
    assert int(version["major"]) == 1
    assert int(version["minor"].rstrip("+")) >= 34, version


STATEFULSET = """
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: web
spec:
  replicas: 1
  serviceName: web
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
        - name: web
          image: registry.invalid/web:1
          volumeMounts: [{name: data, mountPath: /data}]
  volumeClaimTemplates:
    - metadata: {name: data}
      spec:
        accessModes: [ReadWriteOnce]
        resources: {requests: {storage: 1Gi}}
"""


def test_statefulset_with_volume_becomes_ready_and_is_garbage_collected(
    kubectl: Kubectl, namespace: str
) -> None:
    kubectl.apply(STATEFULSET, namespace)

    def ready() -> bool:
        sts = kubectl.get("statefulset", "web", namespace) or {}
        return sts.get("status", {}).get("readyReplicas") == 1

    wait_for(ready, timeout=60, what="StatefulSet web readyReplicas == 1")
    pod = kubectl.get("pod", "web-0", namespace)
    assert pod is not None
    assert pod["status"]["phase"] == "Running"
    conditions = {c["type"]: c["status"] for c in pod["status"]["conditions"]}
    assert conditions["Ready"] == "True"
    pvc = kubectl.get("pvc", "data-web-0", namespace)
    assert pvc is not None and pvc["status"]["phase"] == "Bound"

    kubectl.run("delete", "statefulset", "web", "-n", namespace, "--wait=false")
    wait_for(
        lambda: kubectl.get("pod", "web-0", namespace) is None,
        timeout=60,
        what="pod web-0 garbage-collected after its StatefulSet was deleted",
    )


CRD = """
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: gadgets.sandbox-test.craftplane.io
spec:
  group: sandbox-test.craftplane.io
  names: {kind: Gadget, plural: gadgets, singular: gadget}
  scope: Namespaced
  versions:
    - name: v1
      served: true
      storage: true
      subresources: {status: {}}
      schema:
        openAPIV3Schema:
          type: object
          properties:
            spec:
              type: object
              properties:
                size: {type: integer, minimum: 1}
            status:
              type: object
              properties:
                state: {type: string}
"""


def test_custom_resource_with_status_subresource_round_trips(
    kubectl: Kubectl, namespace: str
) -> None:
    kubectl.apply(CRD)
    wait_for(
        lambda: (
            "Established"
            in kubectl.run(
                "get",
                "crd",
                "gadgets.sandbox-test.craftplane.io",
                "-o",
                "jsonpath={.status.conditions[?(@.status=='True')].type}",
            ).stdout
        ),
        timeout=30,
        what="CRD established",
    )
    manifest = "apiVersion: sandbox-test.craftplane.io/v1\nkind: Gadget\nmetadata: {name: g1}\n"
    manifest += "spec: {size: 3}\nstatus: {state: ignored}\n"
    wait_for(
        lambda: (
            kubectl.run("apply", "-n", namespace, "-f", "-", stdin=manifest, check=False).returncode
            == 0
        ),
        timeout=30,
        what="Gadget accepted",
    )
    created = kubectl.get("gadget", "g1", namespace)
    assert created is not None
    # The status subresource means the main endpoint ignores status.
    assert "status" not in created or "state" not in created["status"]
    kubectl.run(
        "patch",
        "gadget",
        "g1",
        "-n",
        namespace,
        "--subresource=status",
        "--type=merge",
        "-p",
        '{"status": {"state": "ready"}}',
    )
    after = kubectl.get("gadget", "g1", namespace)
    assert after is not None
    assert after["status"]["state"] == "ready"
    assert after["spec"]["size"] == 3
    invalid = manifest.replace("size: 3", "size: 0").replace("g1", "g2")
    refused = kubectl.run("apply", "-n", namespace, "-f", "-", stdin=invalid, check=False)
    assert refused.returncode != 0
    assert "spec.size" in refused.stderr


PRIVILEGED_POD = """
apiVersion: v1
kind: Pod
metadata: {name: root-pod}
spec:
  containers:
    - name: c
      image: registry.invalid/c:1
      securityContext: {privileged: true}
"""


def test_restricted_namespace_rejects_privileged_pod(kubectl: Kubectl, namespace: str) -> None:
    kubectl.run("label", "namespace", namespace, "pod-security.kubernetes.io/enforce=restricted")
    result = kubectl.run("apply", "-n", namespace, "-f", "-", stdin=PRIVILEGED_POD, check=False)
    assert result.returncode != 0
    assert "violates PodSecurity" in result.stderr
    assert kubectl.get("pod", "root-pod", namespace) is None
