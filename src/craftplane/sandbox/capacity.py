"""Room in the sandbox for more servers: enough kwok nodes and enough Service IPs.

A kwok node offers 32 CPUs and a server's pod requests its CPU, so a node holds tens of servers,
not the 110 pods it advertises. The sandbox's service range is a /24 (about 250 ClusterIPs) and
every server has a Service: past that the API server refuses Services ("range is full"), so a
ServiceCIDR (Kubernetes >= 1.33) extends it. Both are only ever grown, never shrunk, because
other work may be using them.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

import yaml

from craftplane.contracts.quantity import to_millicores
from craftplane.sandbox import cluster
from craftplane.sandbox.config import EXTRA_SERVICE_CIDR as EXTRA_RANGE
from craftplane.sandbox.config import SandboxConfig
from craftplane.sandbox.errors import SandboxError
from craftplane.sandbox.progress import say

EXTRA_SERVICE_CIDR: dict[str, Any] = {
    "apiVersion": "networking.k8s.io/v1",
    "kind": "ServiceCIDR",
    "metadata": {"name": "craftplane-extra"},
    "spec": {"cidrs": [EXTRA_RANGE]},
}


@dataclass(frozen=True)
class Room:
    nodes: int
    servers_per_node: int
    service_ips: int


def _get(cfg: SandboxConfig, *args: str) -> list[dict[str, Any]]:
    result = cluster.kubectl(cfg, "get", *args, "-o", "json", timeout=120)
    if result.returncode != 0:
        raise SandboxError(f"kubectl get {' '.join(args)} failed: {result.stderr.strip()}")
    items: list[dict[str, Any]] = json.loads(result.stdout)["items"]
    return items


def ensure_room(cfg: SandboxConfig, servers: int, *, server_cpu: str = "1") -> Room:
    """Grow the cluster so `servers` more servers (each requesting `server_cpu`) fit."""
    nodes = _get(cfg, "nodes")
    allocatable = nodes[0]["status"]["allocatable"] if nodes else {"cpu": "32", "pods": "110"}
    per_node = int(allocatable.get("pods", 110))
    cpu = to_millicores(server_cpu)
    if cpu:
        per_node = min(per_node, to_millicores(str(allocatable["cpu"])) // cpu)
    pods = len(_get(cfg, "pods", "-A"))
    wanted = max(cfg.nodes, math.ceil((servers + pods) / per_node) + 1)
    if len(nodes) < wanted:
        say(f"scaling kwok nodes {len(nodes)} -> {wanted} ({per_node} servers per node)")
        cluster.scale_nodes(cfg, wanted)
        waited = cluster.kubectl(
            cfg, "wait", "--for=condition=Ready", "node", "--all", "--timeout=300s", timeout=320
        )
        if waited.returncode != 0:
            raise SandboxError(f"kwok nodes did not become Ready: {waited.stderr.strip()}")
    cidrs = _get(cfg, "servicecidrs")
    capacity = sum(
        2 ** (32 - int(block.split("/")[1])) - 2
        for cidr in cidrs
        for block in cidr["spec"].get("cidrs", [])
        if ":" not in block
    )
    used = len(_get(cfg, "services", "-A"))
    name = EXTRA_SERVICE_CIDR["metadata"]["name"]
    if used + servers + 50 > capacity and all(c["metadata"]["name"] != name for c in cidrs):
        created = cluster.kubectl(
            cfg, "create", "-f", "-", stdin=yaml.safe_dump(EXTRA_SERVICE_CIDR)
        )
        if created.returncode != 0:
            raise SandboxError(f"could not add ServiceCIDR {name}: {created.stderr.strip()}")
        say(f"service range held {capacity} addresses, {used} in use: added ServiceCIDR {name}")
        capacity += 2**16 - 2
    return Room(nodes=max(wanted, len(nodes)), servers_per_node=per_node, service_ips=capacity)
