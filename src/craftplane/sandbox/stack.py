"""Bring the whole local platform up or down, report on it, and describe it to a shell."""

from __future__ import annotations

from craftplane.sandbox import apps, cluster, nats_server, node, objectstore, postgres
from craftplane.sandbox.config import SandboxConfig
from craftplane.sandbox.progress import say, step


def up(cfg: SandboxConfig, *, only: str | None = None) -> None:
    """Idempotent: start whatever is missing, leave what runs alone."""
    cfg.state_dir.mkdir(parents=True, exist_ok=True)
    with step("control-plane binaries"):
        cluster.ensure_binaries(cfg)
    patches = []
    if node.enabled(cfg):
        node.check_host(cfg)
        patches = node.component_patches(cfg)
    with step("control plane (etcd, kube-apiserver, controller-manager, scheduler, kwok)"):
        if not cluster.start(cfg, patches):
            say("control plane already running")
    with step("NATS JetStream"):
        if not nats_server.start(cfg):
            say("NATS already running")
    with step("PostgreSQL"):
        if not postgres.start(cfg):
            say("PostgreSQL already running")
    if node.enabled(cfg):
        with step(f"real node {cfg.real_node_name} (containerd, kubelet, kube-proxy, volumes)"):
            node.start(cfg)
    # After the node: the store listens on the node's address too, which the node makes.
    with step("object store (versitygw, the tenants' backup repositories)"):
        if not objectstore.start(cfg):
            say("object store already running")
    if only != "services":
        apps.up(cfg)
    say('sandbox is up; load it into a shell with: eval "$(craftplane sandbox env)"')


def down(cfg: SandboxConfig) -> None:
    apps.down(cfg)
    with step("stopping the object store"):
        objectstore.stop(cfg)
    if node.enabled(cfg):
        with step("stopping the real node"):
            node.stop(cfg)
    with step("stopping NATS"):
        nats_server.stop(cfg)
    with step("stopping PostgreSQL"):
        postgres.stop(cfg)
    with step("stopping the control plane"):
        cluster.stop(cfg)


def status(cfg: SandboxConfig) -> dict[str, str]:
    report = {
        "control-plane": (
            f"running (https://127.0.0.1:{cfg.apiserver_port})"
            if cluster.healthy(cfg)
            else "stopped"
        ),
        "nats": f"running ({cfg.nats_url})" if nats_server.running(cfg) else "stopped",
        "postgres": f"running ({cfg.database_url})" if postgres.running(cfg) else "stopped",
        "objectstore": (
            f"running ({objectstore.host_endpoint(cfg)}, pods: {objectstore.pod_endpoint(cfg)})"
            if objectstore.running(cfg)
            else "stopped"
        ),
    }
    if node.enabled(cfg):
        for name, up in node.running(cfg).items():
            report[name] = "running" if up else "stopped"
    report.update(apps.status(cfg))
    return report


def env(cfg: SandboxConfig) -> dict[str, str]:
    values = {
        "KUBECONFIG": str(cfg.kubeconfig),
        "NATS_URL": cfg.nats_url,
        "DATABASE_URL": cfg.database_url,
        "CRAFTPLANE_OBJECTSTORE_URL": objectstore.host_endpoint(cfg),
        "PATH": f"{cfg.bin_dir}:$PATH",
    }
    values.update(apps.env(cfg))
    return values
