"""The real node's own lifecycle: `up` twice is a no-op, a killed kubelet or containerd comes
back with the next `up`, and `down` leaves nothing of its own on the host."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from craftplane.sandbox import hostnet, node, procs
from craftplane.sandbox.config import SandboxConfig
from craftplane.sandbox.nodeconfig import BRIDGE, DUMMY
from craftplane.testing.kubectl import Kubectl
from craftplane.testing.wait import wait_for

pytestmark = [pytest.mark.cluster, pytest.mark.real]


def _pids(cfg: SandboxConfig) -> dict[str, int | None]:
    return {name: procs.read_pid(cfg.run_dir / f"{name}.pid") for name in node.PROCESSES}


def _leftovers(cfg: SandboxConfig) -> dict[str, list[str]]:
    """Everything of the real node's that could outlive it on this host."""
    binaries = {"containerd", "containerd-shim-runc-v2", "kubelet", "kube-proxy"}
    binaries.add("local-path-provisioner")
    # The node's own binaries, its pods' sandboxes, and the stand-in server in a container.
    processes = [
        f"{pid}: {' '.join(argv)[:120]}"
        for pid, argv in procs.command_lines()
        if Path(argv[0]).name in binaries
        or argv[0] == "/pause"
        or any(a.startswith("/opt/craftplane-server/") for a in argv)
    ]
    links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout
    return {
        "processes": processes,
        "mounts": hostnet.own_mounts(cfg.state_dir / "node"),
        "netns": hostnet.own_netns(cfg.state_dir / "node"),
        "links": [name for name in (BRIDGE, DUMMY, "veth") if f" {name}" in links],
        "iptables": hostnet.own_chains("iptables") + hostnet.own_chains("ip6tables"),
        "host paths": [str(p) for p in node.state_paths(cfg) if p.exists()],
    }


def test_up_twice_is_a_no_op(real_node: SandboxConfig) -> None:
    before = _pids(real_node)
    assert all(before.values()), before
    node.start(real_node)
    assert _pids(real_node) == before


def test_a_killed_kubelet_and_containerd_come_back_with_the_next_up(
    real_node: SandboxConfig, kubectl: Kubectl
) -> None:
    for name in ("kubelet", "containerd"):
        pid = procs.read_pid(real_node.run_dir / f"{name}.pid")
        assert pid is not None
        procs.stop_pid(pid, timeout=5)
    node.start(real_node)
    assert all(_pids(real_node).values())
    wait_for(
        lambda: "True" in kubectl.run(
            "get", "node", real_node.real_node_name,
            "-o", "jsonpath={.status.conditions[?(@.type=='Ready')].status}",
        ).stdout,
        timeout=60,
        what="the real node Ready again",
    )  # fmt: skip


def test_down_leaves_nothing_of_its_own_behind(
    real_node: SandboxConfig, kubectl: Kubectl, namespace: str
) -> None:
    # A running container (with its network namespace, mounts and CNI chains) makes it count.
    pod = (
        '{"apiVersion":"v1","kind":"Pod","metadata":{"name":"busy"},"spec":{'
        '"nodeSelector":{"craftplane.io/node-kind":"real"},'
        '"tolerations":[{"key":"craftplane.io/node-kind","operator":"Exists"}],'
        f'"containers":[{{"name":"c","image":"{node.server_image(real_node)}",'
        '"command":["/bin/sh","-c","sleep 600"]}]}}'
    )
    kubectl.apply(pod, namespace)
    kubectl.run("wait", "--for=condition=Ready", "pod/busy", "-n", namespace, "--timeout=120s")
    assert _leftovers(real_node)["netns"], "a running pod has a network namespace"
    try:
        node.stop(real_node)
        left = {kind: found for kind, found in _leftovers(real_node).items() if found}
        assert not left, left
    finally:
        node.start(real_node)
