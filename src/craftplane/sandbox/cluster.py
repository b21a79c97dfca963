"""The control plane: etcd, kube-apiserver, kube-controller-manager, kube-scheduler and kwok,
run by kwokctl's binary runtime from the locally built binaries."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import yaml

from craftplane.sandbox import procs
from craftplane.sandbox.config import SandboxConfig
from craftplane.sandbox.errors import SandboxError
from craftplane.sandbox.progress import say

STORAGE_CLASS = """\
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata:
  name: kwok-volume
  annotations:
    storageclass.kubernetes.io/is-default-class: "true"
provisioner: kwok.x-k8s.io/volume
reclaimPolicy: Delete
volumeBindingMode: Immediate
allowVolumeExpansion: true
"""


def build_script() -> Path:
    return Path(__file__).resolve().parents[3] / "hack" / "build-control-plane.sh"


def ensure_binaries(cfg: SandboxConfig) -> Path:
    """Build the control plane unless the versioned cache already holds it."""
    env = {
        **os.environ,
        "CRAFTPLANE_CACHE": str(cfg.cache),
        "CRAFTPLANE_K8S_VERSION": cfg.k8s_version,
        "CRAFTPLANE_ETCD_VERSION": cfg.etcd_version,
        "CRAFTPLANE_KWOK_VERSION": cfg.kwok_version,
    }
    # The build script prints its own progress on stderr; let it through.
    result = subprocess.run(
        ["bash", str(build_script())], env=env, stdout=subprocess.PIPE, text=True, check=False
    )
    if result.returncode != 0:
        raise SandboxError("the control-plane binaries could not be built (see the lines above)")
    return cfg.bin_dir


def tool_env(cfg: SandboxConfig) -> dict[str, str]:
    # Our kubectl must come first: a distribution kubectl on PATH may be another version.
    return {
        **os.environ,
        "PATH": f"{cfg.bin_dir}:{os.environ.get('PATH', '')}",
        "KWOK_WORKDIR": str(cfg.kwok_dir),
    }


def _kwokctl(
    cfg: SandboxConfig, *args: str, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(cfg.bin_dir / "kwokctl"), *args],
        env=tool_env(cfg),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def kubectl(
    cfg: SandboxConfig, *args: str, stdin: str | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(cfg.bin_dir / "kubectl"), "--kubeconfig", str(cfg.kubeconfig), *args],
        input=stdin,
        env=tool_env(cfg),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def cluster_dir(cfg: SandboxConfig) -> Path:
    return cfg.kwok_dir / "clusters" / cfg.cluster_name


def exists(cfg: SandboxConfig) -> bool:
    return (cluster_dir(cfg) / "kwok.yaml").exists()


def healthy(cfg: SandboxConfig) -> bool:
    if not cfg.kubeconfig.exists() or not procs.port_open(cfg.apiserver_port):
        return False
    return kubectl(cfg, "get", "--raw", "/readyz", timeout=10).returncode == 0


def _config(cfg: SandboxConfig) -> str:
    b = cfg.bin_dir
    doc = {
        "apiVersion": "config.kwok.x-k8s.io/v1alpha1",
        "kind": "KwokctlConfiguration",
        "options": {
            "runtime": "binary",
            "kubeVersion": cfg.k8s_version,
            "etcdVersion": cfg.etcd_version.lstrip("v"),
            "kubeApiserverPort": cfg.apiserver_port,
            "bindAddress": "127.0.0.1",
            "kubeApiserverBinary": str(b / "kube-apiserver"),
            "kubeControllerManagerBinary": str(b / "kube-controller-manager"),
            "kubeSchedulerBinary": str(b / "kube-scheduler"),
            "kwokControllerBinary": str(b / "kwok"),
            "etcdBinary": str(b / "etcd"),
            "kubectlBinary": str(b / "kubectl"),
            "quietPull": True,
        },
    }
    return yaml.safe_dump(doc, sort_keys=False)


def _link_kubeconfig(cfg: SandboxConfig) -> None:
    source = cluster_dir(cfg) / "kubeconfig.yaml"
    if not source.exists():
        raise SandboxError(f"kwokctl wrote no kubeconfig at {source}")
    shutil.copyfile(source, cfg.kubeconfig)
    cfg.kubeconfig.chmod(0o600)


def start(cfg: SandboxConfig) -> bool:
    """Create or restart the cluster; True when this call had anything to do."""
    if healthy(cfg):
        return False
    cfg.state_dir.mkdir(parents=True, exist_ok=True)
    if exists(cfg):
        say("control plane exists but is not serving: starting it")
        result = _kwokctl(cfg, "start", "cluster", "--name", cfg.cluster_name, "--wait", "120s")
        if result.returncode != 0:
            raise SandboxError(f"kwokctl start cluster failed: {result.stderr.strip()[-2000:]}")
        _link_kubeconfig(cfg)
        procs.wait_until(lambda: healthy(cfg), timeout=120, what="kube-apiserver")
        # The restarted scheduler and controller-manager would wait for their predecessors'
        # leader leases to expire before doing anything; the predecessors are gone, so free them.
        kubectl(
            cfg,
            "delete",
            "lease",
            "-n",
            "kube-system",
            "kube-scheduler",
            "kube-controller-manager",
            "--ignore-not-found",
        )
    else:
        procs.ensure_port_free(cfg.apiserver_port, "kube-apiserver")
        config_file = cfg.state_dir / "kwokctl.yaml"
        config_file.write_text(_config(cfg))
        stages = cfg.bin_dir.parent / "stages"
        # A custom Stage list replaces kwok's defaults, so it names them all: node, pod and
        # volume stages.
        stage_args: list[str] = []
        for stage in ("node/fast", "node/heartbeat-with-lease", "pod/fast", "volume/fast"):
            stage_args += ["-c", str(stages / stage)]
        result = _kwokctl(
            cfg,
            "create",
            "cluster",
            "--name",
            cfg.cluster_name,
            "-c",
            str(config_file),
            *stage_args,
            "--kubeconfig",
            "",
            "--wait",
            "120s",
            timeout=400,
        )
        if result.returncode != 0:
            raise SandboxError(f"kwokctl create cluster failed: {result.stderr.strip()[-2000:]}")
    _link_kubeconfig(cfg)
    procs.wait_until(lambda: healthy(cfg), timeout=120, what="kube-apiserver")
    _ensure_basics(cfg)
    return True


def _ensure_basics(cfg: SandboxConfig) -> None:
    applied = kubectl(cfg, "apply", "-f", "-", stdin=STORAGE_CLASS)
    if applied.returncode != 0:
        raise SandboxError(f"could not apply the default StorageClass: {applied.stderr.strip()}")
    nodes = kubectl(cfg, "get", "nodes", "-o", "name")
    count = len([line for line in nodes.stdout.splitlines() if line.strip()])
    if count < cfg.nodes:
        result = _kwokctl(
            cfg, "scale", "node", "--name", cfg.cluster_name, "--replicas", str(cfg.nodes)
        )
        if result.returncode != 0:
            raise SandboxError(f"kwokctl scale node failed: {result.stderr.strip()}")


def scale_nodes(cfg: SandboxConfig, replicas: int) -> None:
    result = _kwokctl(
        cfg, "scale", "node", "--name", cfg.cluster_name, "--replicas", str(replicas), timeout=600
    )
    if result.returncode != 0:
        raise SandboxError(f"kwokctl scale node failed: {result.stderr.strip()}")


def stop(cfg: SandboxConfig) -> bool:
    """Stop every control-plane process but keep the cluster's data for the next `up`."""
    if not exists(cfg):
        return False
    if healthy(cfg):
        # kwok holds a lease per fake node; a restarted kwok has a new identity and would wait
        # for these to expire (minutes) before it manages any pod. Release them on the way out.
        kubectl(cfg, "delete", "lease", "-n", "kube-node-lease", "--all", timeout=30)
    result = _kwokctl(cfg, "stop", "cluster", "--name", cfg.cluster_name, timeout=120)
    if result.returncode != 0:
        raise SandboxError(f"kwokctl stop cluster failed: {result.stderr.strip()}")
    _kill_leftovers(cfg)
    return True


def _kill_leftovers(cfg: SandboxConfig) -> None:
    pids_dir = cluster_dir(cfg) / "pids"
    if pids_dir.is_dir():
        for pidfile in pids_dir.glob("*.pid"):
            procs.stop_pidfile(pidfile, timeout=10)


def delete(cfg: SandboxConfig) -> None:
    if exists(cfg):
        _kwokctl(cfg, "delete", "cluster", "--name", cfg.cluster_name, timeout=120)
    _kill_leftovers(cfg)
    shutil.rmtree(cluster_dir(cfg), ignore_errors=True)
