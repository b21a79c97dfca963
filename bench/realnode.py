"""Create -> Running for servers on the real node, against plain pods of the same image.

Platform: N MinecraftServers in a namespace the placement sends to the real node, created at
once; per server, the time from `kubectl apply` until its status says Running (the operator
saw the pod Ready, i.e. the server's own `mc-health` passed). Baseline (same run, same node,
same image, same probe): N bare pods created at once, until each is Ready. The difference is
what the operator, the StatefulSet controller and the world volume's provisioning add.

    python -m bench realnode --servers 10
"""

from __future__ import annotations

import argparse
import json
import secrets
import time
from collections.abc import Callable

from bench.common import percentile
from bench.harness import host_load, kubectl, row, sandbox
from craftplane.sandbox import node, stack
from craftplane.sandbox.config import SandboxConfig
from craftplane.sandbox.nodeconfig import REAL_NODE_TOLERATION


def _wait(
    names: list[str], ready: Callable[[], set[str]], created: dict[str, float], timeout: float
) -> dict[str, float]:
    done: dict[str, float] = {}
    deadline = time.monotonic() + timeout
    while len(done) < len(names) and time.monotonic() < deadline:
        for name in ready() - done.keys():
            done[name] = time.monotonic() - created[name]
        time.sleep(0.25)
    missing = sorted(set(names) - done.keys())
    if missing:
        raise SystemExit(f"not ready within {timeout:.0f}s: {missing}")
    return done


def baseline(cfg: SandboxConfig, n: int, image: str) -> dict[str, float]:
    ns = f"bench-pods-{secrets.token_hex(3)}"
    kubectl(cfg, "create", "namespace", ns)
    probe = {"exec": {"command": ["mc-health"]}, "periodSeconds": 10, "timeoutSeconds": 5}
    created: dict[str, float] = {}
    names = [f"pod-{i}" for i in range(n)]
    for name in names:
        pod = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": name},
            "spec": {
                "nodeSelector": dict([cfg.real_node_label.split("=", 1)]),
                "tolerations": [REAL_NODE_TOLERATION],
                "securityContext": {"runAsUser": 1000, "runAsGroup": 1000, "fsGroup": 1000},
                "containers": [
                    {
                        "name": "minecraft",
                        "image": image,
                        "env": [
                            {"name": n_, "value": v}
                            for n_, v in {
                                "EULA": "TRUE",
                                "ONLINE_MODE": "FALSE",
                                "RCON_PASSWORD": "bench",
                            }.items()
                        ],
                        "readinessProbe": probe,
                        "resources": {"limits": {"cpu": "150m", "memory": "1Gi"}},
                        "volumeMounts": [{"name": "data", "mountPath": "/data"}],
                    }
                ],
                "volumes": [{"name": "data", "emptyDir": {}}],
            },
        }
        created[name] = time.monotonic()
        kubectl(cfg, "apply", "-n", ns, "-f", "-", stdin=json.dumps(pod))

    def ready() -> set[str]:
        pods = json.loads(kubectl(cfg, "get", "pods", "-n", ns, "-o", "json"))["items"]
        return {
            p["metadata"]["name"]
            for p in pods
            if any(
                c["type"] == "Ready" and c["status"] == "True"
                for c in p["status"].get("conditions", [])
            )
        }

    try:
        return _wait(names, ready, created, timeout=300 + 30 * n)
    finally:
        kubectl(cfg, "delete", "namespace", ns, "--wait=false")


def platform(cfg: SandboxConfig, n: int) -> dict[str, float]:
    ns = f"real-bench-{secrets.token_hex(3)}"
    kubectl(cfg, "create", "namespace", ns)
    created: dict[str, float] = {}
    names = [f"s{i}" for i in range(n)]
    for name in names:
        body = {
            "apiVersion": "craftplane.io/v1alpha1",
            "kind": "MinecraftServer",
            "metadata": {"name": name},
            "spec": {
                "eula": True,
                "version": "1.21.4",
                "resources": {"cpu": "150m", "memory": "1Gi"},
                "storage": {"size": "1Gi"},
                "properties": {"onlineMode": False},
            },
        }
        created[name] = time.monotonic()
        kubectl(cfg, "apply", "-n", ns, "-f", "-", stdin=json.dumps(body))

    def running() -> set[str]:
        items = json.loads(kubectl(cfg, "get", "mcs", "-n", ns, "-o", "json"))["items"]
        return {
            i["metadata"]["name"]
            for i in items
            if (i.get("status") or {}).get("phase") == "Running"
        }

    try:
        return _wait(names, running, created, timeout=300 + 30 * n)
    finally:
        kubectl(cfg, "delete", "namespace", ns, "--wait=false")


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench realnode", description=__doc__)
    parser.add_argument("--servers", type=int, default=10)
    args = parser.parse_args(argv)
    cfg = sandbox()
    if not node.enabled(cfg):
        raise SystemExit("the real node is off (CRAFTPLANE_REAL_NODE=false)")
    stack.up(cfg)  # the operator must run with the sandbox's placement
    image = node.server_image(cfg)
    print(
        f"real node {cfg.real_node_name}, image {image}, {args.servers} at once; load {host_load()}"
    )
    base = baseline(cfg, args.servers, image)
    plat = platform(cfg, args.servers)
    print(row("", "p50 s", "p90 s", "max s"))
    for label, values in (("bare pods", base), ("MinecraftServers", plat)):
        times = list(values.values())
        print(
            row(
                label,
                f"{percentile(times, 50):.1f}",
                f"{percentile(times, 90):.1f}",
                f"{max(times):.1f}",
            )
        )
    print(f"load after: {host_load()}")
