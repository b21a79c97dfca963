"""The real node's certificates and configuration files, written under its state directory.

The API server is created with the flags from ``component_patches`` (before the node exists):
it then dials kubelets with a client certificate of the node's CA and checks their serving
certificates against it.
"""

from __future__ import annotations

from craftplane.sandbox import cluster, pki
from craftplane.sandbox.config import SandboxConfig
from craftplane.sandbox.errors import SandboxError
from craftplane.sandbox.nodeconfig import (
    NodeLayout,
    cni_config,
    containerd_config,
    kube_proxy_config,
    kubeconfig,
    kubelet_config,
    local_path_config,
    registry_hosts,
)

APISERVER_KUBELET_CLIENT = "kube-apiserver-kubelet-client"


def apiserver_args(cfg: SandboxConfig, lay: NodeLayout) -> list[dict[str, str]]:
    """kube-apiserver flags that let it reach the kubelet with real certificates.

    kwokctl already authorizes with Node,RBAC on its secure port (a second
    --authorization-mode is refused as a duplicate)."""
    node_ca = pki.ensure_ca(lay.pki_dir, "node-ca", "craftplane-node-ca")
    client = pki.ensure_leaf(
        lay.pki_dir, "apiserver-kubelet-client", node_ca, common_name=APISERVER_KUBELET_CLIENT
    )
    return [
        {"key": "kubelet-client-certificate", "value": str(client.cert)},
        {"key": "kubelet-client-key", "value": str(client.key)},
        {"key": "kubelet-certificate-authority", "value": str(node_ca.cert)},
        {"key": "kubelet-preferred-address-types", "value": "InternalIP,Hostname"},
    ]


def component_patches(cfg: SandboxConfig, lay: NodeLayout) -> cluster.Patches:
    return [{"name": "kube-apiserver", "extraArgs": apiserver_args(cfg, lay)}]


def _cluster_ca(cfg: SandboxConfig) -> pki.KeyPair:
    directory = cluster.cluster_dir(cfg) / "pki"
    pair = pki.KeyPair(directory / "ca.crt", directory / "ca.key")
    if not pair.cert.exists() or not pair.key.exists():
        raise SandboxError(f"the control plane's CA is missing from {directory}")
    return pair


def write_configs(cfg: SandboxConfig, lay: NodeLayout) -> None:
    ca = _cluster_ca(cfg)
    node_ca = pki.ensure_ca(lay.pki_dir, "node-ca", "craftplane-node-ca")
    serving = pki.ensure_leaf(
        lay.pki_dir, "kubelet-serving", node_ca, common_name=lay.name,
        ip_sans=(lay.node_ip,), dns_sans=(lay.name,), server=True,
    )  # fmt: skip
    kubelet_client = pki.ensure_leaf(
        lay.pki_dir, "kubelet-client", ca, common_name=f"system:node:{lay.name}",
        organization="system:nodes",
    )  # fmt: skip
    proxy_client = pki.ensure_leaf(
        lay.pki_dir, "kube-proxy-client", ca, common_name="system:kube-proxy"
    )
    server = f"https://127.0.0.1:{cfg.apiserver_port}"
    files = {
        lay.containerd_dir / "config.toml": containerd_config(lay),
        lay.containerd_dir / "registry" / "_default" / "hosts.toml": registry_hosts(),
        lay.cni_conf_dir / "10-craftplane.conflist": cni_config(lay),
        lay.root / "kubelet.yaml": kubelet_config(
            lay, client_ca=node_ca.cert, serving=(serving.cert, serving.key)
        ),
        lay.root / "kubelet.kubeconfig": kubeconfig(
            server, ca.cert, kubelet_client.cert, kubelet_client.key, f"system:node:{lay.name}"
        ),
        lay.root / "kube-proxy.kubeconfig": kubeconfig(
            server, ca.cert, proxy_client.cert, proxy_client.key, "system:kube-proxy"
        ),
        lay.root / "local-path.json": local_path_config(lay),
    }
    files[lay.root / "kube-proxy.yaml"] = kube_proxy_config(lay, lay.root / "kube-proxy.kubeconfig")
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists() or path.read_text() != text:
            path.write_text(text)
    for directory in (lay.kubelet_dir, lay.pod_logs_dir, lay.volumes_dir, lay.cni_ipam_dir):
        directory.mkdir(parents=True, exist_ok=True)
    # Worlds are made 0777 (the server runs as UID 1000 and hostPath ignores fsGroup): only
    # root may reach them on the host. Containers get the directory itself, not the path.
    lay.volumes_dir.chmod(0o700)
