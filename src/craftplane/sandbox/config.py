"""Where the sandbox keeps its state and which loopback ports it uses."""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

# kwok's default pod address range (its --cidr); the real node's pods use their own.
KWOK_POD_CIDR = "10.0.0.0/24"
# The API server's default Service range, and the one the sandbox adds for big runs.
SERVICE_CIDR = "10.0.0.0/24"
EXTRA_SERVICE_CIDR = "10.128.0.0/16"


def _default_state_dir() -> Path:
    # PostgreSQL refuses to run as root, so as root its data must live where the
    # postgres user can reach it; /root is mode 0700.
    if os.geteuid() == 0:
        return Path("/var/lib/craftplane/sandbox")
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "craftplane" / "sandbox"


def _default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "craftplane"


class SandboxConfig(BaseSettings):
    """Sandbox settings, overridable with CRAFTPLANE_* environment variables."""

    model_config = SettingsConfigDict(env_prefix="CRAFTPLANE_", extra="ignore")

    state_dir: Path = Field(default_factory=_default_state_dir)
    cache: Path = Field(default_factory=_default_cache_dir)
    cluster_name: str = "craftplane"
    k8s_version: str = "v1.36.3"
    etcd_version: str = "v3.6.16"
    kwok_version: str = "v0.8.0"
    apiserver_port: int = 16443
    nats_port: int = 14222
    nats_monitor_port: int = 18222
    postgres_port: int = 15432
    gateway_port: int = 18080
    operator_metrics_port: int = 18090
    # The router: every server's game traffic on one port, by hostname. Players join
    # <server>.<tenant>.<game_domain>; *.localhost names are loopback by RFC 6761 (a client
    # whose resolver does not know that can send the name as the handshake's host instead).
    router_port: int = 25565
    router_metrics_port: int = 18091
    game_domain: str = "mc.localhost"
    # The object store (versitygw) holding the tenants' backup repositories; its default port is
    # one the tenants' allow-backup-egress NetworkPolicy opens (tenant_access.BACKUP_STORE_PORTS).
    objectstore_port: int = 17070
    versitygw_version: str = "v1.8.0"
    nodes: int = 3
    # Client rate limits of kube-controller-manager and kube-scheduler (their --kube-api-qps
    # and --kube-api-burst; upstream defaults 20/30 and 50/100). At those, the StatefulSet
    # controller's pod and PVC creation and the scheduler's bindings pace any run of thousands
    # of servers, whoever applied them: raised, a benchmark measures the platform, not them.
    kube_api_qps: float = Field(default=200.0, gt=0)
    kube_api_burst: int = Field(default=400, gt=0)
    # The real node (containerd + kubelet + kube-proxy on this host) beside the kwok nodes.
    real_node: bool = True
    real_node_name: str = "craftplane-real-0"
    # On a dummy interface the sandbox creates: private, and never the machine's own address.
    real_node_ip: str = "10.213.255.1"
    real_node_pod_cidr: str = "10.213.0.0/24"
    real_node_label: str = "craftplane.io/node-kind=real"
    kubelet_port: int = 10250
    kubelet_healthz_port: int = 10248
    kube_proxy_healthz_port: int = 10256
    kube_proxy_metrics_port: int = 10249
    # Namespaces whose servers the operator places on the real node with the stand-in image.
    real_node_namespaces: list[str] = ["tenant-demo", "real-*", "tenant-real-*"]

    @property
    def bin_dir(self) -> Path:
        key = f"k8s-{self.k8s_version}-etcd-{self.etcd_version}-kwok-{self.kwok_version}"
        return self.cache / key / "bin"

    @property
    def versitygw_binary(self) -> Path:
        return self.cache / f"versitygw-{self.versitygw_version}" / "bin" / "versitygw"

    @property
    def objectstore_dir(self) -> Path:
        return self.state_dir / "objectstore"

    @property
    def cluster_cidrs(self) -> list[str]:
        """Addresses that mean something only inside the cluster: Service ranges and the kwok
        pods' fake addresses. They are routed to the real node's dummy interface, so what
        kube-proxy does not translate to a real pod is dropped here instead of leaving."""
        return [KWOK_POD_CIDR, SERVICE_CIDR, EXTRA_SERVICE_CIDR]

    @property
    def kwok_dir(self) -> Path:
        return self.state_dir / "kwok"

    @property
    def kubeconfig(self) -> Path:
        return self.state_dir / "kubeconfig"

    @property
    def logs_dir(self) -> Path:
        return self.state_dir / "logs"

    @property
    def run_dir(self) -> Path:
        return self.state_dir / "run"

    @property
    def nats_url(self) -> str:
        return f"nats://127.0.0.1:{self.nats_port}"

    @property
    def database_url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.postgres_port}/craftplane"

    @property
    def admin_database_url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.postgres_port}/postgres"

    @property
    def router_address(self) -> str:
        return f"127.0.0.1:{self.router_port}"

    @property
    def gateway_url(self) -> str:
        return f"http://127.0.0.1:{self.gateway_port}"
