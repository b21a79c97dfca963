"""What the gateway benchmarks share: the sandbox, a private NATS, fresh databases, a gateway
process, and an optional py-spy profile of a process under test."""

from __future__ import annotations

import asyncio
import contextlib
import os
import resource
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from contextlib import AbstractAsyncContextManager
from pathlib import Path

import asyncpg
import httpx
import nats

from craftplane.sandbox import cluster, nats_server, postgres, procs, stack
from craftplane.sandbox.config import SandboxConfig
from craftplane.testing.gateway import gateway_process
from craftplane.testing.platform import Platform
from craftplane.testing.processes import ManagedProcess, free_port
from craftplane_gateway.db.migrate import migrate
from craftplane_gateway.settings import GatewaySettings
from craftplane_operator.publisher import ensure_stream

ROOT = Path(__file__).resolve().parents[1]

# craftplane.testing.gateway shortens these for tests; a benchmark runs the production values.
_DEFAULTS = GatewaySettings.model_fields
PRODUCTION_INTERVALS = {
    "CRAFTPLANE_GATEWAY_POLL_SECONDS": str(_DEFAULTS["poll_seconds"].default),
    "CRAFTPLANE_GATEWAY_DRIFT_SECONDS": str(_DEFAULTS["drift_seconds"].default),
    "CRAFTPLANE_GATEWAY_METRICS_FRAME_SECONDS": str(_DEFAULTS["metrics_frame_seconds"].default),
}


def sandbox() -> SandboxConfig:
    """The shared sandbox's services (started if they are not running); KUBECONFIG set."""
    cfg = SandboxConfig()
    stack.up(cfg, only="services")
    os.environ["KUBECONFIG"] = str(cfg.kubeconfig)
    print(host_load(), flush=True)
    return cfg


def kubectl(cfg: SandboxConfig, *args: str, stdin: str | None = None) -> str:
    """kubectl's output against the sandbox; a failure ends the benchmark, naming the call."""
    result = cluster.kubectl(cfg, *args, stdin=stdin, timeout=120)
    if result.returncode != 0:
        raise SystemExit(f"kubectl {' '.join(args)}: {result.stderr.strip()}")
    return result.stdout


def host_load() -> str:
    """Other work on the host skews every figure: say how busy it is."""
    one, five, fifteen = os.getloadavg()
    return f"host: {os.cpu_count()} cores, load average {one:.1f} {five:.1f} {fifteen:.1f}"


def platform_for(cfg: SandboxConfig, nats_url: str) -> Platform:
    return Platform(
        kubeconfig=cfg.kubeconfig,
        kubectl_binary=str(cfg.bin_dir / "kubectl"),
        nats_url=nats_url,
        database_url=cfg.database_url,
        admin_database_url=cfg.admin_database_url,
        sandbox=cfg,
    )


class PrivateNats:
    """A nats-server with JetStream of the benchmark's own (same binary and stream config as
    the sandbox's), so synthetic events reach no other consumer and the stream starts empty."""

    def __init__(self, cfg: SandboxConfig) -> None:
        self.cfg = cfg
        self.port = free_port()
        self.store = Path(tempfile.mkdtemp(prefix="bench-nats-"))
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    async def __aenter__(self) -> PrivateNats:
        log = open(self.cfg.logs_dir / "bench-nats.log", "ab")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [
                nats_server.binary(),
                "--jetstream",
                "--store_dir",
                str(self.store),
                "--addr",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--server_name",
                f"bench-{self.port}",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        for _ in range(100):
            if procs.port_open(self.port):
                return self
            await asyncio.sleep(0.1)
        raise SystemExit(f"private nats-server did not start; see {self.cfg.logs_dir}")

    async def __aexit__(self, *exc: object) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=10)
            if self.proc.poll() is None:
                self.proc.kill()
        shutil.rmtree(self.store, ignore_errors=True)

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid


async def create_stream(url: str) -> None:
    """The CRAFTPLANE stream exactly as the operator creates it."""
    nc = await nats.connect(url)
    try:
        await ensure_stream(nc.jetstream())
    finally:
        await nc.close()


def fresh_database(cfg: SandboxConfig, prefix: str) -> AbstractAsyncContextManager[str]:
    """A database of its own for the run (dropped afterwards); yields its URL."""
    return postgres.scratch_database(cfg.admin_database_url, prefix)


async def migrated(url: str) -> None:
    """Apply the gateway's own migrations, as the gateway does on start."""
    conn = await asyncpg.connect(url)
    try:
        await migrate(conn)
    finally:
        await conn.close()


