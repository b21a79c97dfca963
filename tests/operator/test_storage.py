"""Changing spec.storage of a server whose world volume exists."""

from __future__ import annotations

import json

import pytest

from craftplane.testing.kubectl import Kubectl
from craftplane.testing.processes import ManagedProcess
from craftplane.testing.servers import wait_phase
from craftplane.testing.wait import wait_for
from tests.operator.conftest import server_manifest

pytestmark = pytest.mark.cluster


def _patch_size(kubectl: Kubectl, namespace: str, name: str, size: str) -> None:
    patch = json.dumps({"spec": {"storage": {"size": size}}})
    kubectl.run("patch", "mcs", "-n", namespace, name, "--type=merge", "-p", patch)


def _requested(kubectl: Kubectl, namespace: str, claim: str) -> str | None:
    pvc = kubectl.get("pvc", claim, namespace) or {}
    return pvc.get("spec", {}).get("resources", {}).get("requests", {}).get("storage")


def _degraded(kubectl: Kubectl, namespace: str, name: str) -> dict[str, str]:
    body = kubectl.get("mcs", name, namespace) or {}
    conditions = body.get("status", {}).get("conditions", [])
    return next((c for c in conditions if c["type"] == "Degraded"), {})


def test_a_larger_size_grows_the_volume_and_a_smaller_one_is_reported(
    kubectl: Kubectl, namespace: str, operator: ManagedProcess
) -> None:
    kubectl.apply(server_manifest("world", storage={"size": "1Gi"}), namespace)
    wait_phase(kubectl, namespace, "world", "Running")
    claim = "data-world-0"
    assert _requested(kubectl, namespace, claim) == "1Gi"
    sts_before = kubectl.get("statefulset", "world", namespace)
    assert sts_before is not None

    _patch_size(kubectl, namespace, "world", "2Gi")
    wait_for(
        lambda: _requested(kubectl, namespace, claim) == "2Gi",
        timeout=30,
        what="the PVC asks for 2Gi",
    )
    body = wait_phase(kubectl, namespace, "world", "Running", timeout=30)
    assert _degraded(kubectl, namespace, "world")["status"] == "False", body["status"]
    # The StatefulSet's claim template is immutable and was left alone: no failed update.
    sts_after = kubectl.get("statefulset", "world", namespace)
    assert sts_after is not None
    assert sts_after["metadata"]["uid"] == sts_before["metadata"]["uid"]

    _patch_size(kubectl, namespace, "world", "1Gi")
    degraded = wait_for(
        lambda: (c := _degraded(kubectl, namespace, "world")).get("status") == "True" and c,
        timeout=30,
        what="Degraded=True after asking for a smaller volume",
    )
    assert degraded["reason"] == "StorageNotApplied"
    assert "cannot shrink" in degraded["message"] and "keeps 2Gi" in degraded["message"]
    assert _requested(kubectl, namespace, claim) == "2Gi"
    body = kubectl.get("mcs", "world", namespace)
    assert body is not None and body["status"]["phase"] == "Running"

    def warned() -> bool:
        events = kubectl.json("get", "events", "-n", namespace)["items"]
        return any(
            e["reason"] == "StorageNotApplied"
            and e["type"] == "Warning"
            and e["involvedObject"]["name"] == "world"
            for e in events
        )

    wait_for(warned, timeout=30, what="a Warning event StorageNotApplied")

    # Asking for the size the volume has again clears the condition.
    _patch_size(kubectl, namespace, "world", "2Gi")
    wait_for(
        lambda: _degraded(kubectl, namespace, "world").get("status") == "False",
        timeout=30,
        what="Degraded=False once spec.storage matches the volume again",
    )
