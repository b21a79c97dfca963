"""The sandbox's object store (versitygw): where it listens, what it is started with, its
root keys, and that `up` starts it again when it died and leaves it alone while it runs."""

from __future__ import annotations

import http.server
import os
import stat
import subprocess
import threading
from pathlib import Path
from typing import Any

import pytest

from craftplane import tenant_access
from craftplane.sandbox import objectstore, procs
from craftplane.sandbox.config import SandboxConfig

pytestmark = pytest.mark.unit


def _config(tmp_path: Path, **fields: Any) -> SandboxConfig:
    return SandboxConfig(state_dir=tmp_path / "state", cache=tmp_path / "cache", **fields)


def test_with_the_real_node_pods_reach_it_at_the_node_address(tmp_path: Path) -> None:
    cfg = _config(tmp_path, real_node=True, real_node_ip="10.213.255.1", objectstore_port=17070)
    assert objectstore.listen_hosts(cfg) == ["127.0.0.1", "10.213.255.1"]
    assert objectstore.host_endpoint(cfg) == "http://127.0.0.1:17070"
    assert objectstore.pod_endpoint(cfg) == "http://10.213.255.1:17070"


def test_without_the_real_node_it_listens_on_loopback_only(tmp_path: Path) -> None:
    cfg = _config(tmp_path, real_node=False, objectstore_port=17171)
    assert objectstore.listen_hosts(cfg) == ["127.0.0.1"]
    assert objectstore.pod_endpoint(cfg) == objectstore.host_endpoint(cfg)


def test_the_default_port_is_free_of_the_others_and_open_to_backup_jobs(tmp_path: Path) -> None:
    cfg = _config(tmp_path)
    ports = [value for name, value in cfg.model_dump().items() if name.endswith("_port")]
    assert ports.count(cfg.objectstore_port) == 1
    assert cfg.objectstore_port in tenant_access.BACKUP_STORE_PORTS


def test_the_server_serves_the_state_directory_with_its_iam_and_health(tmp_path: Path) -> None:
    cfg = _config(tmp_path, real_node=True, real_node_ip="10.213.255.1", objectstore_port=17070)
    argv = objectstore.server_argv(cfg, Path("/cache/versitygw"))
    state = cfg.state_dir / "objectstore"
    assert argv == [
        "/cache/versitygw",
        "--port", "127.0.0.1:17070",
        "--port", "10.213.255.1:17070",
        "--iam-dir", str(state / "iam"),
        "--health", "/health",
        "posix", str(state / "data"),
    ]  # fmt: skip
    assert cfg.versitygw_binary == cfg.cache / "versitygw-v1.8.0" / "bin" / "versitygw"


def test_root_keys_go_in_the_environment_and_the_callers_s3_settings_do_not(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "someone-else")
    monkeypatch.setenv("VGW_PORT", ":7070")
    monkeypatch.setenv("HOME", "/home/dev")
    env = objectstore.server_env(objectstore.Credentials("root", "s3cret"))
    assert env["ROOT_ACCESS_KEY"] == "root" and env["ROOT_SECRET_KEY"] == "s3cret"
    assert "AWS_ACCESS_KEY_ID" not in env and "VGW_PORT" not in env
    assert env["HOME"] == "/home/dev"
    assert "s3cret" not in objectstore.server_argv(_config(Path("/x")), Path("/bin/vgw"))


def test_root_keys_are_generated_once_and_only_the_owner_reads_them(tmp_path: Path) -> None:
    cfg = _config(tmp_path)
    first = objectstore.root_credentials(cfg)
    assert first == objectstore.root_credentials(cfg)
    assert first.access_key == objectstore.ROOT_ACCESS_KEY and len(first.secret_key) == 40
    path = cfg.objectstore_dir / "root.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert objectstore.root_credentials(_config(tmp_path / "other")) != first


def test_write_private_replaces_a_file_keeping_it_private(tmp_path: Path) -> None:
    path = tmp_path / "dir" / "secret"
    objectstore.write_private(path, "one")
    path.chmod(0o644)
    objectstore.write_private(path, "two")
    assert path.read_text() == "two" and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert sorted(p.name for p in path.parent.iterdir()) == ["secret"]


class _Spawns:
    def __init__(self) -> None:
        self.argv: list[list[str]] = []

    def __call__(self, argv: list[str], *, pidfile: Path, logfile: Path, **kw: Any) -> int:
        self.argv.append(list(argv))
        pidfile.parent.mkdir(parents=True, exist_ok=True)
        pidfile.write_text(str(os.getpid()))
        return os.getpid()


@pytest.fixture
def spawns(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> _Spawns:
    spawned = _Spawns()
    monkeypatch.setattr(procs, "spawn", spawned)
    monkeypatch.setattr(procs, "ensure_port_free", lambda port, what: None)
    monkeypatch.setattr(procs, "wait_until", lambda check, **kw: None)
    monkeypatch.setattr(objectstore, "ensure_binary", lambda cfg: Path("/cache/versitygw"))
    return spawned


def _dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def test_up_starts_a_dead_store_again_and_leaves_a_live_one(
    tmp_path: Path, spawns: _Spawns
) -> None:
    cfg = _config(tmp_path, real_node=False, objectstore_port=17070)
    objectstore.pidfile(cfg).parent.mkdir(parents=True)
    objectstore.pidfile(cfg).write_text(str(_dead_pid()))
    assert objectstore.start(cfg) is True
    assert spawns.argv == [objectstore.server_argv(cfg, Path("/cache/versitygw"))]
    assert objectstore.running(cfg)
    assert objectstore.start(cfg) is False
    assert len(spawns.argv) == 1
    for directory in (objectstore.data_dir(cfg), objectstore.iam_dir(cfg)):
        assert stat.S_IMODE(directory.stat().st_mode) == 0o700


def test_admin_commands_run_as_root_without_keys_on_the_command_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = _config(tmp_path, objectstore_port=17070)
    seen: dict[str, Any] = {}

    def run(argv: list[str], *, env: dict[str, str], **kw: Any) -> Any:
        seen.update(argv=argv, env=env)
        return subprocess.CompletedProcess(argv, 0, "", "")

    monkeypatch.setattr(subprocess, "run", run)
    objectstore.admin(cfg, "list-users")
    root = objectstore.root_credentials(cfg)
    assert seen["argv"] == [str(cfg.versitygw_binary), "admin", "list-users"]
    assert seen["env"]["ADMIN_ACCESS_KEY"] == root.access_key
    assert seen["env"]["ADMIN_SECRET_KEY"] == root.secret_key
    assert seen["env"]["ADMIN_ENDPOINT_URL"] == "http://127.0.0.1:17070"


class _Health(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200 if self.path == objectstore.HEALTH_PATH else 403)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


def test_ready_is_the_health_answer_never_through_a_proxy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    monkeypatch.setenv("http_proxy", "http://127.0.0.1:9")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    with http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Health) as server:
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            cfg = _config(tmp_path, objectstore_port=server.server_address[1])
            assert objectstore.healthy(cfg)
        finally:
            server.shutdown()
    assert not objectstore.healthy(cfg)
