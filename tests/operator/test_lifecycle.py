"""A MinecraftServer applied with kubectl becomes a running server with owned children."""

from __future__ import annotations

from pathlib import Path

import pytest

from craftplane.testing.kubectl import Kubectl
from craftplane.testing.processes import ManagedProcess
from craftplane.testing.servers import CHILDREN_PER_SERVER, owned_children, phase_of, wait_phase
from craftplane.testing.wait import wait_for
from tests.operator.conftest import server_manifest

pytestmark = pytest.mark.cluster

SAMPLE = Path(__file__).resolve().parents[2] / "manifests" / "samples" / "minecraftserver.yaml"


def test_sample_runs_with_owned_children(
    kubectl: Kubectl, namespace: str, operator: ManagedProcess
) -> None:
    kubectl.run("apply", "-n", namespace, "-f", str(SAMPLE))
    body = wait_phase(kubectl, namespace, "survival", "Running", timeout=60)
    status = body["status"]
    assert status["address"]["host"]
    # Through the platform's router (its hostname and port) or, without one, the ClusterIP.
    assert status["address"]["reach"] in ("router", "cluster")
    assert status["internalAddress"]["port"] == 25565
    assert status["observedGeneration"] == body["metadata"]["generation"]
    conditions = {c["type"]: c["status"] for c in status["conditions"]}
    # No AllowlistSynced: the sample names nobody, so there is nothing to keep in sync.
    assert "AllowlistSynced" not in conditions
    assert conditions == {"Ready": "True", "Progressing": "False", "Degraded": "False"}

    table = kubectl.run("get", "mcs", "-n", namespace).stdout
    assert "Running" in table and status["address"]["display"] in table

    children = owned_children(kubectl, namespace, "survival")
    for kind, items in children.items():
        names = [i["metadata"]["name"] for i in items]
        assert len(items) == CHILDREN_PER_SERVER[kind], f"{kind}: {names}"
    uid = body["metadata"]["uid"]
    for kind in ("statefulset", "service", "configmap", "secret"):
        for child in children[kind]:
            refs = child["metadata"]["ownerReferences"]
            assert [(r["uid"], r["controller"]) for r in refs] == [(uid, True)], kind
    pvc = children["persistentvolumeclaim"][0]
    assert pvc["status"]["phase"] == "Bound"
    assert pvc["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "craftplane-operator"

    described = kubectl.run("describe", "mcs", "-n", namespace, "survival").stdout
    assert "Running" in described and "craftplane-operator" in described


def test_reconcile_is_idempotent(
    kubectl: Kubectl, namespace: str, operator: ManagedProcess
) -> None:
    kubectl.apply(server_manifest("steady"), namespace)
    wait_phase(kubectl, namespace, "steady", "Running")

    def versions() -> dict[str, str]:
        out = {}
        for kind, items in owned_children(kubectl, namespace, "steady").items():
            for item in items:
                out[f"{kind}/{item['metadata']['name']}"] = item["metadata"]["resourceVersion"]
        body = kubectl.get("minecraftserver", "steady", namespace)
        assert body is not None
        out["cr"] = body["metadata"]["resourceVersion"]
        return out

    before = versions()
    # Touch the CR without changing its spec: a new watch event, a full reconcile.
    kubectl.run("annotate", "mcs", "-n", namespace, "steady", "test/poke=1")
    before["cr"] = kubectl.get("minecraftserver", "steady", namespace)["metadata"][  # type: ignore[index]
        "resourceVersion"
    ]
    reconciles = operator.metric("craftplane_operator_reconcile_seconds_count")
    wait_for(
        lambda: operator.metric("craftplane_operator_reconcile_seconds_count") > reconciles,
        timeout=30,
        what="a reconcile after the annotation",
    )
    assert versions() == before


def test_stop_keeps_world_and_start_reuses_it(
    kubectl: Kubectl, namespace: str, operator: ManagedProcess
) -> None:
    kubectl.apply(server_manifest("toggle"), namespace)
    wait_phase(kubectl, namespace, "toggle", "Running")
    pvc_uid = kubectl.get("pvc", "data-toggle-0", namespace)["metadata"]["uid"]  # type: ignore[index]

    kubectl.run(
        "patch",
        "mcs",
        "-n",
        namespace,
        "toggle",
        "--type=merge",
        "-p",
        '{"spec": {"stopped": true}}',
    )
    wait_phase(kubectl, namespace, "toggle", "Stopped")
    # The scale-down follows the save over RCON (which a kwok pod never answers: it times out).
    wait_for(
        lambda: (
            True
            if ((kubectl.get("statefulset", "toggle", namespace) or {}).get("spec") or {}).get(
                "replicas"
            )
            == 0
            else None
        ),
        timeout=30,
        what="scaled to zero",
    )
    wait_for(
        lambda: kubectl.get("pod", "toggle-0", namespace) is None,
        timeout=30,
        what="pod gone while stopped",
    )
    pvc = kubectl.get("pvc", "data-toggle-0", namespace)
    assert pvc is not None and pvc["metadata"]["uid"] == pvc_uid

    kubectl.run(
        "patch",
        "mcs",
        "-n",
        namespace,
        "toggle",
        "--type=merge",
        "-p",
        '{"spec": {"stopped": false}}',
    )
    wait_phase(kubectl, namespace, "toggle", "Running")
    pod = kubectl.get("pod", "toggle-0", namespace)
    assert pod is not None
    volumes = {v["name"]: v for v in pod["spec"]["volumes"]}
    assert volumes["data"]["persistentVolumeClaim"]["claimName"] == "data-toggle-0"
    assert kubectl.get("pvc", "data-toggle-0", namespace)["metadata"]["uid"] == pvc_uid  # type: ignore[index]


@pytest.mark.parametrize("retain", [True, False])
def test_delete_removes_children_and_honours_retention(
    kubectl: Kubectl, namespace: str, operator: ManagedProcess, retain: bool
) -> None:
    kubectl.apply(
        server_manifest("gone", storage={"size": "1Gi", "retainOnDelete": retain}), namespace
    )
    wait_phase(kubectl, namespace, "gone", "Running")
    kubectl.run("delete", "mcs", "-n", namespace, "gone", "--wait=true", timeout=60)
    assert phase_of(kubectl, namespace, "gone") is None

    def children_gone() -> bool:
        left = owned_children(kubectl, namespace, "gone")
        return all(not left[k] for k in ("statefulset", "service", "configmap", "secret"))

    wait_for(children_gone, timeout=60, what="children garbage-collected")
    wait_for(lambda: kubectl.get("pod", "gone-0", namespace) is None, timeout=60, what="pod gone")
    if retain:
        assert kubectl.get("pvc", "data-gone-0", namespace) is not None
    else:
        wait_for(
            lambda: kubectl.get("pvc", "data-gone-0", namespace) is None,
            timeout=60,
            what="world PVC deleted with the server",
        )
