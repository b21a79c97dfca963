"""The platform's own processes in the sandbox: the operator (and the gateway once it exists).

They run outside the cluster, as local processes pointed at the sandbox's kubeconfig, NATS
and PostgreSQL, exactly as they would run in pods against in-cluster addresses.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from craftplane.sandbox import cluster, procs
from craftplane.sandbox.config import SandboxConfig
from craftplane.sandbox.errors import SandboxError
from craftplane.sandbox.progress import say, step

SYSTEM_NAMESPACE = "craftplane-system"


def repo_root() -> Path:
    return Path(__file__).resolve().parents[3]


def _console_script(name: str) -> str:
    candidate = Path(sys.executable).parent / name
    if candidate.exists():
        return str(candidate)
    found = shutil.which(name)
    if found is None:
        raise SandboxError(f"{name} is not installed (run: make bootstrap)")
    return found


def _pidfile(cfg: SandboxConfig, name: str) -> Path:
    return cfg.run_dir / f"{name}.pid"


def _logfile(cfg: SandboxConfig, name: str) -> Path:
    return cfg.logs_dir / f"{name}.log"


def _base_env(cfg: SandboxConfig) -> dict[str, str]:
    env = cluster.tool_env(cfg)
    env.update(
        {
            "KUBECONFIG": str(cfg.kubeconfig),
            "NATS_URL": cfg.nats_url,
            "DATABASE_URL": cfg.database_url,
        }
    )
    return env


def operator_env(cfg: SandboxConfig) -> dict[str, str]:
    env = _base_env(cfg)
    env.update(
        {
            "CRAFTPLANE_OPERATOR_LEASE_NAMESPACE": SYSTEM_NAMESPACE,
            "CRAFTPLANE_OPERATOR_HTTP_PORT": str(cfg.operator_metrics_port),
            "CRAFTPLANE_OPERATOR_HTTP_HOST": "127.0.0.1",
        }
    )
    return env


def install_crds(cfg: SandboxConfig) -> None:
    result = cluster.kubectl(
        cfg, "apply", "--server-side", "--force-conflicts", "-f", str(repo_root() / "crds")
    )
    if result.returncode != 0:
        raise SandboxError(f"could not apply the CRDs: {result.stderr.strip()}")
    cluster.kubectl(
        cfg,
        "wait",
        "--for=condition=Established",
        "--timeout=60s",
        "crd/minecraftservers.craftplane.io",
    )
    ns = cluster.kubectl(cfg, "create", "namespace", SYSTEM_NAMESPACE)
    if ns.returncode != 0 and "AlreadyExists" not in ns.stderr:
        raise SandboxError(f"could not create namespace {SYSTEM_NAMESPACE}: {ns.stderr.strip()}")


def _start(cfg: SandboxConfig, name: str, argv: list[str], env: dict[str, str], port: int) -> bool:
    if procs.read_pid(_pidfile(cfg, name)) is not None:
        return False
    procs.ensure_port_free(port, name)
    procs.spawn(
        argv, pidfile=_pidfile(cfg, name), logfile=_logfile(cfg, name), env=env, cwd=repo_root()
    )
    procs.wait_until(
        lambda: procs.port_open(port), timeout=60, what=name, logfile=_logfile(cfg, name)
    )
    return True


def up(cfg: SandboxConfig) -> None:
    with step("CRDs"):
        install_crds(cfg)
    with step("operator"):
        started = _start(
            cfg,
            "operator",
            [_console_script("craftplane-operator")],
            operator_env(cfg),
            cfg.operator_metrics_port,
        )
        if not started:
            say("operator already running")


def down(cfg: SandboxConfig) -> None:
    for name in ("gateway", "operator"):
        if procs.stop_pidfile(_pidfile(cfg, name)):
            say(f"stopped {name}")


def status(cfg: SandboxConfig) -> dict[str, str]:
    report = {}
    for name, port in (("operator", cfg.operator_metrics_port),):
        pid = procs.read_pid(_pidfile(cfg, name))
        report[name] = f"running (pid {pid}, http://127.0.0.1:{port})" if pid else "stopped"
    return report


def env(cfg: SandboxConfig) -> dict[str, str]:
    return {"CRAFTPLANE_OPERATOR_METRICS": f"http://127.0.0.1:{cfg.operator_metrics_port}/metrics"}


__all__ = ["SYSTEM_NAMESPACE", "down", "env", "install_crds", "status", "up"]
