"""The fault injector: kills, stops and pauses the platform's parts at scheduled moments, and
revives what exits on its own, as a kubelet or systemd would.

Every fault is logged as an `Injection` (when it began, when it was healed), which the report
prints and the convergence clock starts from.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import signal
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import httpx

from craftplane.sandbox import cluster, nats_server, postgres, procs
from craftplane.sandbox.config import SandboxConfig
from craftplane.sandbox.errors import SandboxError
from craftplane.testing.kubectl import Kubectl
from craftplane.testing.processes import ManagedProcess
from craftplane.testing.wait import wait_for
from e2e.chaos.observe import lease_holder
from e2e.chaos.profiles import Profile


@dataclass
class Injection:
    kind: str
    target: str
    at: float
    healed: float | None = None
    note: str = ""


@dataclass
class Chaos:
    cfg: SandboxConfig
    kubectl: Kubectl
    operators: list[ManagedProcess]
    gateways: list[ManagedProcess]
    rng: random.Random
    nats_pause: float
    t0: float = field(default_factory=time.monotonic)
    log: list[Injection] = field(default_factory=list)
    held: set[str] = field(default_factory=set)  # deliberately down: not to be revived
    paused_nats: int | None = None
    locks: dict[str, asyncio.Lock] = field(default_factory=dict)

    def now(self) -> float:
        return time.monotonic() - self.t0

    def begin(self, kind: str, target: str, note: str = "") -> Injection:
        entry = Injection(kind, target, self.now(), note=note)
        self.log.append(entry)
        print(f"[chaos {entry.at:7.1f}s] {kind} {target} {note}".rstrip(), flush=True)
        return entry

    def heal(self, entry: Injection) -> None:
        entry.healed = self.now()
        print(f"[chaos {entry.healed:7.1f}s] healed {entry.kind} {entry.target}", flush=True)

    @property
    def last_heal(self) -> float:
        return max((e.healed or e.at for e in self.log), default=0.0)

    @property
    def unhealed(self) -> list[Injection]:
        return [e for e in self.log if e.healed is None]

    # -- the faults -------------------------------------------------------------------------

    async def kill_leader(self) -> None:
        leader = await self.find_leader()
        self.held.add(leader.name)
        entry = self.begin("operator-leader", leader.name, "SIGKILL")
        leader.kill()
        # Back within the lease (15 s), it takes its own lease again (same identity, as a
        # StatefulSet pod would); later, the standby has taken over by then.
        await asyncio.sleep(self.rng.uniform(1, 20))
        await asyncio.to_thread(leader.start)
        self.held.discard(leader.name)
        self.heal(entry)

    async def kill_gateway(self) -> None:
        gateway = self.rng.choice(self.gateways)
        await asyncio.to_thread(
            wait_for, lambda: gateway.alive, timeout=90, what=f"{gateway.name} revived"
        )
        self.held.add(gateway.name)
        entry = self.begin("gateway", gateway.name, "SIGKILL")
        gateway.kill()
        await asyncio.sleep(self.rng.uniform(1, 4))
        await asyncio.to_thread(gateway.start)
        self.held.discard(gateway.name)
        self.heal(entry)

    async def restart_nats(self) -> None:
        entry = self.begin("nats", "nats-server", "stop")
        await asyncio.to_thread(nats_server.stop, self.cfg)
        await asyncio.sleep(self.rng.uniform(2, 8))
        await asyncio.to_thread(nats_server.start, self.cfg)
        self.heal(entry)

    async def pause_nats(self) -> None:
        pid = procs.read_pid(nats_server.pidfile(self.cfg))
        assert pid is not None, "NATS is not running"
        entry = self.begin(
            "nats-pause", f"nats-server pid {pid}", f"SIGSTOP {self.nats_pause:.0f}s"
        )
        self.paused_nats = pid
        os.kill(pid, signal.SIGSTOP)
        await asyncio.sleep(self.nats_pause)
        self._continue_nats()
        self.heal(entry)

    async def restart_postgres(self) -> None:
        entry = self.begin("postgres", "postgresql", "stop")
        await asyncio.to_thread(postgres.stop, self.cfg)
        await asyncio.sleep(self.rng.uniform(2, 8))
        await asyncio.to_thread(postgres.start, self.cfg)
        self.heal(entry)

    async def restart_apiserver(self) -> None:
        pidfile = cluster.cluster_dir(self.cfg) / "pids" / "kube-apiserver.pid"
        pid = procs.read_pid(pidfile)
        assert pid is not None, "kube-apiserver is not running"
        self.held.add("kube-apiserver")
        entry = self.begin("apiserver", f"kube-apiserver pid {pid}", "SIGKILL")
        os.kill(pid, signal.SIGKILL)
        await asyncio.to_thread(
            wait_for, lambda: not procs.pid_alive(pid), timeout=10, what="kube-apiserver gone"
        )
        await asyncio.sleep(self.rng.uniform(1, 3))
        restarted = await asyncio.to_thread(cluster.restart_missing, self.cfg)
        self.held.discard("kube-apiserver")
        entry.note += f"; kwokctl start restarted {', '.join(restarted) or 'nothing'}"
        self.heal(entry)

    async def find_leader(self, timeout: float = 90) -> ManagedProcess:
        deadline = time.monotonic() + timeout
        while True:
            for proc in self.operators:
                if proc.alive and proc.name not in self.held:
                    with contextlib.suppress(httpx.HTTPError):
                        if await asyncio.to_thread(proc.metric, "craftplane_operator_leader") == 1:
                            return proc
            if time.monotonic() > deadline:
                holder = await asyncio.to_thread(lease_holder, self.kubectl)
                raise AssertionError(
                    f"none of {[p.name for p in self.operators]} leads after {timeout:.0f}s; "
                    f"the lease is held by {holder!r}"
                )
            await asyncio.sleep(0.5)

    # -- schedule and supervision -----------------------------------------------------------

    def schedule(self, profile: Profile) -> list[tuple[float, str]]:
        """(offset, kind) for every fault: random moments in the window, leaving its last part
        for the heals. The long NATS pause comes early enough to end inside the window."""
        plan: list[tuple[float, str]] = []
        latest = profile.window - 15
        for kind, times in sorted(profile.faults.items()):
            end = latest - profile.nats_pause if kind == "nats-pause" else latest
            plan += [(self.rng.uniform(5, end), kind) for _ in range(times)]
        return sorted(plan)

    async def run_kind(self, kind: str, offsets: list[float]) -> None:
        action: dict[str, Callable[[], Awaitable[None]]] = {
            "operator-leader": self.kill_leader,
            "gateway": self.kill_gateway,
            "nats": self.restart_nats,
            "nats-pause": self.pause_nats,
            "postgres": self.restart_postgres,
            "apiserver": self.restart_apiserver,
        }
        # Faults on the same component wait for each other (a NATS restart during the pause
        # would only turn the pause into a kill); different components overlap freely.
        lock = self.locks.setdefault(kind.split("-")[0], asyncio.Lock())
        for offset in offsets:
            await asyncio.sleep(max(0.0, offset - self.now()))
            async with lock:
                await action[kind]()

    async def supervise(self) -> None:
        """Revive what exited on its own, as a kubelet (processes) or systemd (the control
        plane's components) would."""
        leading: list[str] | None = None
        while True:
            now_leading = await asyncio.to_thread(
                lambda: [p.name for p in self.operators if p.alive and _leads(p)]
            )
            if now_leading != leading:
                leading = now_leading
                print(f"[chaos {self.now():7.1f}s] leading: {leading or 'none'}", flush=True)
            for proc in [*self.operators, *self.gateways]:
                if proc.alive or proc.name in self.held:
                    continue
                code = proc.proc.returncode if proc.proc is not None else None
                entry = self.begin("exited", proc.name, f"exit code {code}; restarted")
                try:
                    await asyncio.to_thread(proc.start)
                except AssertionError:
                    self.log.remove(entry)  # died again at once: the next round retries
                    continue
                self.heal(entry)
            if "kube-apiserver" not in self.held:
                missing = await asyncio.to_thread(cluster.missing_components, self.cfg)
                if missing:
                    entry = self.begin("exited", ", ".join(missing), "restarted by kwokctl")
                    try:
                        await asyncio.to_thread(cluster.restart_missing, self.cfg)
                    except (AssertionError, SandboxError) as exc:
                        print(f"[chaos {self.now():7.1f}s] {exc}", flush=True)
                        self.log.remove(entry)  # the next round retries
                    else:
                        self.heal(entry)
            await asyncio.sleep(1)

    def restore(self) -> list[str]:
        """Bring back everything a fault may have left broken; the errors, if any."""
        errors: list[str] = []
        steps: list[tuple[str, Callable[[], object]]] = [
            ("SIGCONT NATS", self._continue_nats),
            ("start NATS", lambda: nats_server.start(self.cfg)),
            ("start PostgreSQL", lambda: postgres.start(self.cfg)),
            ("start the control plane", lambda: cluster.restart_missing(self.cfg)),
        ]
        for what, step in steps:
            try:
                step()
            except Exception as exc:  # noqa: BLE001 - every step is tried; errors are reported
                errors.append(f"{what}: {exc}")
        return errors

    def _continue_nats(self) -> None:
        if self.paused_nats is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.paused_nats, signal.SIGCONT)
            self.paused_nats = None


def _leads(proc: ManagedProcess) -> bool:
    try:
        return proc.metric("craftplane_operator_leader") == 1
    except httpx.HTTPError:
        return False
