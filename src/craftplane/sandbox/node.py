"""The real node: containerd, kubelet and kube-proxy on this host, beside the kwok nodes.

It runs real containers (runc) on a CNI bridge, with Services through kube-proxy (iptables)
and volumes from local-path-provisioner. Everything it makes lives under the sandbox state
directory, except what the kubelet and containerd put at fixed host paths, which ``stop``
removes again. Nothing it runs can send traffic off this machine: the node's address is on a
dummy interface, pods are not masqueraded, and the kwok pods' fake addresses are unreachable.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from datetime import datetime
from pathlib import Path

from craftplane.sandbox import cluster, hostnet, nodefiles, nodeimages, procs
from craftplane.sandbox.config import SandboxConfig
from craftplane.sandbox.errors import SandboxError
from craftplane.sandbox.nodeconfig import (
    LOCAL_PATH_SERVICE_ACCOUNT,
    REAL_NODE_TOLERATION,
    STORAGE_CLASS,
    NodeLayout,
    local_path_objects,
)
from craftplane.sandbox.progress import say

# The volume provisioner's helper pods run as root with hostPath mounts: a namespace of their
# own (Pod Security privileged), so the platform's namespace stays "restricted" throughout.
VOLUMES_NAMESPACE = "craftplane-volumes"
APISERVER_KUBELET_CLIENT = nodefiles.APISERVER_KUBELET_CLIENT
PROCESSES = ("local-path-provisioner", "kube-proxy", "kubelet", "containerd")

RBAC = f"""\
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: craftplane:apiserver-kubelet-client
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: system:kubelet-api-admin
subjects:
- apiGroup: rbac.authorization.k8s.io
  kind: User
  name: {APISERVER_KUBELET_CLIENT}
