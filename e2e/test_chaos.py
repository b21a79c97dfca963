"""Chaos: servers churning while the platform's parts fail at random moments, then proof that
nothing was lost, doubled or left behind.

Two operator replicas (leader election) and two gateway replicas (one shared durable consumer)
run as real processes; WebSocket clients watch both gateways. While servers are stopped and
started on a schedule, the harness SIGKILLs the operator leader and gateway replicas, stops and
starts NATS and PostgreSQL, restarts the kube-apiserver once and pauses NATS for
longer than JetStream's duplicate window. Every fault kind happens several times, at moments
drawn from a seeded RNG (the seed is printed; CRAFTPLANE_CHAOS_SEED replays a run). Processes
that exit on their own (an operator that lost its lease while the API server was away) are
restarted the way a kubelet would, and that is reported too.

Then churn stops and, once the system has settled:
- every CR is in the phase its spec asks for, and its projected status (servers table) matches;
- the stream's last phase event per server matches the CR phase;
- every server has exactly one StatefulSet, Service, ConfigMap, Secret and PVC;
- the timeline (server_events) holds every stream event once, and no stream message twice;
- every WebSocket client (connected throughout, or reconnected with a fresh snapshot) holds the
  state the database holds;
and the time from the last fault being healed to all of that must stay within two
reconciliation intervals (the operators' CRAFTPLANE_OPERATOR_RESYNC_SECONDS).

The short form (100 servers, every fault kind including one NATS pause) runs in `make test`;
the long form (300 servers, more of each fault) runs with --long
(`make test PYTEST_ARGS="--long e2e/test_chaos.py"`).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import asyncpg
import httpx
import nats
import pytest
from nats.js.api import ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError
from websockets.exceptions import WebSocketException

from craftplane.contracts import events as contract
from craftplane.contracts.phases import PROJECTED_STATUS
from craftplane.sandbox import capacity, cluster, nats_server, postgres, procs
from craftplane.sandbox.config import SandboxConfig
from craftplane.testing.gateway import Tenant, WsClient, connect_ws, gateway_process
from craftplane.testing.kubectl import Kubectl
from craftplane.testing.platform import Platform
from craftplane.testing.plugin import operator_process, server_manifest
from craftplane.testing.processes import ManagedProcess
from craftplane.testing.servers import CHILD_KINDS
from craftplane.testing.wait import ConditionTimeout, wait_for

pytestmark = pytest.mark.e2e

# CR phase -> projected status, as the contract maps it.
PROJECTED = {phase.value: status.value for phase, status in PROJECTED_STATUS.items()}
LEASE = ("craftplane-system", "craftplane-operator")
RESYNC_ENV = "CRAFTPLANE_OPERATOR_RESYNC_SECONDS"


@dataclass(frozen=True)
class Profile:
    servers: int
    window: float  # seconds of churn during which the faults are injected
    churn_every: float  # a round of stop/start toggles every this many seconds ...
    churn_batch: int  # ... on this many random servers
    faults: dict[str, int]  # fault kind -> how many times
    nats_pause: float = 0.0  # seconds NATS is SIGSTOPped (nats-pause faults)


SHORT = Profile(
    servers=100,
    window=200,
    churn_every=2.0,
    churn_batch=3,
    faults={
        "operator-leader": 2,
        "gateway": 2,
        "nats": 2,
        "postgres": 2,
        "apiserver": 1,
        "nats-pause": 1,
    },
    nats_pause=contract.DUPLICATE_WINDOW_SECONDS + 15,
)
LONG = Profile(
    servers=300,
    window=420,
    churn_every=1.5,
    churn_batch=6,
    faults={
        "operator-leader": 4,
        "gateway": 4,
        "nats": 3,
        "postgres": 3,
        "apiserver": 1,
        "nats-pause": 1,
    },
    nats_pause=contract.DUPLICATE_WINDOW_SECONDS + 15,
)


# -- talking to the platform -------------------------------------------------------------------


async def kubectl_async(kubectl: Kubectl, *args: str, timeout: float = 20) -> bool:
    """Run kubectl without blocking the event loop; True when it succeeded."""
    proc = await asyncio.create_subprocess_exec(
        kubectl.binary,
        *args,
        env={**os.environ, "KUBECONFIG": str(kubectl.kubeconfig)},
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        return await asyncio.wait_for(proc.wait(), timeout) == 0
    except TimeoutError:
        proc.kill()
        await proc.wait()
        return False


async def stream_position(nats_url: str) -> int:
    """The stream sequence the next message will get."""
    nc = await nats.connect(nats_url)
    try:
        info = await nc.jetstream().stream_info(contract.STREAM_NAME)
        return int(info.state.last_seq) + 1
    except NotFoundError:
        return 1
    finally:
        await nc.close()


async def stream_events_since(
    nats_url: str, start_seq: int, namespace: str
) -> list[tuple[int, contract.Event]]:
    """(stream sequence, event) for every event about `namespace` from `start_seq` on."""
    nc = await nats.connect(nats_url, connect_timeout=3, max_reconnect_attempts=1)
    found: list[tuple[int, contract.Event]] = []
    try:
        js = nc.jetstream()
        last = int((await js.stream_info(contract.STREAM_NAME)).state.last_seq)
        if last < start_seq:
            return found
        sub = await js.subscribe(
            f"{contract.SUBJECT_PREFIX}.>",
            stream=contract.STREAM_NAME,
            ordered_consumer=True,
            config=ConsumerConfig(
                deliver_policy=DeliverPolicy.BY_START_SEQUENCE, opt_start_seq=start_seq
            ),
        )
        try:
            while True:
                msg = await sub.next_msg(timeout=10)
                seq = msg.metadata.sequence.stream
                with contextlib.suppress(contract.InvalidEvent):
                    event = contract.decode(msg.data)
                    if isinstance(event, contract.Event) and event.server.namespace == namespace:
                        found.append((seq, event))
                if seq >= last:
                    break
        finally:
            await sub.unsubscribe()
    finally:
        await nc.close()
    return found


async def projected_rows(dsn: str, namespace: str) -> dict[str, dict[str, Any]]:
    conn = await asyncpg.connect(dsn, timeout=5)
    try:
        records = await conn.fetch(
            "SELECT uid, name, status, phase FROM servers"
            " WHERE namespace = $1 AND status <> 'deleted'",
            namespace,
        )
    finally:
        await conn.close()
    by_name: dict[str, dict[str, Any]] = {}
    for record in records:
        if record["name"] in by_name:
            by_name[f"{record['name']} (second row, uid {record['uid']})"] = dict(record)
        else:
            by_name[record["name"]] = dict(record)
    return by_name


# -- a dashboard-like WebSocket client ---------------------------------------------------------

# How a WebSocket connection can end or fail to start: refused, closed (normally or not), silent
# for too long, or an unexpected first frame.
CONNECTION_ENDED = (OSError, TimeoutError, AssertionError, ValueError, KeyError, WebSocketException)


class LiveView:
    """Holds every server's latest state as a browser would: a snapshot, then event frames
    merged by name. Whenever the connection ends (gateway killed, dropped as too slow ...) it
    reconnects and subscribes again, which brings a fresh snapshot."""

    def __init__(self, label: str, gateway: ManagedProcess, token: str) -> None:
        self.label = label
        self.gateway = gateway
        self.token = token
        self.servers: dict[str, dict[str, Any]] = {}
        self.synced = False  # holds a snapshot of the current connection
        self.connects = 0
        self.snapshots = 0
        self.events = 0
        self.snapshot_times: list[datetime] = []
        self._task: asyncio.Task[None] | None = None
        self._client: WsClient | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"ws-{self.label}")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(BaseException):
                await self._task
        if self._client is not None:
            with contextlib.suppress(Exception):
                await self._client.conn.close()

    async def _run(self) -> None:
        while True:
            try:
                client = await connect_ws(self.gateway.http_port, self.token)
            except CONNECTION_ENDED:  # refused while the gateway is down, closed during auth
                await asyncio.sleep(0.5)
                continue
            self._client = client
            self.connects += 1
            try:
                await self._read(client)
            except CONNECTION_ENDED:  # the gateway died, a database error, too slow
                pass
            finally:
                self.synced = False
                with contextlib.suppress(Exception):
                    await client.conn.close()
            await asyncio.sleep(0.5)

    async def _read(self, client: WsClient) -> None:
        while True:
            # Metrics frames come every few seconds once subscribed: a long silence is a
            # connection that is dead without having been closed.
            frame = await client.next(timeout=45)
            client.frames.clear()
            kind = frame.get("type")
            if kind == "snapshot":
                self.servers = {s["name"]: dict(s) for s in frame["servers"]}
                self.synced = True
                self.snapshots += 1
                self.snapshot_times.append(datetime.now(UTC))
            elif kind == "event":
                self.events += 1
                server = frame["server"]
                self.servers.setdefault(server["name"], {}).update(server)
            elif kind == "error" and frame.get("code") == "unavailable":
                await asyncio.sleep(1)  # the database is away: ask again
                await client.send({"type": "subscribe", "servers": "all"})


# -- the fault injector ------------------------------------------------------------------------


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
        restarted = await asyncio.to_thread(start_control_plane, self.cfg)
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
                missing = await asyncio.to_thread(missing_components, self.cfg)
                if missing:
                    entry = self.begin("exited", ", ".join(missing), "restarted by kwokctl")
                    try:
                        await asyncio.to_thread(start_control_plane, self.cfg)
                    except AssertionError as exc:
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
            ("start the control plane", lambda: start_control_plane(self.cfg)),
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


def component_pidfiles(cfg: SandboxConfig) -> list[Any]:
    return sorted((cluster.cluster_dir(cfg) / "pids").glob("*.pid"))


def missing_components(cfg: SandboxConfig) -> list[str]:
    return [p.stem for p in component_pidfiles(cfg) if procs.read_pid(p) is None]


def start_control_plane(cfg: SandboxConfig) -> list[str]:
    """`kwokctl start cluster` (it starts the components that are not running), then wait for
    /readyz; the components it had to start."""
    missing = missing_components(cfg)
    if not missing and cluster.healthy(cfg):
        return []
    for name in missing:
        # A killed component can linger as a zombie until PID 1 reaps it, and a zombie still
        # answers kill(0): kwokctl would take it for running and not start it again.
        (cluster.cluster_dir(cfg) / "pids" / f"{name}.pid").unlink(missing_ok=True)
    result = subprocess.run(
        [str(cfg.bin_dir / "kwokctl"), "start", "cluster", "--name", cfg.cluster_name],
        env=cluster.tool_env(cfg),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if result.returncode != 0:
        raise AssertionError(f"kwokctl start cluster failed: {result.stderr.strip()[-2000:]}")
    wait_for(lambda: cluster.healthy(cfg), timeout=120, what="kube-apiserver /readyz")
    # A restarted scheduler or controller-manager would wait for its dead predecessor's lease
    # to expire; free it (a live holder simply re-creates it on its next renewal).
    leased = [c for c in missing if c in ("kube-scheduler", "kube-controller-manager")]
    if leased:
        cluster.kubectl(cfg, "delete", "lease", "-n", "kube-system", *leased, "--ignore-not-found")
    return missing


def lease_holder(kubectl: Kubectl) -> str | None:
    try:
        lease = kubectl.get("lease", LEASE[1], LEASE[0])
    except AssertionError as exc:  # the API server is away
        return f"unknown ({str(exc)[:80]})"
    holder: str | None = ((lease or {}).get("spec") or {}).get("holderIdentity")
    return holder


# -- churn -------------------------------------------------------------------------------------


@dataclass
class Churn:
    kubectl: Kubectl
    namespace: str
    names: list[str]
    rng: random.Random
    stopped: dict[str, bool] = field(default_factory=dict)
    toggles: int = 0
    failed: int = 0

    async def run(self, every: float, batch: int, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await asyncio.gather(*(self.toggle(n) for n in self.rng.sample(self.names, batch)))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), every)

    async def toggle(self, name: str) -> None:
        wanted = not self.stopped.get(name, False)
        ok = await kubectl_async(
            self.kubectl,
            "patch",
            "minecraftserver",
            name,
            "-n",
            self.namespace,
            "--type=merge",
            "-p",
            f'{{"spec": {{"stopped": {"true" if wanted else "false"}}}}}',
            "--request-timeout=10s",
        )
        if ok:
            self.stopped[name] = wanted
            self.toggles += 1
        else:
            self.failed += 1  # the API server is away: a user would retry later


# -- the end state -----------------------------------------------------------------------------


@dataclass
class Verdict:
    problems: list[str]
    crs: dict[str, dict[str, Any]]
    rows: dict[str, dict[str, Any]]

    def __bool__(self) -> bool:
        return not self.problems


def _sample(items: list[str], limit: int = 8) -> str:
    more = f" ... and {len(items) - limit} more" if len(items) > limit else ""
    return "; ".join(items[:limit]) + more


async def check(
    *,
    kubectl: Kubectl,
    namespace: str,
    names: list[str],
    dsn: str,
    views: list[LiveView],
    nats_url: str,
    start_seq: int,
    deep: bool,
) -> Verdict:
    """Every promise of the end state; `deep` adds the stream, the children and the timeline."""
    problems: list[str] = []
    listing = await asyncio.to_thread(kubectl.json, "get", "minecraftservers", "-n", namespace)
    crs = {item["metadata"]["name"]: item for item in listing["items"]}
    if sorted(crs) != sorted(names):
        problems.append(f"CRs {sorted(set(crs) ^ set(names))} missing or unexpected")
    unsettled = []
    for name, cr in crs.items():
        status = cr.get("status") or {}
        wanted = "Stopped" if (cr.get("spec") or {}).get("stopped") else "Running"
        generation = cr["metadata"].get("generation")
        if status.get("phase") != wanted or status.get("observedGeneration") != generation:
            unsettled.append(
                f"{name}: {status.get('phase')} (gen {status.get('observedGeneration')}/"
                f"{generation}), spec wants {wanted}"
            )
    if unsettled:
        problems.append(f"{len(unsettled)} CRs not settled: {_sample(unsettled)}")
    phases = {name: (cr.get("status") or {}).get("phase") for name, cr in crs.items()}

    rows = await projected_rows(dsn, namespace)
    wrong_rows = [
        f"{name}: row {row['status'] if row else None}, CR {phases.get(name)}"
        for name in sorted(set(rows) | set(crs))
        if (row := rows.get(name)) is None or row["status"] != PROJECTED.get(phases.get(name) or "")
    ]
    if wrong_rows:
        problems.append(f"{len(wrong_rows)} projected statuses differ: {_sample(wrong_rows)}")

    for view in views:
        if not view.synced:
            problems.append(f"WebSocket client {view.label} holds no snapshot")
            continue
        differ = [
            f"{name}: ws {(view.servers.get(name) or {}).get('status')}, db {row['status']}"
            for name, row in rows.items()
            if (view.servers.get(name) or {}).get("status") != row["status"]
        ]
        extra = sorted(set(view.servers) - set(rows))
        if differ or extra:
            problems.append(
                f"WebSocket client {view.label} differs from the database: "
                f"{_sample(differ + [f'{n}: not in the database' for n in extra])}"
            )
    if problems or not deep:
        return Verdict(problems, crs, rows)

    events = await stream_events_since(nats_url, start_seq, namespace)
    last_phase: dict[str, str] = {}
    for _, event in events:
        assert event.server is not None
        cr_uid = crs.get(event.server.name or "", {}).get("metadata", {}).get("uid")
        if event.phase is not None and event.server.name and event.server.uid == cr_uid:
            last_phase[event.server.name] = event.phase.value
    stale = [
        f"{name}: stream {last_phase.get(name)}, CR {phase}"
        for name, phase in phases.items()
        if last_phase.get(name) != phase
    ]
    if stale:
        problems.append(f"{len(stale)} servers' last stream event differs: {_sample(stale)}")

    counts: dict[str, Counter[str]] = {}
    for kind in CHILD_KINDS:
        items = (await asyncio.to_thread(kubectl.json, "get", kind, "-n", namespace))["items"]
        counts[kind] = Counter(
            (item["metadata"].get("labels") or {}).get("craftplane.io/server") for item in items
        )
    wrong_children = [
        f"{name}: {kind} x{counts[kind][name]}"
        for name in names
        for kind in CHILD_KINDS
        if counts[kind][name] != 1
    ]
    if wrong_children:
        problems.append(f"children not exactly one each: {_sample(wrong_children)}")

    conn = await asyncpg.connect(dsn, timeout=5)
    try:
        timeline = await conn.fetch(
            "SELECT event_id, stream_seq FROM server_events WHERE namespace = $1", namespace
        )
    finally:
        await conn.close()
    ids = Counter(r["event_id"] for r in timeline)
    seqs = Counter(r["stream_seq"] for r in timeline if r["stream_seq"] is not None)
    doubled = [f"event {i[:12]} x{n}" for i, n in ids.items() if n > 1]
    doubled += [f"stream message {s} x{n}" for s, n in seqs.items() if n > 1]
    if doubled:
        problems.append(f"timeline rows doubled: {_sample(doubled)}")
    lost = sorted({e.id for _, e in events if not e.type.is_sync} - set(ids))
    if lost:
        problems.append(f"{len(lost)} stream events not in the timeline: {_sample(lost)}")
    return Verdict(problems, crs, rows)


async def explain_ws(dsn: str, namespace: str, views: list[LiveView]) -> None:
    """For WebSocket clients that differ from the database: when they last got a snapshot, and
    when the servers' latest states were published and recorded."""
    rows = await projected_rows(dsn, namespace)
    conn = await asyncpg.connect(dsn, timeout=5)
    try:
        for view in views:
            differ = [
                n
                for n, r in rows.items()
                if (view.servers.get(n) or {}).get("status") != r["status"]
            ]
            if not differ:
                continue
            snaps = [t.strftime("%H:%M:%S.%f")[:-3] for t in view.snapshot_times[-3:]]
            print(f"ws {view.label}: {len(differ)} differ; last snapshots at {snaps}")
            for name in differ[:3]:
                print(
                    f"  {name}: ws {view.servers.get(name, {}).get('status')}, db {rows[name]['status']}"
                )
                for r in await conn.fetch(
                    "SELECT type, status, stream_seq, event_time, recorded_at FROM server_events"
                    " WHERE uid = $1 ORDER BY seq DESC LIMIT 3",
                    rows[name]["uid"],
                ):
                    print(
                        f"    {r['type']:<16} {r['status']!s:<10} seq {r['stream_seq']!s:<6}"
                        f" published {r['event_time']:%H:%M:%S.%f} recorded {r['recorded_at']:%H:%M:%S.%f}"
                    )
    finally:
        await conn.close()


