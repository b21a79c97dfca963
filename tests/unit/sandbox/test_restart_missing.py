"""The sandbox restarts only the control-plane components that are gone (the chaos suite's
"systemd"), and does nothing while every component runs and the API server answers."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from craftplane.sandbox import cluster
from craftplane.sandbox.config import SandboxConfig

pytestmark = pytest.mark.unit


def _config(tmp_path: Path) -> SandboxConfig:
    return SandboxConfig(state_dir=tmp_path)


def _pidfile(cfg: SandboxConfig, name: str, pid: int) -> Path:
    path = cluster.cluster_dir(cfg) / "pids" / f"{name}.pid"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(str(pid))
    return path


def _dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def test_missing_components_are_those_whose_pid_is_gone(tmp_path: Path) -> None:
    cfg = _config(tmp_path)
    assert cluster.missing_components(cfg) == []  # no cluster at all
    _pidfile(cfg, "etcd", os.getpid())
    _pidfile(cfg, "kube-scheduler", _dead_pid())
    (cluster.cluster_dir(cfg) / "pids" / "kwok-controller.pid").write_text("garbage")
    assert cluster.missing_components(cfg) == ["kube-scheduler", "kwok-controller"]


def test_nothing_is_restarted_when_all_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = _config(tmp_path)
    _pidfile(cfg, "etcd", os.getpid())
    monkeypatch.setattr(cluster, "healthy", lambda cfg: True)
    monkeypatch.setattr(cluster, "_kwokctl", lambda *a, **k: pytest.fail("kwokctl called"))
    assert cluster.restart_missing(cfg) == []


def test_only_the_missing_are_cleared_and_their_leases_freed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = _config(tmp_path)
    alive = _pidfile(cfg, "etcd", os.getpid())
    gone = _pidfile(cfg, "kube-scheduler", _dead_pid())
    calls: list[tuple[str, ...]] = []

    def kwokctl(cfg: SandboxConfig, *args: str, timeout: float = 300) -> object:
        calls.append(("kwokctl", *args))
        assert not gone.exists() and alive.exists()
        return subprocess.CompletedProcess(args, 0, "", "")

    def kubectl(cfg: SandboxConfig, *args: str, **kwargs: object) -> object:
        calls.append(("kubectl", *args))
        return subprocess.CompletedProcess(args, 0, "", "")

    monkeypatch.setattr(cluster, "_kwokctl", kwokctl)
    monkeypatch.setattr(cluster, "kubectl", kubectl)
    monkeypatch.setattr(cluster, "healthy", lambda cfg: True)
    assert cluster.restart_missing(cfg) == ["kube-scheduler"]
    assert calls == [
        ("kwokctl", "start", "cluster", "--name", cfg.cluster_name),
        ("kubectl", "delete", "lease", "-n", "kube-system", "kube-scheduler", "--ignore-not-found"),
    ]
