"""`craftplane sandbox up|down|status|env` on a sandbox of its own (own ports and state)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from craftplane.sandbox import procs
from craftplane.sandbox.config import SandboxConfig

pytestmark = pytest.mark.cluster

CLI = [sys.executable, "-m", "craftplane.cli", "sandbox"]


@pytest.fixture
def isolated_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    state = Path("/var/lib/craftplane") if os.geteuid() == 0 else tmp_path_factory.mktemp("sbx")
    state = state / f"lifecycle-{os.getpid()}"
    env = {
        **os.environ,
        "CRAFTPLANE_STATE_DIR": str(state),
        "CRAFTPLANE_CLUSTER_NAME": "lifecycle",
        "CRAFTPLANE_APISERVER_PORT": "26443",
        "CRAFTPLANE_NATS_PORT": "24222",
        "CRAFTPLANE_NATS_MONITOR_PORT": "28222",
        "CRAFTPLANE_POSTGRES_PORT": "25432",
        "CRAFTPLANE_OBJECTSTORE_PORT": "27070",
        "CRAFTPLANE_NODES": "1",
        # One real node per host: its interfaces and kubelet ports belong to the main sandbox
        # (tests/realnode covers its up, down and recovery).
        "CRAFTPLANE_REAL_NODE": "false",
    }
    yield env
    subprocess.run([*CLI, "down"], env=env, capture_output=True, check=False)
    subprocess.run(["rm", "-rf", str(state)], check=False)


def _cli(env: dict[str, str], action: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, action, "--only", "services"] if action == "up" else [*CLI, action],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def _processes_under(state: str) -> list[str]:
    """Live (non-zombie) processes whose command line points into the sandbox's state dir."""
    return [
        f"{pid}: {' '.join(argv)[:120]}"
        for pid, argv in procs.command_lines()
        if any(state in arg for arg in argv)
    ]


def test_up_is_idempotent_and_down_leaves_nothing(isolated_env: dict[str, str]) -> None:
    state = isolated_env["CRAFTPLANE_STATE_DIR"]
    first = _cli(isolated_env, "up")
    assert first.returncode == 0, first.stderr
    status = _cli(isolated_env, "status")
    assert status.returncode == 0, status.stdout
    assert "running" in status.stdout

    second = _cli(isolated_env, "up")
    assert second.returncode == 0, second.stderr
    # A second `up` starts nothing: every component reports it was already running.
    assert "control plane already running" in second.stderr
    assert "NATS already running" in second.stderr
    assert "PostgreSQL already running" in second.stderr
    assert "object store already running" in second.stderr

    env_out = _cli(isolated_env, "env").stdout
    assert f"export KUBECONFIG={state}/kubeconfig" in env_out
    assert "export NATS_URL=nats://127.0.0.1:24222" in env_out
    assert "export DATABASE_URL=postgresql://" in env_out

    down = _cli(isolated_env, "down")
    assert down.returncode == 0, down.stderr
    assert _processes_under(state) == []
    assert _cli(isolated_env, "status").returncode != 0

    again = _cli(isolated_env, "up")
    assert again.returncode == 0, again.stderr
    assert "already running" not in again.stderr
    assert _cli(isolated_env, "status").returncode == 0
    assert _cli(isolated_env, "down").returncode == 0
    assert _processes_under(state) == []


def test_up_reports_a_taken_port(isolated_env: dict[str, str]) -> None:
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        env = {**isolated_env, "CRAFTPLANE_NATS_PORT": str(port)}
        result = _cli(env, "up")
        assert result.returncode == 2
        assert f"port {port} for NATS is already taken" in result.stderr
    _cli(env, "down")


POD = """
apiVersion: v1
kind: Pod
metadata: {name: probe, namespace: default}
spec:
  containers: [{name: probe, image: registry.invalid/probe:1}]
"""


def test_up_recovers_a_control_plane_that_was_killed(isolated_env: dict[str, str]) -> None:
    """A crash (no `down`) leaves pid files and kwok's node leases behind; the next `up` must
    still start every component, and pods must run again without waiting for leases to expire."""
    state = Path(isolated_env["CRAFTPLANE_STATE_DIR"])
    assert _cli(isolated_env, "up").returncode == 0
    pids = state / "kwok" / "clusters" / "lifecycle" / "pids"
    killed = [int(p.read_text()) for p in pids.glob("*.pid")]
    assert len(killed) == 5, killed
    for pid in killed:
        os.kill(pid, 9)
    procs.wait_until(
        lambda: not any(procs.pid_alive(pid) for pid in killed), timeout=10, what="kill -9"
    )

    restarted = _cli(isolated_env, "up")
    assert restarted.returncode == 0, restarted.stderr

    kubectl = [str(SandboxConfig().bin_dir / "kubectl"), "--kubeconfig", str(state / "kubeconfig")]
    applied = subprocess.run(
        [*kubectl, "apply", "-f", "-"], input=POD, capture_output=True, text=True, check=False
    )
    assert applied.returncode == 0, applied.stderr
    waited = subprocess.run(
        [*kubectl, "wait", "--for=condition=Ready", "pod/probe", "--timeout=30s"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert waited.returncode == 0, waited.stderr
