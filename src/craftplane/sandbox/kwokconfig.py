"""The kwokctl configuration the sandbox's control plane is created with."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from craftplane.sandbox.config import SandboxConfig

Patches = list[dict[str, Any]]


def render(cfg: SandboxConfig, patches: Patches) -> str:
    """kwokctl's configuration for a new cluster: the local binaries, short node leases and
    the components' extra flags."""
    b = cfg.bin_dir
    doc: dict[str, Any] = {
        "apiVersion": "config.kwok.x-k8s.io/v1alpha1",
        "kind": "KwokctlConfiguration",
        "options": {
            "runtime": "binary",
            "kubeVersion": cfg.k8s_version,
            "etcdVersion": cfg.etcd_version.lstrip("v"),
            "kubeApiserverPort": cfg.apiserver_port,
            "bindAddress": "127.0.0.1",
            "kubeApiserverBinary": str(b / "kube-apiserver"),
            "kubeControllerManagerBinary": str(b / "kube-controller-manager"),
            "kubeSchedulerBinary": str(b / "kube-scheduler"),
            "kwokControllerBinary": str(b / "kwok"),
            "etcdBinary": str(b / "etcd"),
            "kubectlBinary": str(b / "kubectl"),
            "quietPull": True,
            # kwokctl multiplies every heartbeat setting by 5 by default, giving 200 s node
            # leases: a kwok restarted after a crash then manages no node, and starts no pod,
            # for up to 200 s. Short leases (renewed every 10 s) with relaxed status updates
            # keep restarts quick without more node-status traffic.
            "heartbeatFactor": 1.0,
            "nodeLeaseDurationSeconds": 40,
            "nodeStatusUpdateFrequencyMilliseconds": 50_000,
            "kubeControllerManagerNodeMonitorPeriodMilliseconds": 25_000,
            "kubeControllerManagerNodeMonitorGracePeriodMilliseconds": 200_000,
        },
    }
    if patches:
        doc["componentsPatches"] = patches
    return yaml.safe_dump(doc, sort_keys=False)


# kwokctl runs kwok with --manage-all-nodes=true, which would take over a real node too; it
# manages only the nodes it creates itself (annotated kwok.x-k8s.io/node=fake) from now on.
KWOK_OWN_NODES: Patches = [
    {
        "name": "kwok-controller",
        "extraArgs": [
            {"key": "manage-all-nodes", "value": "false"},
            {"key": "manage-nodes-with-annotation-selector", "value": "kwok.x-k8s.io/node=fake"},
        ],
    }
]


def missing_patches(cluster_dir: Path, patches: Patches) -> list[str]:
    """Extra arguments that an existing cluster was created without."""
    recorded = (cluster_dir / "kwok.yaml").read_text()
    return [
        arg["key"]
        for patch in patches
        for arg in patch.get("extraArgs", [])
        if f"--{arg['key']}=" not in recorded and arg["key"] not in recorded
    ]
