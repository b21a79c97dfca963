"""The real node's configuration files, as pure functions of its layout.

Every setting here was needed on a host with cgroup v1 controllers, containerd 1.6 and no
CAP_SYS_RESOURCE for root; the comments say which failure each one avoids.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import yaml

NODE_KIND_LABEL: Final = "craftplane.io/node-kind"
NODE_KIND_REAL: Final = "real"
# Only pods that tolerate this land on the real node; kwok nodes keep everything else.
REAL_NODE_TAINT: Final = {"key": NODE_KIND_LABEL, "value": NODE_KIND_REAL, "effect": "NoSchedule"}
REAL_NODE_TOLERATION: Final = {
    "key": NODE_KIND_LABEL,
    "operator": "Equal",
    "value": NODE_KIND_REAL,
    "effect": "NoSchedule",
}
STORAGE_CLASS: Final = "craftplane-local"
LOCAL_PATH_PROVISIONER: Final = "craftplane.io/local-path"
LOCAL_PATH_SERVICE_ACCOUNT: Final = "local-path-provisioner"
BRIDGE: Final = "cp-br0"
DUMMY: Final = "cp-node0"


@dataclass(frozen=True)
class NodeLayout:
    """Where the real node keeps its files and which addresses it uses."""

    root: Path
    name: str
    node_ip: str
    pod_cidr: str
    pause_image: str
    kubelet_port: int
    kubelet_healthz_port: int
    proxy_healthz_port: int
    proxy_metrics_port: int

    @property
    def containerd_dir(self) -> Path:
        return self.root / "containerd"

    @property
    def containerd_socket(self) -> Path:
        return self.containerd_dir / "containerd.sock"

    @property
    def cni_conf_dir(self) -> Path:
        return self.root / "cni" / "net.d"

    @property
    def cni_ipam_dir(self) -> Path:
        return self.root / "cni" / "ipam"

    @property
    def kubelet_dir(self) -> Path:
        return self.root / "kubelet"

    @property
    def pod_logs_dir(self) -> Path:
        return self.root / "pod-logs"

    @property
    def pki_dir(self) -> Path:
        return self.root / "pki"

    @property
    def volumes_dir(self) -> Path:
        return self.root / "volumes"

    @property
    def gateway_ip(self) -> str:
        network = self.pod_cidr.split("/")[0].rsplit(".", 1)[0]
        return f"{network}.1"


def containerd_config(layout: NodeLayout) -> str:
    d = layout.containerd_dir
    cri = '[plugins."io.containerd.grpc.v1.cri"]'
    return "\n".join(
        [
            "version = 2",
            f'root = "{d / "root"}"',
            f'state = "{d / "state"}"',
            "[grpc]",
            f'  address = "{layout.containerd_socket}"',
            "[ttrpc]",
            f'  address = "{d / "containerd.sock.ttrpc"}"',
            '[plugins."io.containerd.internal.v1.opt"]',
            f'  path = "{d / "opt"}"',
            cri,
            f'  sandbox_image = "{layout.pause_image}"',
            # Without CAP_SYS_RESOURCE, runc cannot lower a container's oom_score_adj below
            # its parent's: every sandbox failed with "nsexec: failed to update
            # /proc/self/oom_score_adj: Permission denied".
            "  restrict_oom_score_adj = true",
            "  enable_selinux = false",
            # Network namespaces under the state directory, not /run/netns (shared with podman
            # and others): `down` removes only its own.
            "  netns_mounts_under_state_dir = true",
            f"{cri[:-1]}.containerd]",
            '    snapshotter = "overlayfs"',
            '    default_runtime_name = "runc"',
            f"{cri[:-1]}.containerd.runtimes.runc]",
            '      runtime_type = "io.containerd.runc.v2"',
            f"{cri[:-1]}.containerd.runtimes.runc.options]",
            # containerd 1.6 has no RuntimeConfig call, so the kubelet cannot ask for the
            # driver: both sides are told cgroupfs.
            "        SystemdCgroup = false",
            # runc's container state under the state directory too, not /run/containerd/runc.
            f'        Root = "{d / "runc"}"',
            # No registry: every pull goes to an address that answers nothing, so a server can
            # only run an image the sandbox built and imported (and nothing is fetched from
            # outside on a tenant's word).
            f"{cri[:-1]}.registry]",
            f'    config_path = "{d / "registry"}"',
            f"{cri[:-1]}.cni]",
            '    bin_dir = "/usr/lib/cni"',
            f'    conf_dir = "{layout.cni_conf_dir}"',
            "",
        ]
    )


def registry_hosts() -> str:
    """containerd's hosts.toml for every registry (``_default``): a closed local port."""
    return 'server = "https://127.0.0.1:9"\n[host."https://127.0.0.1:9"]\n  capabilities = ["pull", "resolve"]\n'


def cni_config(layout: NodeLayout) -> str:
    doc = {
        "cniVersion": "1.0.0",
        "name": "craftplane",
        "plugins": [
            {
                "type": "bridge",
                "bridge": BRIDGE,
                "isGateway": True,
                # No masquerading and no forwarding: nothing a pod sends leaves this machine.
                "ipMasq": False,
                # A pod reaching itself through its Service's ClusterIP.
                "hairpinMode": True,
                "ipam": {
                    "type": "host-local",
                    "ranges": [[{"subnet": layout.pod_cidr, "gateway": layout.gateway_ip}]],
                    # No default route (nothing leaves this machine); only the node's own
                    # address, where host services for pods listen (the backup store).
                    "routes": [{"dst": f"{layout.node_ip}/32"}],
                    "dataDir": str(layout.cni_ipam_dir),
                },
            },
            {"type": "portmap", "capabilities": {"portMappings": True}},
        ],
    }
    return json.dumps(doc, indent=2) + "\n"


