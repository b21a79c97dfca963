"""kube-controller-manager's and kube-scheduler's API client limits come from the sandbox's
settings: a new cluster is created with them, and an existing one has its recorded arguments
rewritten and those two components restarted, once, when the settings differ."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from craftplane.sandbox import cluster, kwokconfig
from craftplane.sandbox.config import SandboxConfig

pytestmark = pytest.mark.unit

KCM_ARGS = ["--kubeconfig=/k", "--controllers=*", "--node-monitor-period=25s"]
SCHEDULER_ARGS = ["--kubeconfig=/k", "--kube-api-qps=50", "--bind-address=127.0.0.1"]


def _kwok_yaml(directory: Path, kcm: list[str], scheduler: list[str]) -> Path:
    """A cluster record shaped as kwokctl writes it: several documents, the first one holding
    the components and the arguments `kwokctl start` runs them with."""
    documents: list[dict[str, Any]] = [
        {
            "apiVersion": "config.kwok.x-k8s.io/v1alpha1",
            "kind": "KwokctlConfiguration",
            "options": {"runtime": "binary", "kubeApiserverPort": 16443},
            "components": [
                {"name": "etcd", "args": ["--data-dir=/d"]},
                {"name": "kube-controller-manager", "args": kcm},
                {"name": "kube-scheduler", "args": scheduler},
                {
                    "name": "kwok-controller",
                    "args": [
                        "--manage-all-nodes=false",
                        "--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake",
                    ],
                },
            ],
        },
        {"apiVersion": "kwok.x-k8s.io/v1alpha1", "kind": "Stage", "metadata": {"name": "x"}},
    ]
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "kwok.yaml"
    path.write_text(yaml.safe_dump_all(documents, sort_keys=False))
    return path


def _args(path: Path, name: str) -> list[str]:
    first = next(yaml.safe_load_all(path.read_text()))
    return next(c["args"] for c in first["components"] if c["name"] == name)


def test_the_settings_default_to_raised_limits_and_read_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert kwokconfig.client_limits(SandboxConfig()) == {
        "kube-api-qps": "200",
        "kube-api-burst": "400",
    }
    monkeypatch.setenv("CRAFTPLANE_KUBE_API_QPS", "75.5")
    monkeypatch.setenv("CRAFTPLANE_KUBE_API_BURST", "150")
    assert kwokconfig.client_limits(SandboxConfig()) == {
        "kube-api-qps": "75.5",
        "kube-api-burst": "150",
    }


def test_a_limit_of_zero_is_refused() -> None:
    with pytest.raises(ValueError, match="kube_api_qps"):
        SandboxConfig(kube_api_qps=0)


def test_a_new_cluster_gets_both_flags_on_both_components() -> None:
    cfg = SandboxConfig(kube_api_qps=300, kube_api_burst=600)
    rendered = yaml.safe_load(kwokconfig.render(cfg, kwokconfig.client_limit_patches(cfg)))
    patches = {p["name"]: p["extraArgs"] for p in rendered["componentsPatches"]}
    wanted = [{"key": "kube-api-qps", "value": "300"}, {"key": "kube-api-burst", "value": "600"}]
    assert patches == {"kube-controller-manager": wanted, "kube-scheduler": wanted}


def test_old_limit_flags_are_replaced_and_the_rest_kept_in_order() -> None:
    limits = {"kube-api-qps": "200", "kube-api-burst": "400"}
    args = ["--a=1", "--kube-api-qps=20", "--b=2", "--kube-api-burst=30", "--kube-api-qps=25"]
    assert kwokconfig.with_client_limits(args, limits) == [
        "--a=1",
        "--b=2",
        "--kube-api-qps=200",
        "--kube-api-burst=400",
    ]
    # The last of a repeated flag is the one a component runs with.
    assert kwokconfig.limits_in(args) == {"kube-api-qps": "25", "kube-api-burst": "30"}


def test_an_existing_cluster_is_rewritten_once(tmp_path: Path) -> None:
    path = _kwok_yaml(tmp_path, KCM_ARGS, SCHEDULER_ARGS)
    cfg = SandboxConfig(state_dir=tmp_path)
    assert kwokconfig.recorded_client_limits(tmp_path) == {
        "kube-controller-manager": {},
        "kube-scheduler": {"kube-api-qps": "50"},
    }
    assert kwokconfig.update_client_limits(tmp_path, cfg) == [
        "kube-controller-manager",
        "kube-scheduler",
    ]
    assert _args(path, "kube-controller-manager") == [
        *KCM_ARGS,
        "--kube-api-qps=200",
        "--kube-api-burst=400",
    ]
    assert _args(path, "kube-scheduler") == [
        "--kubeconfig=/k",
        "--bind-address=127.0.0.1",
        "--kube-api-qps=200",
        "--kube-api-burst=400",
    ]
    assert _args(path, "etcd") == ["--data-dir=/d"]  # nothing else touched
    assert [d["kind"] for d in yaml.safe_load_all(path.read_text())] == [
        "KwokctlConfiguration",
        "Stage",
    ]
    before = path.read_text()
    assert kwokconfig.update_client_limits(tmp_path, cfg) == []
    assert path.read_text() == before


def test_limits_already_in_effect_rewrite_nothing_wherever_they_stand(tmp_path: Path) -> None:
    kcm = ["--kube-api-burst=400", "--kube-api-qps=200", "--kubeconfig=/k"]
    scheduler = [*SCHEDULER_ARGS, "--kube-api-qps=200", "--kube-api-burst=400"]
    path = _kwok_yaml(tmp_path, kcm, scheduler)
    before = path.read_text()
    assert kwokconfig.update_client_limits(tmp_path, SandboxConfig(state_dir=tmp_path)) == []
    assert path.read_text() == before


def _pidfile(cfg: SandboxConfig, name: str, pid: int) -> Path:
    path = cluster.cluster_dir(cfg) / "pids" / f"{name}.pid"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(str(pid))
    return path


def test_a_running_cluster_restarts_only_the_two_components(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = SandboxConfig(state_dir=tmp_path)
    path = _kwok_yaml(cluster.cluster_dir(cfg), KCM_ARGS, SCHEDULER_ARGS)
    etcd = _pidfile(cfg, "etcd", os.getpid())
    sleeper = subprocess.Popen(["sleep", "60"], start_new_session=True)
    _pidfile(cfg, "kube-controller-manager", sleeper.pid)
    calls: list[tuple[str, ...]] = []

    def kwokctl(cfg: SandboxConfig, *args: str, timeout: float = 300) -> object:
        calls.append(("kwokctl", *args))
        assert "--kube-api-qps=200" in _args(path, "kube-controller-manager")
        assert sleeper.poll() is not None, "the old controller-manager still runs"
        assert etcd.exists()
        return subprocess.CompletedProcess(args, 0, "", "")

    def kubectl(cfg: SandboxConfig, *args: str, **kwargs: object) -> object:
        calls.append(("kubectl", *args))
        return subprocess.CompletedProcess(args, 0, "", "")

    monkeypatch.setattr(cluster, "_kwokctl", kwokctl)
    monkeypatch.setattr(cluster, "kubectl", kubectl)
    monkeypatch.setattr(cluster, "healthy", lambda cfg: True)
    try:
        assert cluster.start(cfg) is True
    finally:
        sleeper.kill()
        sleeper.wait()
    assert calls == [
        ("kwokctl", "start", "cluster", "--name", cfg.cluster_name),
        (
            "kubectl",
            *("delete", "lease", "-n", "kube-system"),
            *("kube-controller-manager", "kube-scheduler", "--ignore-not-found"),
        ),
    ]
    calls.clear()
    assert cluster.start(cfg) is False  # limits in effect: a running cluster is left alone
    assert calls == []


def test_a_rewrite_keeps_the_timestamps_kwokctl_wrote(tmp_path: Path) -> None:
    path = _kwok_yaml(tmp_path, KCM_ARGS, SCHEDULER_ARGS)
    path.write_text(path.read_text() + "---\nkind: Stage\nstatus:\n  at: 2025-05-01T10:00:00Z\n")
    assert kwokconfig.update_client_limits(tmp_path, SandboxConfig(state_dir=tmp_path))
    assert "at: '2025-05-01T10:00:00Z'" in path.read_text()