"""


def layout(cfg: SandboxConfig) -> NodeLayout:
    return NodeLayout(
        root=cfg.state_dir / "node",
        name=cfg.real_node_name,
        node_ip=cfg.real_node_ip,
        pod_cidr=cfg.real_node_pod_cidr,
        pause_image=f"localhost/craftplane/pause:{cfg.k8s_version}",
        kubelet_port=cfg.kubelet_port,
        kubelet_healthz_port=cfg.kubelet_healthz_port,
        proxy_healthz_port=cfg.kube_proxy_healthz_port,
        proxy_metrics_port=cfg.kube_proxy_metrics_port,
    )


def enabled(cfg: SandboxConfig) -> bool:
    return cfg.real_node


def check_host(cfg: SandboxConfig) -> None:
    """Refuse early, with what to do, when this host cannot run the real node."""
    if os.geteuid() != 0:
        raise SandboxError(
            "the real node needs root (containerd, iptables, mounts); run as root or set "
            "CRAFTPLANE_REAL_NODE=false for a kwok-only sandbox"
        )
    missing = [
        tool
        for tool in ("containerd", "runc", "ctr", "iptables", "ip", "umoci")
        if shutil.which(tool) is None
    ]
    if not Path("/usr/lib/cni/bridge").exists():
        missing.append("/usr/lib/cni/bridge (containernetworking-plugins)")
    if missing:
        raise SandboxError(f"the real node needs {', '.join(missing)} (run: make bootstrap)")
    others = hostnet.foreign_runtimes(layout(cfg).root)
    if others:
        raise SandboxError(
            f"the real node shares iptables chains and /run/containerd with what runs here "
            f"({', '.join(others)}); stop it or set CRAFTPLANE_REAL_NODE=false"
        )


# -- processes ------------------------------------------------------------------------------


def _pidfile(cfg: SandboxConfig, name: str) -> Path:
    return cfg.run_dir / f"{name}.pid"


def _logfile(cfg: SandboxConfig, name: str) -> Path:
    return cfg.logs_dir / f"{name}.log"


def _running(cfg: SandboxConfig, name: str) -> bool:
    return procs.read_pid(_pidfile(cfg, name)) is not None


def _spawn(cfg: SandboxConfig, name: str, argv: list[str]) -> bool:
    if _running(cfg, name):
        return False
    say(f"starting {name}")
    procs.spawn(argv, pidfile=_pidfile(cfg, name), logfile=_logfile(cfg, name), env=_env(cfg))
    return True


def _env(cfg: SandboxConfig) -> dict[str, str]:
    env = cluster.tool_env(cfg)
    # containerd's shims and runc must not inherit a proxy or the caller's kubeconfig.
    for key in ("KUBECONFIG", "HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
        env.pop(key, None)
    return env


def ctr(cfg: SandboxConfig, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["ctr", "--address", str(layout(cfg).containerd_socket), "-n", "k8s.io", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def _containerd_ready(cfg: SandboxConfig) -> bool:
    return (
        layout(cfg).containerd_socket.exists() and ctr(cfg, "version", timeout=10).returncode == 0
    )


def _start_containerd(cfg: SandboxConfig, lay: NodeLayout) -> None:
    if _running(cfg, "containerd") and _containerd_ready(cfg):
        return
    procs.stop_pidfile(_pidfile(cfg, "containerd"))
    _spawn(cfg, "containerd", ["containerd", "--config", str(lay.containerd_dir / "config.toml")])
    procs.wait_until(
        lambda: _containerd_ready(cfg), timeout=60, what="containerd",
        logfile=_logfile(cfg, "containerd"),
    )  # fmt: skip


def _lease_renewed_since(cfg: SandboxConfig, since: float) -> bool:
    got = cluster.kubectl(
        cfg, "get", "lease", "-n", "kube-node-lease", cfg.real_node_name, "-o", "json", timeout=10
    )
    if got.returncode != 0:
        return False
    renewed = json.loads(got.stdout).get("spec", {}).get("renewTime")
    if not renewed:
        return False
    return datetime.fromisoformat(renewed.replace("Z", "+00:00")).timestamp() >= since


def _node_ready(cfg: SandboxConfig) -> bool:
    got = cluster.kubectl(cfg, "get", "node", cfg.real_node_name, "-o", "json", timeout=10)
    if got.returncode != 0:
        return False
    conditions = json.loads(got.stdout).get("status", {}).get("conditions", [])
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def _kubelet_healthy(cfg: SandboxConfig) -> bool:
    return procs.port_open(cfg.kubelet_healthz_port)


def _start_kubelet(cfg: SandboxConfig, lay: NodeLayout) -> None:
    if _running(cfg, "kubelet") and _kubelet_healthy(cfg):
        return
    procs.stop_pidfile(_pidfile(cfg, "kubelet"))
    # Whole seconds, rounded down: the lease records when it was renewed to the microsecond.
    started = int(time.time())
    _spawn(
        cfg,
        "kubelet",
        [
            str(cfg.bin_dir / "kubelet"),
            f"--config={lay.root / 'kubelet.yaml'}",
            f"--kubeconfig={lay.root / 'kubelet.kubeconfig'}",
            f"--root-dir={lay.kubelet_dir}",
            f"--cert-dir={lay.pki_dir}",
            f"--hostname-override={lay.name}",
            f"--node-ip={lay.node_ip}",
            f"--node-labels={cfg.real_node_label}",
            "--v=1",
        ],
    )
    # Ready from this kubelet: a restarted one finds its predecessor's Ready=True.
    procs.wait_until(
        lambda: _lease_renewed_since(cfg, started) and _node_ready(cfg),
        timeout=120, what=f"node {lay.name} Ready", logfile=_logfile(cfg, "kubelet"),
    )  # fmt: skip


def _start_kube_proxy(cfg: SandboxConfig, lay: NodeLayout) -> None:
    if _running(cfg, "kube-proxy") and procs.port_open(cfg.kube_proxy_healthz_port):
        return
    procs.stop_pidfile(_pidfile(cfg, "kube-proxy"))
    _spawn(
        cfg,
        "kube-proxy",
        [str(cfg.bin_dir / "kube-proxy"), f"--config={lay.root / 'kube-proxy.yaml'}", "--v=1"],
    )
    procs.wait_until(
        lambda: procs.port_open(cfg.kube_proxy_healthz_port), timeout=60, what="kube-proxy",
        logfile=_logfile(cfg, "kube-proxy"),
    )  # fmt: skip


def _start_provisioner(cfg: SandboxConfig, lay: NodeLayout, helper_image: str) -> None:
    namespace = {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {
            "name": VOLUMES_NAMESPACE,
            "labels": {"pod-security.kubernetes.io/enforce": "privileged"},
        },
    }
    objects = [namespace, *local_path_objects(lay, VOLUMES_NAMESPACE, helper_image)]
    manifest = "\n---\n".join(json.dumps(obj) for obj in objects)
    applied = cluster.kubectl(cfg, "apply", "-f", "-", stdin=manifest)
    if applied.returncode != 0:
        raise SandboxError(
            f"could not apply the real node's StorageClass: {applied.stderr.strip()}"
        )
    if _running(cfg, "local-path-provisioner"):
        return
    _spawn(
        cfg,
        "local-path-provisioner",
        [
            str(cfg.bin_dir / "local-path-provisioner"),
            "start",
            f"--kubeconfig={cfg.kubeconfig}",
            f"--config={lay.root / 'local-path.json'}",
            "--provisioner-name=craftplane.io/local-path",
            f"--namespace={VOLUMES_NAMESPACE}",
            "--configmap-name=local-path-config",
            f"--service-account-name={LOCAL_PATH_SERVICE_ACCOUNT}",
            f"--helper-image={helper_image}",
        ],
    )


def start(cfg: SandboxConfig) -> None:
    """Start whatever part of the real node is not running; a no-op when all of it is."""
    check_host(cfg)
    lay = layout(cfg)
    nodefiles.write_configs(cfg, lay)
    hostnet.ensure(lay, cfg.cluster_cidrs)
    _start_containerd(cfg, lay)
    nodeimages.ensure_images(cfg, lay)
    applied = cluster.kubectl(cfg, "apply", "-f", "-", stdin=RBAC)
    if applied.returncode != 0:
        raise SandboxError(f"could not grant the API server access to kubelets: {applied.stderr}")
    _start_kubelet(cfg, lay)
    _start_kube_proxy(cfg, lay)
    _start_provisioner(cfg, lay, nodeimages.server_image(cfg))


def operator_env(cfg: SandboxConfig) -> dict[str, str]:
    """What the operator is told so that chosen namespaces' servers run on the real node.

    Only configuration: the same placement setting serves a dedicated node pool elsewhere.
    ClusterIPs are reachable from this host through kube-proxy, so players are counted by
    pinging the Service, as in a cluster."""
    if not enabled(cfg):
        return {}
    placement = {
        "namespaces": cfg.real_node_namespaces,
        "image": nodeimages.server_image(cfg),
        "nodeSelector": dict([cfg.real_node_label.split("=", 1)]),
        "tolerations": [REAL_NODE_TOLERATION],
        "storageClassName": STORAGE_CLASS,
    }
    return {
        "CRAFTPLANE_OPERATOR_PLACEMENT": json.dumps(placement),
        "CRAFTPLANE_OPERATOR_PING_IN_CLUSTER": "true",
        # The host routes to pod IPs but has no cluster DNS for the pods' names.
        "CRAFTPLANE_OPERATOR_RCON_REACH": "pod-ip",
        "CRAFTPLANE_OPERATOR_ALLOWLIST_SECONDS": "5",
        # The backup Jobs run here too: an image the node has (it pulls nothing).
        "CRAFTPLANE_OPERATOR_BACKUP_IMAGE": nodeimages.backup_image(cfg),
    }


def component_patches(cfg: SandboxConfig) -> cluster.Patches:
    """What the API server must be created with for this node (see nodefiles)."""
    return nodefiles.component_patches(cfg, layout(cfg))


def server_image(cfg: SandboxConfig) -> str:
    return nodeimages.server_image(cfg)


def running(cfg: SandboxConfig) -> dict[str, bool]:
    return {name: _running(cfg, name) for name in reversed(PROCESSES)}


def stop(cfg: SandboxConfig) -> None:
    """Stop the node's processes and containers and remove what they left on the host."""
    lay = layout(cfg)
    for name in ("local-path-provisioner", "kube-proxy", "kubelet"):
        if procs.stop_pidfile(_pidfile(cfg, name)):
            say(f"stopped {name}")
    if _containerd_ready(cfg):
        _stop_containers(cfg, grace=_longest_grace(cfg))
    if procs.stop_pidfile(_pidfile(cfg, "containerd")):
        say("stopped containerd")
    _kill_shims(lay)
    if (cfg.bin_dir / "kube-proxy").exists():
        subprocess.run(
            [str(cfg.bin_dir / "kube-proxy"), "--cleanup"],
            capture_output=True,
            check=False,
            timeout=60,
        )
    hostnet.cleanup(lay)