def start_gateway(
    cfg: SandboxConfig,
    *,
    name: str,
    nats_url: str,
    database_url: str,
    token_key: str,
    consumer: str | None = None,
    extra: dict[str, str] | None = None,
) -> ManagedProcess:
    proc = gateway_process(
        platform_for(cfg, nats_url),
        index=0,
        database_url=database_url,
        token_key=token_key,
        consumer=consumer or f"bench-projection-{secrets.token_hex(4)}",
        extra={**PRODUCTION_INTERVALS, "CRAFTPLANE_GATEWAY_LOG_LEVEL": "WARNING", **(extra or {})},
    )
    proc.name = f"bench-{name}"
    proc.log_path = cfg.logs_dir / f"bench-{name}.log"
    return proc.start()


def scrape(port: int, name: str) -> float:
    """The sum of a metric's samples from a process's /metrics."""
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    total = 0.0
    for line in text.splitlines():
        head, _, value = line.rpartition(" ")
        if head == name or head.startswith(name + "{"):
            total += float(value)
    return total


def raise_fd_limit(wanted: int) -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = min(hard, max(soft, wanted)) if hard != resource.RLIM_INFINITY else max(soft, wanted)
    if target > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return target


def mib(n: float) -> float:
    return n / 2**20


def row(label: str, *values: object, width: int = 14) -> str:
    cells = []
    for value in values:
        if isinstance(value, float):
            cells.append(f"{value:{width}.2f}")
        else:
            cells.append(f"{value!s:>{width}}")
    return f"{label:34}" + "".join(cells)


class Profile:
    """`py-spy record` of one process while a phase runs (pass --profile; needs py-spy in the
    venv: pip install py-spy). Prints where the samples went: the functions on top of the
    stack (self) and the project's functions anywhere on it (inclusive)."""

    def __init__(self, pid: int, label: str, out_dir: Path | None) -> None:
        self.pid = pid
        self.label = label
        self.out_dir = out_dir
        self.proc: subprocess.Popen[bytes] | None = None
        self.path: Path | None = None

    def start(self) -> None:
        if self.out_dir is None:
            return
        spy = Path(sys.executable).parent / "py-spy"
        if not spy.exists():
            print("  (py-spy not installed: pip install py-spy; not profiling)", flush=True)
            return
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.path = self.out_dir / f"{self.label}-{time.strftime('%H%M%S')}.txt"
        self.proc = subprocess.Popen(
            [
                *(str(spy), "record", "--pid", str(self.pid), "--format", "raw"),
                *("--rate", "50", "--nonblocking", "-o", str(self.path)),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def stop(self, top: int = 12) -> None:
        if self.proc is None or self.path is None:
            return
        self.proc.send_signal(signal.SIGINT)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=30)
        if not self.path.exists():
            print(f"  py-spy wrote nothing for {self.label}")
            return
        leaf: Counter[str] = Counter()
        inclusive: Counter[str] = Counter()
        total = idle = 0
        for line in self.path.read_text().splitlines():
            stack_text, _, count_text = line.rpartition(" ")
            if not count_text.isdigit():
                continue
            count = int(count_text)
            raw = stack_text.split(";")
            if any(raw[-1].startswith(p) for p in IDLE_LEAVES):
                idle += count  # waiting, though py-spy sampled it as busy
                continue
            total += count
            frames = [_frame(f) for f in raw]
            leaf[frames[-1]] += count
            for frame in set(frames):
                if "craftplane" in frame or "bench/" in frame:
                    inclusive[frame] += count
        if not total:
            return
        print(
            f"\n  py-spy {self.label}: {total} busy samples at 50 Hz ({idle} more waiting in "
            f"the event loop or a thread pool, left out); raw stacks in {self.path}"
        )
        print("  on top of the stack (self):")
        for frame, count in leaf.most_common(top):
            print(f"    {100 * count / total:5.1f}%  {frame}")
        if inclusive:
            print("  project functions (inclusive):")
            for frame, count in inclusive.most_common(top):
                print(f"    {100 * count / total:5.1f}%  {frame}")


# Leaf frames that are waiting, not working: the selector's epoll_wait, uvloop's run loop (its
# C code is mostly epoll_wait; its socket I/O shows under the Python caller), idle pool threads.
IDLE_LEAVES = (
    "EpollSelector.select (",
    "select (selectors.py",
    "Runner.run (asyncio/runners.py",
    "_worker (concurrent/futures/thread.py:81)",
    "Condition.wait (threading.py",
)


def _frame(text: str) -> str:
    # "func (path/to/module.py:123)" -> "func (module.py)"; the project's paths keep their package
    func, _, where = text.partition(" (")
    path = where.rstrip(")").rsplit(":", 1)[0]
    parts = Path(path).parts
    if "craftplane_gateway" in parts or "craftplane_operator" in parts or "craftplane" in parts:
        for package in ("craftplane_gateway", "craftplane_operator", "craftplane"):
            if package in parts:
                path = "/".join(parts[parts.index(package) :])
                break
    else:
        path = "/".join(parts[-2:])
    return f"{func} ({path})"
