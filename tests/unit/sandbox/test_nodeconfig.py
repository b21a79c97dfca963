"""The real node's configuration files: the settings this host needs, and nothing off-host."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from craftplane.sandbox import hostnet
from craftplane.sandbox.nodeconfig import (
    REAL_NODE_TAINT,
    NodeLayout,
    cni_config,
    containerd_config,
    kube_proxy_config,
    kubelet_config,
    local_path_objects,
)

pytestmark = pytest.mark.unit

LAYOUT = NodeLayout(
    root=Path("/state/node"),
    name="craftplane-real-0",
    node_ip="10.213.255.1",
    pod_cidr="10.213.0.0/24",
    pause_image="localhost/craftplane/pause:v1.36.3",
    kubelet_port=10250,
    kubelet_healthz_port=10248,
    proxy_healthz_port=10256,
    proxy_metrics_port=10249,
)


def test_containerd_keeps_to_its_own_root_and_the_settings_this_host_needs() -> None:
    text = containerd_config(LAYOUT)
    assert 'root = "/state/node/containerd/root"' in text
    assert 'address = "/state/node/containerd/containerd.sock"' in text
    assert "restrict_oom_score_adj = true" in text
    assert "SystemdCgroup = false" in text
    assert 'sandbox_image = "localhost/craftplane/pause:v1.36.3"' in text


def test_kubelet_matches_containerd_and_tolerates_cgroup_v1() -> None:
    config = yaml.safe_load(
        kubelet_config(LAYOUT, client_ca=Path("/ca"), serving=(Path("/c"), Path("/k")))
    )
    assert config["cgroupDriver"] == "cgroupfs"
    assert config["failCgroupV1"] is False
    assert config["readOnlyPort"] == 0
    assert config["authentication"]["anonymous"]["enabled"] is False
    assert config["authorization"]["mode"] == "Webhook"
    assert config["address"] == LAYOUT.node_ip
    assert config["registerWithTaints"] == [REAL_NODE_TAINT]
    assert config["containerRuntimeEndpoint"] == "unix:///state/node/containerd/containerd.sock"


def test_pods_are_neither_masqueraded_nor_exposed_on_the_machines_interfaces() -> None:
    bridge = json.loads(cni_config(LAYOUT))["plugins"][0]
    assert bridge["ipMasq"] is False
    assert bridge["ipam"]["ranges"] == [[{"subnet": "10.213.0.0/24", "gateway": "10.213.0.1"}]]
    # No default route: pods reach the node's own address (the backup store) and nothing else.
    assert bridge["ipam"]["routes"] == [{"dst": "10.213.255.1/32"}]
    proxy = yaml.safe_load(kube_proxy_config(LAYOUT, Path("/kc")))
    assert proxy["nodePortAddresses"] == ["10.213.255.1/32"]
    assert proxy["mode"] == "iptables"


def test_the_storage_class_binds_where_the_pod_lands() -> None:
    _, storage_class, config = local_path_objects(LAYOUT, "craftplane-system", "img")
    assert storage_class["volumeBindingMode"] == "WaitForFirstConsumer"
    paths = json.loads(config["data"]["config.json"])["nodePathMap"]
    assert paths == [{"node": "craftplane-real-0", "paths": ["/state/node/volumes"]}]
    assert (
        yaml.safe_load(config["data"]["helperPod.yaml"])["spec"]["containers"][0]["image"] == "img"
    )


@pytest.mark.parametrize(
    ("line", "ours"),
    [
        (":KUBE-SERVICES - [0:0]", True),
        (":CNI-HOSTPORT-DNAT - [0:0]", True),
        (":DOCKER - [0:0]", False),
        ("-A OUTPUT -m comment --comment kubernetes -j KUBE-SERVICES", True),
        ("-A PREROUTING -m addrtype --dst-type LOCAL -j CNI-HOSTPORT-DNAT", True),
        ("-A KUBE-FIREWALL -j DROP", True),
        ("-A INPUT -p tcp --dport 22 -j ACCEPT", False),
        ("*filter", False),
        ("COMMIT", False),
    ],
)
def test_only_our_chains_and_the_rules_jumping_to_them_are_removed(line: str, ours: bool) -> None:
    assert hostnet._ours(line) is ours