def _longest_grace(cfg: SandboxConfig) -> float:
    """The longest termination grace period of the node's pods: a big world may need it all."""
    default = 30.0
    if not cluster.healthy(cfg):
        return default
    got = cluster.kubectl(
        cfg, "get", "pods", "-A", "--field-selector", f"spec.nodeName={cfg.real_node_name}",
        "-o", "jsonpath={.items[*].spec.terminationGracePeriodSeconds}",
    )  # fmt: skip
    values = [float(v) for v in got.stdout.split()] if got.returncode == 0 else []
    return max([default, *values]) + 5


def _stop_containers(cfg: SandboxConfig, grace: float = 30) -> None:
    """SIGTERM every container (a server saves its world), SIGKILL what is left after grace."""
    listed = ctr(cfg, "tasks", "ls", "-q")
    tasks = [line.strip() for line in listed.stdout.splitlines() if line.strip()]
    if not tasks:
        return
    say(f"stopping {len(tasks)} containers on the real node")
    for task in tasks:
        ctr(cfg, "tasks", "kill", "-s", "SIGTERM", task)

    def all_stopped() -> bool:
        out = ctr(cfg, "tasks", "ls").stdout.splitlines()[1:]
        return all("STOPPED" in line for line in out)

    try:
        procs.wait_until(all_stopped, timeout=grace, what="containers to stop")
    except SandboxError:
        for task in tasks:
            ctr(cfg, "tasks", "kill", "-a", "-s", "SIGKILL", task)
    for task in tasks:
        ctr(cfg, "tasks", "rm", "-f", task)
    for container in ctr(cfg, "containers", "ls", "-q").stdout.split():
        ctr(cfg, "containers", "rm", container)


def _kill_shims(lay: NodeLayout) -> None:
    """containerd's shims outlive it; those of this node's containerd are stopped here."""
    marker = str(lay.containerd_dir)
    for pid, argv in procs.command_lines():
        if "containerd-shim" in argv[0] and any(marker in arg for arg in argv):
            procs.stop_pid(pid, timeout=10)


def state_paths(cfg: SandboxConfig) -> list[Path]:
    """Host paths outside the state directory that the kubelet and containerd use anyway."""
    return [
        Path("/var/lib/kubelet/device-plugins"),
        Path("/var/log/containers"),
        Path("/run/containerd"),
    ]