def report(
    seed: int,
    profile: Profile,
    chaos: Chaos,
    churn: Churn,
    views: list[LiveView],
    settle_from: float,
    converged: float | None,
    bound: float,
) -> None:
    print(f"\n=== chaos: seed {seed}, {profile.servers} servers, window {profile.window:.0f}s")
    print(f"{'injected':>9} {'healed':>8}  {'kind':<16} {'target':<32} note")
    for e in sorted(chaos.log, key=lambda e: e.at):
        healed = f"{e.healed:8.1f}" if e.healed is not None else "       -"
        print(f"{e.at:9.1f} {healed}  {e.kind:<16} {e.target:<32} {e.note}")
    kinds = Counter(e.kind for e in chaos.log)
    print(f"faults: {dict(kinds)}; churn: {churn.toggles} toggles, {churn.failed} refused")
    for view in views:
        print(
            f"ws {view.label}: {view.connects} connections, {view.snapshots} snapshots, "
            f"{view.events} event frames"
        )
    took = f"{converged:.1f}s" if converged is not None else "never"
    print(
        f"last fault healed / churn stopped at {settle_from:.1f}s; converged after {took} "
        f"(bound: 2 reconciliation intervals = {bound:.0f}s)"
    )


# -- the test ----------------------------------------------------------------------------------


