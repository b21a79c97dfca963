"""The sandbox's object store: the Versity S3 gateway (versitygw) serving a directory of the
state directory as S3. The tenants' backup repositories live there (``repositories``).

It listens on loopback, for this host (tests, the bench, restic by hand), and with the real
node also on the node's address, which the node's pods reach through their bridge (the host is
their gateway). Never on the machine's own interfaces. Its internal IAM (a file in the state
directory) holds one S3 user per tenant besides the root user, whose keys are generated once.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from craftplane import tenant_access
from craftplane.sandbox import procs
from craftplane.sandbox.config import SandboxConfig
from craftplane.sandbox.errors import SandboxError
from craftplane.sandbox.progress import say

NAME: Final = "objectstore"
ROOT_ACCESS_KEY: Final = "craftplane-root"
# A plain GET that answers 200 without S3 request signing: readiness needs no S3 client.
HEALTH_PATH: Final = "/health"
LOOPBACK: Final = "127.0.0.1"


@dataclass(frozen=True)
class Credentials:
    access_key: str
    secret_key: str


def install_script() -> Path:
    return Path(__file__).resolve().parents[3] / "hack" / "install-versitygw.sh"


def ensure_binary(cfg: SandboxConfig) -> Path:
    """Build versitygw unless the versioned cache already holds it."""
    if cfg.versitygw_binary.exists():
        return cfg.versitygw_binary
    env = {
        **os.environ,
        "CRAFTPLANE_CACHE": str(cfg.cache),
        "CRAFTPLANE_VERSITYGW_VERSION": cfg.versitygw_version,
    }
    # The script prints its progress on stderr; let it through.
    result = subprocess.run(
        ["bash", str(install_script())], env=env, stdout=subprocess.PIPE, text=True, check=False
    )
    if result.returncode != 0 or not cfg.versitygw_binary.exists():
        raise SandboxError("versitygw could not be built (see the lines above)")
    return cfg.versitygw_binary


def pidfile(cfg: SandboxConfig) -> Path:
    return cfg.run_dir / f"{NAME}.pid"


def logfile(cfg: SandboxConfig) -> Path:
    return cfg.logs_dir / f"{NAME}.log"


def data_dir(cfg: SandboxConfig) -> Path:
    """Every top-level directory is a bucket."""
    return cfg.objectstore_dir / "data"


def iam_dir(cfg: SandboxConfig) -> Path:
    return cfg.objectstore_dir / "iam"


def pod_host(cfg: SandboxConfig) -> str:
    """The address the real node's pods reach the store at (kwok's pods run nothing)."""
    return cfg.real_node_ip if cfg.real_node else LOOPBACK


def listen_hosts(cfg: SandboxConfig) -> list[str]:
    return list(dict.fromkeys([LOOPBACK, pod_host(cfg)]))


def host_endpoint(cfg: SandboxConfig) -> str:
    """The S3 endpoint as this host reaches it."""
    return f"http://{LOOPBACK}:{cfg.objectstore_port}"


def pod_endpoint(cfg: SandboxConfig) -> str:
    """The S3 endpoint as the real node's pods reach it."""
    return f"http://{pod_host(cfg)}:{cfg.objectstore_port}"


def write_private(path: Path, text: str) -> None:
    """Write a file only its owner can read, never readable by others even for a moment."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(text)
    tmp.replace(path)


def root_credentials(cfg: SandboxConfig) -> Credentials:
    """The root user's keys, generated once and kept in the state directory (0600)."""
    path = cfg.objectstore_dir / "root.json"
    if not path.exists():
        write_private(
            path,
            json.dumps({"accessKey": ROOT_ACCESS_KEY, "secretKey": secrets.token_hex(20)}) + "\n",
        )
    saved = json.loads(path.read_text())
    return Credentials(access_key=saved["accessKey"], secret_key=saved["secretKey"])


def server_argv(cfg: SandboxConfig, binary: Path) -> list[str]:
    listen = [
        arg for host in listen_hosts(cfg) for arg in ("--port", f"{host}:{cfg.objectstore_port}")
    ]
    return [
        str(binary),
        *listen,
        "--iam-dir",
        str(iam_dir(cfg)),
        "--health",
        HEALTH_PATH,
        "posix",
        str(data_dir(cfg)),
    ]


def server_env(root: Credentials) -> dict[str, str]:
    # In the environment, not on the command line, where every local user could read them.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "VGW_", "ROOT_"))}
    env.update({"ROOT_ACCESS_KEY": root.access_key, "ROOT_SECRET_KEY": root.secret_key})
    return env


def running(cfg: SandboxConfig) -> bool:
    return procs.read_pid(pidfile(cfg)) is not None


def healthy(cfg: SandboxConfig) -> bool:
    # No proxy: urllib would send even a loopback request to one named in the environment.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(host_endpoint(cfg) + HEALTH_PATH, timeout=2) as answer:
            return bool(answer.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def start(cfg: SandboxConfig) -> bool:
    """Start the store unless it runs already (a dead one is started again); True when this
    call started it."""
    if running(cfg):
        return False
    binary = ensure_binary(cfg)
    procs.ensure_port_free(cfg.objectstore_port, "the object store")
    if cfg.objectstore_port not in tenant_access.BACKUP_STORE_PORTS:
        say(
            f"note: port {cfg.objectstore_port} is not one the tenants' allow-backup-egress "
            "NetworkPolicy opens; backup Jobs would be refused where policies are enforced"
        )
    for directory in (data_dir(cfg), iam_dir(cfg)):
        directory.mkdir(parents=True, exist_ok=True)
        directory.chmod(0o700)
    procs.spawn(
        server_argv(cfg, binary),
        pidfile=pidfile(cfg),
        logfile=logfile(cfg),
        env=server_env(root_credentials(cfg)),
    )
    procs.wait_until(
        lambda: healthy(cfg), timeout=30, what="the object store", logfile=logfile(cfg)
    )
    return True


def stop(cfg: SandboxConfig) -> bool:
    return procs.stop_pidfile(pidfile(cfg))


def admin(cfg: SandboxConfig, *args: str) -> subprocess.CompletedProcess[str]:
    """``versitygw admin ARGS`` as the root user, against the running store."""
    root = root_credentials(cfg)
    env = {
        **os.environ,
        "ADMIN_ACCESS_KEY": root.access_key,
        "ADMIN_SECRET_KEY": root.secret_key,
        "ADMIN_ENDPOINT_URL": host_endpoint(cfg),
    }
    return subprocess.run(
        [str(cfg.versitygw_binary), "admin", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
