"""The control plane: etcd, kube-apiserver, kube-controller-manager, kube-scheduler and kwok,
run by kwokctl's binary runtime from the locally built binaries."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from craftplane.sandbox import kwokconfig, procs
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


def _link_kubeconfig(cfg: SandboxConfig) -> None:
    source = cluster_dir(cfg) / "kubeconfig.yaml"
    if not source.exists():
        raise SandboxError(f"kwokctl wrote no kubeconfig at {source}")
    shutil.copyfile(source, cfg.kubeconfig)
    cfg.kubeconfig.chmod(0o600)


def start(cfg: SandboxConfig, patches: kwokconfig.Patches | None = None) -> bool:
    """Create or restart the cluster; True when this call had anything to do.

    ``patches`` are kwokctl component patches (extra flags) the cluster is created with."""
    patches = [*kwokconfig.KWOK_OWN_NODES, *(patches or [])]
    if exists(cfg) and (missing := kwokconfig.missing_patches(cluster_dir(cfg), patches)):
        raise SandboxError(
            f"this sandbox's control plane was created without {', '.join(missing)} (it "
            f"predates the real node); remove it with `craftplane sandbox down` and "
            f"`rm -rf {cfg.kwok_dir}`, then run `craftplane sandbox up` again"
        )
    if exists(cfg) and (changed := kwokconfig.update_client_limits(cluster_dir(cfg), cfg)):
        say(f"{' and '.join(changed)}: API client limits now {client_limits_text(cfg)}")
        if healthy(cfg):
            restart_components(cfg, changed)
            return True
    if healthy(cfg):
        return False
    cfg.state_dir.mkdir(parents=True, exist_ok=True)
    if exists(cfg):
        say("control plane exists but is not serving: starting it")
        _clear_pidfiles(cfg)
        started_at = datetime.now(UTC)
        result = _kwokctl(cfg, "start", "cluster", "--name", cfg.cluster_name, "--wait", "120s")
        if result.returncode != 0:
            raise SandboxError(f"kwokctl start cluster failed: {result.stderr.strip()[-2000:]}")
        _link_kubeconfig(cfg)
        procs.wait_until(lambda: healthy(cfg), timeout=120, what="kube-apiserver")
        # The restarted scheduler, controller-manager and kwok would wait for their
        # predecessors' leases to expire (kwok: minutes, when the previous run was killed
        # rather than stopped) before doing anything; the predecessors are gone, so free them.
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
        _release_stale_node_leases(cfg, started_at)
    else:
        procs.ensure_port_free(cfg.apiserver_port, "kube-apiserver")
        config_file = cfg.state_dir / "kwokctl.yaml"
        limited = [*patches, *kwokconfig.client_limit_patches(cfg)]
        config_file.write_text(kwokconfig.render(cfg, limited))
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


def missing_components(cfg: SandboxConfig) -> list[str]:
    """Control-plane components whose pid file names no running process."""
    pids_dir = cluster_dir(cfg) / "pids"
    return [p.stem for p in sorted(pids_dir.glob("*.pid")) if procs.read_pid(p) is None]


def restart_missing(cfg: SandboxConfig) -> list[str]:
    """Start the components that are not running, as systemd would after a crash, leaving the
    running ones alone (unlike `start`, which clears every leftover); wait for /readyz. The
    components it had to start."""
    missing = missing_components(cfg)
    if not missing and healthy(cfg):
        return []
    _start_again(cfg, missing)
    return missing


def restart_components(cfg: SandboxConfig, names: list[str]) -> None:
    """Stop these components and start them again, with the arguments now recorded for them."""
    for name in names:
        pid = procs.read_pid(cluster_dir(cfg) / "pids" / f"{name}.pid")
        if pid is not None:
            procs.stop_pid(pid, timeout=10)
    _start_again(cfg, names)


def _start_again(cfg: SandboxConfig, names: list[str]) -> None:
    for name in names:
        # A killed component can linger as a zombie until PID 1 reaps it, and a zombie still
        # answers kill(0): kwokctl would take it for running and not start it again.
        (cluster_dir(cfg) / "pids" / f"{name}.pid").unlink(missing_ok=True)
    result = _kwokctl(cfg, "start", "cluster", "--name", cfg.cluster_name, timeout=300)
    if result.returncode != 0:
        raise SandboxError(f"kwokctl start cluster failed: {result.stderr.strip()[-2000:]}")
    procs.wait_until(lambda: healthy(cfg), timeout=120, what="kube-apiserver /readyz")
    # A restarted scheduler or controller-manager would wait for its dead predecessor's lease
    # to expire; free it (a live holder simply re-creates it on its next renewal).
    leased = [c for c in names if c in ("kube-scheduler", "kube-controller-manager")]
    if leased:
        kubectl(cfg, "delete", "lease", "-n", "kube-system", *leased, "--ignore-not-found")


def client_limits_text(cfg: SandboxConfig) -> str:
    limits = kwokconfig.client_limits(cfg)
    return (
        f"QPS {limits['kube-api-qps']}, burst {limits['kube-api-burst']} "
        "(CRAFTPLANE_KUBE_API_QPS / CRAFTPLANE_KUBE_API_BURST)"
    )


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
    procs.wait_until(
        lambda: nodes_managed(cfg) >= cfg.nodes,
        timeout=120,
        what=f"{cfg.nodes} kwok nodes Ready with a live lease",
    )


def _clear_pidfiles(cfg: SandboxConfig) -> None:
    """Stop what is left of a crashed run and forget its pid files.

    kwokctl skips a component whose pid file names a live pid. After a crash that pid may be a
    zombie not yet reaped, a half-dead component, or (after a reboot) an unrelated process, and
    the component would then never be started. Only processes running this cluster's own
    binaries are stopped."""
    pids_dir = cluster_dir(cfg) / "pids"
    own_bin = str(cluster_dir(cfg) / "bin")
    for pidfile in pids_dir.glob("*.pid") if pids_dir.is_dir() else []:
        pid = procs.read_pid(pidfile)
        if pid is not None and _cmdline(pid).startswith(own_bin):
            say(f"stopping a leftover {pidfile.stem} (pid {pid})")
            procs.stop_pid(pid, timeout=10)
        pidfile.unlink(missing_ok=True)


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0", 1)[0].decode()
    except OSError:
        return ""


def _release_stale_node_leases(cfg: SandboxConfig, started_at: datetime) -> None:
    """Delete node leases last renewed before this start: their holder is a kwok that is gone.

    Leases the new kwok already renewed are left alone; deleting those would make it wait a
    whole renewal interval before managing the node again."""
    listed = kubectl(cfg, "get", "leases", "-n", "kube-node-lease", "-o", "json", timeout=20)
    if listed.returncode != 0:
        return
    stale: list[str] = []
    for lease in json.loads(listed.stdout).get("items", []):
        renewed = _renewed_at(lease)
        if renewed is None or renewed < started_at:
            stale.append(lease["metadata"]["name"])
    if stale:
        say(f"releasing {len(stale)} node leases held by the previous kwok")
        kubectl(cfg, "delete", "lease", "-n", "kube-node-lease", "--ignore-not-found", *stale)


def _renewed_at(lease: dict[str, Any]) -> datetime | None:
    renewed = lease.get("spec", {}).get("renewTime")
    return datetime.fromisoformat(renewed.replace("Z", "+00:00")) if renewed else None


def nodes_managed(cfg: SandboxConfig) -> int:
    """Nodes that kwok currently manages: Ready, and their lease renewed within its term.

    Pods on a node whose lease nobody renews are never started, so "the API answers" is not
    enough to call the cluster usable."""
    nodes = kubectl(cfg, "get", "nodes", "-o", "json", timeout=20)
    leases = kubectl(cfg, "get", "leases", "-n", "kube-node-lease", "-o", "json", timeout=20)
    if nodes.returncode != 0 or leases.returncode != 0:
        return 0
    now = datetime.now(UTC)
    live: set[str] = set()
    for lease in json.loads(leases.stdout).get("items", []):
        spec = lease.get("spec", {})
        renewed = _renewed_at(lease)
        if not spec.get("holderIdentity") or renewed is None:
            continue
        if (now - renewed).total_seconds() <= spec.get("leaseDurationSeconds", 40):
            live.add(lease["metadata"]["name"])
    ready = 0
    for node in json.loads(nodes.stdout).get("items", []):
        conditions = {c["type"]: c["status"] for c in node.get("status", {}).get("conditions", [])}
        if conditions.get("Ready") == "True" and node["metadata"]["name"] in live:
            ready += 1
    return ready


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


Patches = kwokconfig.Patches
