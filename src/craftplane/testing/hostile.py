"""What a hostile tenant asks for in a spec, and the CraftplanePolicy rule that refuses it.

One list for both ways in: the REST API (a 422 naming the field) and kubectl/GitOps as the
tenant's own identity (the admission policy's message naming the rule and the field).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final


@dataclass(frozen=True)
class Hostile:
    id: str
    spec: dict[str, Any]
    field: str
    rule: str


HOSTILE_SPECS: Final = (
    Hostile("any-image", {"image": "ghcr.io/evil/miner:latest"}, "spec.image", "images"),
    Hostile(
        "image-prefix-trick",
        {"image": "itzg/minecraft-server-evil:latest"},
        "spec.image",
        "images",
    ),
    Hostile(
        "load-balancer", {"service": {"type": "LoadBalancer"}}, "spec.service.type", "serviceTypes"
    ),
    Hostile(
        "node-port-squat",
        {"service": {"type": "NodePort", "nodePort": 30555}},
        "spec.service.type",
        "serviceTypes",
    ),
    Hostile(
        "external-dns-takeover",
        {"service": {"annotations": {"external-dns.alpha.kubernetes.io/hostname": "x.example"}}},
        "spec.service.annotations",
        "serviceAnnotationKeys",
    ),
    Hostile(
        "metallb-pool",
        {"service": {"annotations": {"metallb.universe.tf/address-pool": "prod"}}},
        "spec.service.annotations",
        "serviceAnnotationKeys",
    ),
    Hostile(
        "thousand-cores", {"resources": {"cpu": "1000"}}, "spec.resources.cpu", "maxPerServer.cpu"
    ),
    Hostile(
        "ten-tebibytes",
        {"resources": {"memory": "10Ti"}},
        "spec.resources.memory",
        "maxPerServer.memory",
    ),
    Hostile(
        "a-pebibyte-volume",
        {"storage": {"size": "1Pi"}},
        "spec.storage.size",
        "maxPerServer.storage",
    ),
    Hostile(
        "unknown-storage-class",
        {"storage": {"storageClassName": "premium-ssd"}},
        "spec.storage.storageClassName",
        "storageClasses",
    ),
    Hostile(
        "tolerate-everything",
        {"scheduling": {"tolerations": [{"operator": "Exists"}]}},
        "spec.scheduling",
        "rawScheduling",
    ),
    Hostile(
        "control-plane-node",
        {"scheduling": {"nodeSelector": {"node-role.kubernetes.io/control-plane": ""}}},
        "spec.scheduling",
        "rawScheduling",
    ),
    Hostile(
        "pod-affinity-oracle",
        {
            "scheduling": {
                "affinity": {
                    "podAffinity": {
                        "requiredDuringSchedulingIgnoredDuringExecution": [
                            {
                                "labelSelector": {
                                    "matchLabels": {"app.kubernetes.io/instance": "victim"}
                                },
                                "topologyKey": "kubernetes.io/hostname",
                            }
                        ]
                    }
                }
            }
        },
        "spec.scheduling",
        "rawScheduling",
    ),
    Hostile("unknown-placement", {"placement": "gpu-pool"}, "spec.placement", "placements"),
)


def hostile_manifest(name: str, hostile: Hostile) -> dict[str, Any]:
    return {
        "apiVersion": "craftplane.io/v1alpha1",
        "kind": "MinecraftServer",
        "metadata": {"name": name},
        "spec": {"eula": True, **hostile.spec},
    }
