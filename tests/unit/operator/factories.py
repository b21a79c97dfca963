"""Raw Kubernetes objects for the operator's pure-function tests."""

from __future__ import annotations

import copy
from typing import Any

from craftplane_operator.builders import ServerContext

NAME = "survival"
NAMESPACE = "team-a"
UID = "0d6f6f1e-8c47-4b9a-9d0e-6f2b0c1a2b3c"
# The controller reference every child the operator applied carries (its own, not someone's).
OWNED_BY = [
    {
        "apiVersion": "craftplane.io/v1alpha1",
        "kind": "MinecraftServer",
        "name": NAME,
        "uid": UID,
        "controller": True,
        "blockOwnerDeletion": True,
    }
]


def merge(base: dict[str, Any], overlay: dict[str, Any]) -> dict[str, Any]:
    """``base`` deep-merged with ``overlay``: nested dicts merge, anything else replaces."""
    result = copy.deepcopy(base)
    for key, value in overlay.items():
        if isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = merge(result[key], value)
        else:
            result[key] = copy.deepcopy(value)
    return result


def cr_body(spec: dict[str, Any] | None = None, **metadata: Any) -> dict[str, Any]:
    return {
        "apiVersion": "craftplane.io/v1alpha1",
        "kind": "MinecraftServer",
        "metadata": {
            "name": NAME,
            "namespace": NAMESPACE,
            "uid": UID,
            "generation": 3,
            **metadata,
        },
        "spec": merge({"eula": True}, spec or {}),
    }


def server(spec: dict[str, Any] | None = None) -> ServerContext:
    return ServerContext.from_body(cr_body(spec))


def statefulset(
    *,
    replicas: int = 1,
    generation: int = 2,
    observed_generation: int = 2,
    current_revision: str = f"{NAME}-r1",
    update_revision: str = f"{NAME}-r1",
    updated_replicas: int = 1,
) -> dict[str, Any]:
    return {
        "metadata": {
            "name": NAME,
            "namespace": NAMESPACE,
            "generation": generation,
            "ownerReferences": copy.deepcopy(OWNED_BY),
        },
        "spec": {"replicas": replicas, "serviceName": f"{NAME}-pods"},
        "status": {
            "observedGeneration": observed_generation,
            "replicas": replicas,
            "currentRevision": current_revision,
            "updateRevision": update_revision,
            "updatedReplicas": updated_replicas,
        },
    }


def pod(
    *,
    ready: bool = False,
    node: str | None = "node-1",
    host_ip: str | None = "10.0.0.7",
    revision: str = f"{NAME}-r1",
    phase: str = "Running",
    state: dict[str, Any] | None = None,
    last_state: dict[str, Any] | None = None,
    started: bool = False,
    conditions: list[dict[str, Any]] | None = None,
    terminating: bool = False,
) -> dict[str, Any]:
    metadata: dict[str, Any] = {
        "name": f"{NAME}-0",
        "namespace": NAMESPACE,
        "labels": {"controller-revision-hash": revision},
    }
    if terminating:
        metadata["deletionTimestamp"] = "2025-01-01T11:59:00Z"
    status: dict[str, Any] = {
        "phase": phase,
        "conditions": [
            {"type": "Ready", "status": "True" if ready else "False"},
            *(conditions or []),
        ],
        "containerStatuses": [
            {
                "name": "minecraft",
                "image": "itzg/minecraft-server:2025.10.2",
                "ready": ready,
                "started": started or ready,
                "restartCount": 0,
                "state": state or {"running": {"startedAt": "2025-01-01T11:00:00Z"}},
                "lastState": last_state or {},
            }
        ],
    }
    if host_ip:
        status["hostIP"] = host_ip
    spec: dict[str, Any] = {"nodeName": node} if node else {}
    return {"metadata": metadata, "spec": spec, "status": status}


def unscheduled_pod(since: str | None, message: str = "0/3 nodes are available") -> dict[str, Any]:
    condition: dict[str, Any] = {
        "type": "PodScheduled",
        "status": "False",
        "reason": "Unschedulable",
        "message": message,
    }
    if since is not None:
        condition["lastTransitionTime"] = since
    return {
        "metadata": {"name": f"{NAME}-0", "labels": {"controller-revision-hash": f"{NAME}-r1"}},
        "spec": {},
        "status": {"phase": "Pending", "conditions": [condition]},
    }


def pvc(phase: str = "Bound") -> dict[str, Any]:
    return {"metadata": {"name": f"data-{NAME}-0"}, "status": {"phase": phase}}


def service(
    type_: str = "ClusterIP",
    *,
    cluster_ip: str = "10.96.0.10",
    node_port: int | None = None,
    ingress: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    port: dict[str, Any] = {"name": "minecraft", "port": 25565, "protocol": "TCP"}
    if node_port is not None:
        port["nodePort"] = node_port
    return {
        "metadata": {"name": NAME, "ownerReferences": copy.deepcopy(OWNED_BY)},
        "spec": {"type": type_, "clusterIP": cluster_ip, "ports": [port]},
        "status": {"loadBalancer": {"ingress": ingress} if ingress is not None else {}},
    }