async def run_chaos(
    profile: Profile,
    *,
    platform: Platform,
    kubectl: Kubectl,
    operator: ManagedProcess,
    gateway: ManagedProcess,
    gateway_db: str,
    token_key: str,
    consumer: str,
    tenant: Tenant,
) -> None:
    if platform.sandbox is None:
        pytest.skip("injecting faults needs the sandbox's own NATS, PostgreSQL and control plane")
    cfg = platform.sandbox
    seed = int(os.environ.get("CRAFTPLANE_CHAOS_SEED") or random.SystemRandom().randrange(10**6))
    print(f"\nchaos seed: {seed} (replay with CRAFTPLANE_CHAOS_SEED={seed})", flush=True)
    namespace = tenant.namespace
    names = [f"chaos-{i:03d}" for i in range(profile.servers)]

    standby = operator_process(platform, 1)
    second = gateway_process(
        platform, index=1, database_url=gateway_db, token_key=token_key, consumer=consumer
    )
    operators, gateways = [operator, standby], [gateway, second]
    chaos = Chaos(cfg, kubectl, operators, gateways, random.Random(seed), profile.nats_pause)
    churn = Churn(kubectl, namespace, names, random.Random(seed + 1))
    views: list[LiveView] = []
    tasks: list[asyncio.Task[None]] = []
    resync = max(float(p.env.get(RESYNC_ENV, "60")) for p in operators)
    bound = 2 * resync
    settle_from = 0.0
    converged: float | None = None
    reported = False
    try:
        standby.start()
        second.start()
        mine = {p.env["CRAFTPLANE_OPERATOR_IDENTITY"] for p in operators}

        def my_leader() -> str | None:
            holder = lease_holder(kubectl)
            return holder if holder in mine else None

        holder = wait_for(
            my_leader,
            timeout=40,
            what=f"the operator lease held by one of {sorted(mine)} (another operator is "
            "running against this cluster?)",
        )
        print(f"operator leader: {holder}", flush=True)
        start_seq = await stream_position(platform.nats_url)

        views = [LiveView(f"{gw.name}/{i}", gw, tenant.token) for gw in gateways for i in range(2)]
        for view in views:
            view.start()

        await asyncio.to_thread(capacity.ensure_room, cfg, len(names))

        created = time.monotonic()
        for i in range(0, len(names), 25):
            kubectl.apply("---\n".join(server_manifest(n) for n in names[i : i + 25]), namespace)

        phases: Counter[str | None] = Counter()

        def all_running() -> bool:
            items = kubectl.json("get", "minecraftservers", "-n", namespace)["items"]
            phases.clear()
            phases.update((item.get("status") or {}).get("phase") for item in items)
            return phases["Running"] == len(names)

        try:
            await asyncio.to_thread(
                wait_for, all_running, timeout=60 + 1.5 * len(names), interval=1, what="Running"
            )
        except ConditionTimeout as exc:
            raise AssertionError(f"{exc}; phases: {dict(phases)}") from exc
        print(f"{len(names)} servers Running after {time.monotonic() - created:.1f}s", flush=True)

        # Churn, with the faults at random moments in it.
        chaos.t0 = time.monotonic()
        plan = chaos.schedule(profile)
        print("plan: " + ", ".join(f"{kind}@{at:.0f}s" for at, kind in plan), flush=True)
        stop_churn = asyncio.Event()
        tasks.append(asyncio.create_task(chaos.supervise(), name="supervisor"))
        tasks.append(
            asyncio.create_task(
                churn.run(profile.churn_every, profile.churn_batch, stop_churn), name="churn"
            )
        )
        by_kind: dict[str, list[float]] = {}
        for at, kind in plan:
            by_kind.setdefault(kind, []).append(at)
        faults = [
            asyncio.create_task(chaos.run_kind(kind, offsets), name=f"fault-{kind}")
            for kind, offsets in by_kind.items()
        ]
        tasks += faults
        await asyncio.gather(*faults)
        # The clock starts when the last fault is healed: churn stops then too, so what is
        # measured is the recovery (and the last toggles), not churn still going on.
        stop_churn.set()
        # Let the last toggles' kubectl calls finish before the clock starts.
        await asyncio.wait_for(tasks[1], timeout=30)
        # A process that died of the last fault is revived by the supervisor: wait for that.
        await asyncio.to_thread(
            wait_for,
            lambda: (
                not chaos.unhealed
                and all(p.alive for p in [*operators, *gateways])
                and not missing_components(cfg)
            ),
            timeout=60,
            what="every fault healed",
        )
        settle_from = chaos.now()
        last_heal = chaos.last_heal
        print(f"churn stopped at {settle_from:.1f}s; last heal at {last_heal:.1f}s", flush=True)

        # Settle: poll the whole end state until it holds.
        deadline = time.monotonic() + max(4 * bound, 180)
        verdict: Verdict | None = None
        last_print = 0.0
        while time.monotonic() < deadline:
            observed_at = chaos.now()
            shallow = await check(
                kubectl=kubectl, namespace=namespace, names=names, dsn=gateway_db, views=views,
                nats_url=platform.nats_url, start_seq=start_seq, deep=False,
            )  # fmt: skip
            if shallow:
                verdict = await check(
                    kubectl=kubectl, namespace=namespace, names=names, dsn=gateway_db,
                    views=views, nats_url=platform.nats_url, start_seq=start_seq, deep=True,
                )  # fmt: skip
                if verdict:
                    converged = observed_at - settle_from
                    break
            else:
                verdict = shallow
            if time.monotonic() - last_print >= 3:
                last_print = time.monotonic()
                holder = await asyncio.to_thread(lease_holder, kubectl)
                print(
                    f"[settle +{observed_at - settle_from:5.1f}s] leader {holder}; "
                    + " | ".join(p[:160] for p in verdict.problems),
                    flush=True,
                )
            await asyncio.sleep(1)
        report(seed, profile, chaos, churn, views, settle_from, converged, bound)
        reported = True
        if verdict is not None and not verdict:
            await explain_ws(gateway_db, namespace, views)
        assert verdict is not None and verdict, (
            f"not converged {max(4 * bound, 180):.0f}s after the last fault (seed {seed}): "
            + " | ".join(verdict.problems if verdict is not None else ["nothing checked"])
        )
        assert converged is not None
        assert converged <= bound, (
            f"converged only {converged:.1f}s after the last fault, more than two "
            f"reconciliation intervals ({bound:.0f}s); seed {seed}"
        )
        kinds = {e.kind for e in chaos.log}
        assert set(profile.faults) <= kinds, f"faults not injected: {set(profile.faults) - kinds}"
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if not reported and chaos.log:
            report(seed, profile, chaos, churn, views, settle_from, converged, bound)
        for view in views:
            await view.stop()
        errors = chaos.restore()
        for proc in (operator, gateway):
            if not proc.alive:
                try:
                    proc.start()
                except AssertionError as exc:
                    errors.append(str(exc))
        standby.terminate()
        second.terminate()
        # The operator finalizes the servers; the namespace goes with the tenant fixture.
        kubectl.run(
            "delete", "minecraftservers", "--all", "-n", namespace, "--wait=false", check=False
        )
        with contextlib.suppress(ConditionTimeout):
            wait_for(
                lambda: not kubectl.json("get", "minecraftservers", "-n", namespace)["items"],
                timeout=90,
                interval=2,
                what="chaos servers deleted",
            )
        assert not errors, f"could not restore the platform: {errors}"


@pytest.mark.timeout(900)
async def test_chaos_short(
    platform: Platform,
    kubectl: Kubectl,
    operator: ManagedProcess,
    gateway: ManagedProcess,
    gateway_db: str,
    token_key: str,
    consumer: str,
    tenant_a: Tenant,
) -> None:
    await run_chaos(
        SHORT,
        platform=platform,
        kubectl=kubectl,
        operator=operator,
        gateway=gateway,
        gateway_db=gateway_db,
        token_key=token_key,
        consumer=consumer,
        tenant=tenant_a,
    )


@pytest.mark.slow
@pytest.mark.timeout(2400)
async def test_chaos_long(
    platform: Platform,
    kubectl: Kubectl,
    operator: ManagedProcess,
    gateway: ManagedProcess,
    gateway_db: str,
    token_key: str,
    consumer: str,
    tenant_a: Tenant,
) -> None:
    await run_chaos(
        LONG,
        platform=platform,
        kubectl=kubectl,
        operator=operator,
        gateway=gateway,
        gateway_db=gateway_db,
        token_key=token_key,
        consumer=consumer,
        tenant=tenant_a,
    )
