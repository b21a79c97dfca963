"""PostgreSQL as a real process on loopback (Debian's server binaries, initdb + pg_ctl)."""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import secrets
import shutil
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg

from craftplane.sandbox import procs
from craftplane.sandbox.config import SandboxConfig
from craftplane.sandbox.errors import SandboxError

NAME = "postgres"


def bin_dir() -> Path:
    found = shutil.which("pg_ctl")
    if found:
        return Path(os.path.realpath(found)).parent
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    if not versions:
        raise SandboxError("PostgreSQL server binaries not found: apt-get install postgresql")
    return Path(versions[-1]).parent


def data_dir(cfg: SandboxConfig) -> Path:
    return cfg.state_dir / "postgres"


def logfile(cfg: SandboxConfig) -> Path:
    return cfg.logs_dir / f"{NAME}.log"


def _as_server_user(argv: list[str]) -> list[str]:
    # initdb and postgres refuse to run as root; Debian's package provides the postgres user.
    if os.geteuid() != 0:
        return argv
    try:
        pwd.getpwnam("postgres")
    except KeyError as exc:
        raise SandboxError(
            "running as root needs the 'postgres' user (apt-get install postgresql)"
        ) from exc
    return ["runuser", "-u", "postgres", "--", *argv]


def _chown_to_server_user(path: Path) -> None:
    if os.geteuid() == 0:
        entry = pwd.getpwnam("postgres")
        os.chown(path, entry.pw_uid, entry.pw_gid)


def _pid(cfg: SandboxConfig) -> int | None:
    pidfile = data_dir(cfg) / "postmaster.pid"
    try:
        pid = int(pidfile.read_text().splitlines()[0])
    except (FileNotFoundError, ValueError, IndexError, PermissionError):
        return None
    return pid if procs.pid_alive(pid) else None


def running(cfg: SandboxConfig) -> bool:
    return _pid(cfg) is not None


def _initdb(cfg: SandboxConfig) -> None:
    data = data_dir(cfg)
    data.mkdir(parents=True, exist_ok=True)
    _chown_to_server_user(data)
    data.chmod(0o700)
    cmd = _as_server_user(
        [
            str(bin_dir() / "initdb"),
            "-D",
            str(data),
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--no-instructions",
        ]
    )
    result = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise SandboxError(f"initdb failed: {result.stderr.strip()}")


def start(cfg: SandboxConfig) -> bool:
    if running(cfg):
        return False
    procs.ensure_port_free(cfg.postgres_port, "PostgreSQL")
    if not (data_dir(cfg) / "PG_VERSION").exists():
        _initdb(cfg)
    log = logfile(cfg)
    log.parent.mkdir(parents=True, exist_ok=True)
    log.touch()
    _chown_to_server_user(log)
    sockets = cfg.state_dir / "postgres-sockets"
    sockets.mkdir(parents=True, exist_ok=True)
    _chown_to_server_user(sockets)
    options = (
        f"-p {cfg.postgres_port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={sockets}"
        " -c max_connections=300 -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
    )
    cmd = _as_server_user(
        [
            str(bin_dir() / "pg_ctl"),
            "-D",
            str(data_dir(cfg)),
            "-l",
            str(log),
            "-o",
            options,
            "-w",
            "-t",
            "60",
            "start",
        ]
    )
    result = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise SandboxError(f"PostgreSQL did not start: {result.stderr.strip()}; see {log}")
    procs.wait_until(
        lambda: procs.port_open(cfg.postgres_port), timeout=30, what="PostgreSQL", logfile=log
    )
    _ensure_database(cfg, "craftplane")
    return True


def _ensure_database(cfg: SandboxConfig, name: str) -> None:
    psql = bin_dir() / "psql"
    base = [str(psql), "-h", "127.0.0.1", "-p", str(cfg.postgres_port), "-U", "postgres", "-tA"]
    exists = subprocess.run(
        [*base, "-c", f"SELECT 1 FROM pg_database WHERE datname = '{name}'"],
        capture_output=True,
        text=True,
        check=False,
    )
    if exists.stdout.strip() != "1":
        subprocess.run([*base, "-c", f'CREATE DATABASE "{name}"'], capture_output=True, check=True)


def stop(cfg: SandboxConfig) -> bool:
    pid = _pid(cfg)
    if pid is None:
        return False
    cmd = _as_server_user(
        [
            str(bin_dir() / "pg_ctl"),
            "-D",
            str(data_dir(cfg)),
            "-m",
            "fast",
            "-w",
            "-t",
            "30",
            "stop",
        ]
    )
    subprocess.run(cmd, capture_output=True, check=False)
    if procs.pid_alive(pid):
        procs.stop_pid(pid)
    return True


@contextlib.asynccontextmanager
async def scratch_database(admin_url: str, prefix: str) -> AsyncIterator[str]:
    """A fresh database next to the one `admin_url` names; yields its URL and drops it (with
    whatever is still connected) afterwards."""
    name = f"{prefix}_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(admin_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    try:
        yield admin_url.rsplit("/", 1)[0] + f"/{name}"
    finally:
        admin = await asyncpg.connect(admin_url)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()
