"""Out-of-band changes to a server's children are undone; settings changes roll the pod."""

from __future__ import annotations

import pytest

from craftplane.testing.kubectl import Kubectl
from craftplane.testing.processes import ManagedProcess
from craftplane.testing.servers import wait_phase
from craftplane.testing.wait import wait_for
from tests.operator.conftest import server_manifest

pytestmark = pytest.mark.cluster


def test_deleted_service_is_recreated(
    kubectl: Kubectl, namespace: str, operator: ManagedProcess
) -> None:
    kubectl.apply(server_manifest("mended"), namespace)
    wait_phase(kubectl, namespace, "mended", "Running")
    old_uid = kubectl.get("service", "mended", namespace)["metadata"]["uid"]  # type: ignore[index]
    kubectl.run("delete", "service", "-n", namespace, "mended")

    def recreated() -> bool:
        svc = kubectl.get("service", "mended", namespace)
        return svc is not None and svc["metadata"]["uid"] != old_uid

    wait_for(recreated, timeout=30, what="Service recreated")


def test_hand_edited_statefulset_is_restored(
    kubectl: Kubectl, namespace: str, operator: ManagedProcess
) -> None:
    kubectl.apply(server_manifest("edited"), namespace)
    wait_phase(kubectl, namespace, "edited", "Running")
    kubectl.run(
        "patch",
        "statefulset",
        "-n",
        namespace,
        "edited",
        "--type=merge",
        "-p",
        '{"spec": {"replicas": 3}}',
    )
    kubectl.run("set", "image", "-n", namespace, "statefulset/edited", "minecraft=evil/image:1")

    def restored() -> bool:
        sts = kubectl.get("statefulset", "edited", namespace) or {}
        spec = sts.get("spec", {})
        image = spec["template"]["spec"]["containers"][0]["image"]
        return spec.get("replicas") == 1 and image.startswith("itzg/minecraft-server")

    wait_for(restored, timeout=30, what="StatefulSet restored")
    wait_phase(kubectl, namespace, "edited", "Running", timeout=60)


def test_motd_change_rolls_the_pod(
    kubectl: Kubectl, namespace: str, operator: ManagedProcess
) -> None:
    kubectl.apply(server_manifest("rolling"), namespace)
    wait_phase(kubectl, namespace, "rolling", "Running")
    pod_uid = kubectl.get("pod", "rolling-0", namespace)["metadata"]["uid"]  # type: ignore[index]
    kubectl.run(
        "patch",
        "mcs",
        "-n",
        namespace,
        "rolling",
        "--type=merge",
        "-p",
        '{"spec": {"properties": {"motd": "A brand new day"}}}',
    )

    def rolled() -> bool:
        pod = kubectl.get("pod", "rolling-0", namespace)
        return pod is not None and pod["metadata"]["uid"] != pod_uid

    wait_for(rolled, timeout=60, what="pod replaced after the MOTD changed")
    body = wait_phase(kubectl, namespace, "rolling", "Running", timeout=60)
    assert body["status"]["observedGeneration"] == body["metadata"]["generation"]
    cm = kubectl.get("configmap", "rolling-config", namespace)
    assert cm is not None and cm["data"]["MOTD"] == "A brand new day"