def kubelet_config(layout: NodeLayout, *, client_ca: Path, serving: tuple[Path, Path]) -> str:
    doc: dict[str, Any] = {
        "apiVersion": "kubelet.config.k8s.io/v1beta1",
        "kind": "KubeletConfiguration",
        # The host has cgroup v1 controllers; kubelet 1.35+ refuses them unless told.
        "failCgroupV1": False,
        "cgroupDriver": "cgroupfs",
        # Root here cannot lower its own OOM score (no CAP_SYS_RESOURCE).
        "oomScoreAdj": 0,
        "failSwapOn": False,
        "address": layout.node_ip,
        "port": layout.kubelet_port,
        "readOnlyPort": 0,
        "healthzBindAddress": "127.0.0.1",
        "healthzPort": layout.kubelet_healthz_port,
        "containerRuntimeEndpoint": f"unix://{layout.containerd_socket}",
        "podLogsDir": str(layout.pod_logs_dir),
        "tlsCertFile": str(serving[0]),
        "tlsPrivateKeyFile": str(serving[1]),
        "authentication": {
            "anonymous": {"enabled": False},
            "webhook": {"enabled": True},
            "x509": {"clientCAFile": str(client_ca)},
        },
        "authorization": {"mode": "Webhook"},
        "registerNode": True,
        "registerWithTaints": [REAL_NODE_TAINT],
        "podCIDR": layout.pod_cidr,
        "maxPods": 30,
        "resolvConf": "",
        "serializeImagePulls": False,
        # A developer's disk is often fuller than a node's; evict only when it is nearly full.
        "evictionHard": {
            "nodefs.available": "2%",
            "imagefs.available": "2%",
            "memory.available": "100Mi",
        },
        "imageGCHighThresholdPercent": 99,
        "imageGCLowThresholdPercent": 98,
        "shutdownGracePeriod": "0s",
        "containerLogMaxSize": "10Mi",
    }
    return yaml.safe_dump(doc, sort_keys=False)


def kube_proxy_config(layout: NodeLayout, kubeconfig: Path) -> str:
    doc = {
        "apiVersion": "kubeproxy.config.k8s.io/v1alpha1",
        "kind": "KubeProxyConfiguration",
        "clientConnection": {"kubeconfig": str(kubeconfig)},
        "mode": "iptables",
        "hostnameOverride": layout.name,
        "clusterCIDR": layout.pod_cidr,
        "bindAddress": "127.0.0.1",
        "healthzBindAddress": f"127.0.0.1:{layout.proxy_healthz_port}",
        "metricsBindAddress": f"127.0.0.1:{layout.proxy_metrics_port}",
        # NodePorts only on the node's own address, never on the machine's real interfaces.
        "nodePortAddresses": [f"{layout.node_ip}/32"],
        "iptables": {"localhostNodePorts": False},
        # Leave the host's conntrack sysctls alone (they may be read-only here).
        "conntrack": {"maxPerCore": 0, "tcpEstablishedTimeout": "0s", "tcpCloseWaitTimeout": "0s"},
    }
    return yaml.safe_dump(doc, sort_keys=False)


def kubeconfig(server: str, ca: Path, cert: Path, key: Path, user: str) -> str:
    doc = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {"name": "sandbox", "cluster": {"server": server, "certificate-authority": str(ca)}}
        ],
        "users": [
            {"name": user, "user": {"client-certificate": str(cert), "client-key": str(key)}}
        ],
        "contexts": [{"name": "default", "context": {"cluster": "sandbox", "user": user}}],
        "current-context": "default",
    }
    return yaml.safe_dump(doc, sort_keys=False)


def local_path_config(layout: NodeLayout) -> str:
    return json.dumps(
        {"nodePathMap": [{"node": layout.name, "paths": [str(layout.volumes_dir)]}]}, indent=2
    )


def local_path_objects(
    layout: NodeLayout, namespace: str, helper_image: str
) -> list[dict[str, Any]]:
    """The StorageClass of the real node and the provisioner's ConfigMap of helper scripts."""
    helper_pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "helper-pod"},
        "spec": {
            "priorityClassName": "system-node-critical",
            "containers": [
                {
                    "name": "helper-pod",
                    "image": helper_image,
                    "imagePullPolicy": "IfNotPresent",
                    # The stand-in image runs as UID 1000; volumes are made in a root-owned
                    # directory of the sandbox.
                    "securityContext": {"runAsUser": 0, "runAsGroup": 0},
                }
            ],
        },
    }
    return [
        # The helper pods that make and remove the directories run as this (no API access).
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": {"name": LOCAL_PATH_SERVICE_ACCOUNT, "namespace": namespace},
            "automountServiceAccountToken": False,
        },
        {
            "apiVersion": "storage.k8s.io/v1",
            "kind": "StorageClass",
            "metadata": {"name": STORAGE_CLASS},
            "provisioner": LOCAL_PATH_PROVISIONER,
            "reclaimPolicy": "Delete",
            # Bound only once the pod is scheduled: the directory is made on that node.
            "volumeBindingMode": "WaitForFirstConsumer",
            "allowVolumeExpansion": False,
        },
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "local-path-config", "namespace": namespace},
            "data": {
                "config.json": local_path_config(layout),
                # The server runs as UID 1000 and hostPath volumes ignore fsGroup.
                "setup": '#!/bin/sh\nset -eu\nmkdir -m 0777 -p "$VOL_DIR"\n',
                "teardown": '#!/bin/sh\nset -eu\nrm -rf "$VOL_DIR"\n',
                "helperPod.yaml": yaml.safe_dump(helper_pod, sort_keys=False),
            },
        },
    ]
