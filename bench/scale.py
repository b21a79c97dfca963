"""Scale (issue 7): N servers created through the gateway, end to end, against a plain script.

Platform: one tenant, an operator process and a gateway process (fresh database, private
nats-server with the operator's own stream config, so the stream holds only this run's events),
one WebSocket client subscribed to "all". N `POST /api/v1/servers` in a burst (bounded
concurrency), on enough kwok nodes (sized from a node's allocatable) and Service IPs
(sandbox.capacity). Reported: time until every server pod is Ready and every server is
`running` in the database; per-server p50/p99 from create to its pod Ready, to `running` in the
database (the timeline row's recorded_at) and at the WebSocket client; operator and gateway peak
RSS and CPU seconds; Kubernetes API requests/s of the operator
(craftplane_operator_api_requests); events/s through the stream (its message count over the
same time).

Baseline, in the same run: bench/operator_scale.py's plain script (the operator's own child
builders applied with the same client, no operator, no gateway) plus the time for kwok to make
the pods Ready. Both sides are timed to the same signal, each server pod's Ready condition
(bench/readiness.py); ratio platform/baseline of the time until all pods are Ready, and of the
platform's `running` in the database against the baseline's pods Ready (end to end). The
control plane's client limits (shared by both sides) and the host's load are printed with them.

The WebSocket client must never be dropped: the run fails (exit 1, naming the close code) if
the gateway closes it, during the burst or the churn.

Churn (--churn-minutes M, default 0): 10% of the servers per minute are stopped or started
(POST .../stop or .../start, evenly spread); p50/p99 of phase change -> WebSocket receipt, where
the phase change time is the event's `time` (set by the operator when it wrote the CR status),
and of request -> WebSocket status.

Another operator holding the Lease would do the work (or block ours): the run waits for the
Lease to be free and stops the sandbox's own operator, gateway and router first; those that
were running are started again at the end (apps.paused), also when the run fails.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import secrets
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import nats
import websockets

from bench.common import ProcessSampler, percentile
from bench.harness import (
    PrivateNats,
    Profile,
    fresh_database,
    host_load,
    mib,
    row,
    sandbox,
    scrape,
    start_gateway,
)
from bench.operator_scale import baseline
from bench.readiness import READY_SIGNAL, control_plane_limits, pods_ready, spread
from craftplane import tokens
from craftplane.contracts import events as contract
from craftplane.contracts.names import KIND
from craftplane.kube import KubeClient, KubeError
from craftplane.sandbox import apps, capacity
from craftplane.sandbox.config import SandboxConfig
from craftplane.testing.kubectl import Kubectl
from craftplane.testing.policies import ROOMY_POLICY, ROOMY_QUOTA, ensure_policy
from craftplane.testing.processes import ManagedProcess, console_script, free_port
from craftplane_operator.builders import build_children
from craftplane_operator.builders.context import ServerContext
from craftplane_operator.leader import lease_expired

SPEC = {"eula": True, "type": "PAPER", "version": "1.21.4", "storage": {"size": "1Gi"}}


@dataclass
class Watcher:
    """One WebSocket client, as the dashboard is: when each server first showed each status,
    and every event frame. It reads as fast as its process lets it (slowly while the same
    process runs the create burst). The gateway must never drop it: once closed (4008 "too
    slow", or any other close) it stops, and the run fails (``dropped``)."""

    first: dict[str, dict[str, float]] = field(default_factory=dict)  # status -> name -> time
    frames: list[tuple[float, float | None, str, str | None]] = field(default_factory=list)
    closes: list[tuple[int | None, str]] = field(default_factory=list)  # code, reason
    conn: Any = None
    task: asyncio.Task[None] | None = None

    async def start(self, port: int, token: str) -> None:
        # max_size=None: a snapshot of thousands of servers is larger than the library's
        # default 1 MiB frame limit (a browser has none).
        self.conn = await websockets.connect(
            f"ws://127.0.0.1:{port}/api/v1/ws",
            max_queue=None,
            max_size=None,
            ping_interval=None,
        )
        await self.conn.send(json.dumps({"type": "auth", "token": token}))
        assert json.loads(await self.conn.recv())["type"] == "ready"
        await self.conn.send(json.dumps({"type": "subscribe", "servers": "all"}))
        snapshot = json.loads(await self.conn.recv())
        assert snapshot["type"] == "snapshot", snapshot
        now = time.time()
        for server in snapshot["servers"]:
            if server.get("status"):
                self.first.setdefault(server["status"], {}).setdefault(server["name"], now)
        self.task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        try:
            async for text in self.conn:
                now = time.time()
                frame = json.loads(text)
                if frame.get("type") != "event":
                    continue
                server = frame["server"]
                status = server.get("status")
                name = server["name"]
                if status is not None:
                    self.first.setdefault(status, {}).setdefault(name, now)
                stamp = frame["event"].get("time")
                event_time = datetime.fromisoformat(stamp).timestamp() if stamp else None
                self.frames.append((now, event_time, name, status))
        except websockets.ConnectionClosed:
            pass
        # Only the gateway ends the connection while the run needs it (stop() cancels first).
        self.closes.append((self.conn.close_code, self.conn.close_reason or ""))

    def dropped(self) -> str | None:
        """Why the run must fail, if the gateway closed the client."""
        if not self.closes and not (self.task is not None and self.task.done()):
            return None
        if not self.closes:
            return f"the WebSocket client stopped: {self.task!r}"
        code, reason = self.closes[0]
        return (
            f"the gateway closed the benchmark's WebSocket client (code {code}"
            f"{': ' + reason if reason else ''}) after {len(self.frames)} event frames: "
            "a client that keeps reading must never be dropped"
        )

    async def stop(self) -> None:
        if self.task:
            self.task.cancel()
        await self.conn.close()


class PatientKube(KubeClient):
    """The benchmark's own client: waits out the shared API server restarting (other work's
    chaos tests do that) instead of failing the run, and counts how often it had to."""

    outages = 0

    async def request(self, method: str, path: str, **kwargs: Any) -> Any:
        for attempt in range(60):
            try:
                return await super().request(method, path, **kwargs)
            except KubeError as exc:
                if exc.status != 0 or attempt == 59:
                    raise
                if attempt == 0:
                    PatientKube.outages += 1
                    print(f"  API server unreachable ({exc}); waiting", flush=True)
                await asyncio.sleep(1)
        raise AssertionError("unreachable")


def server_cpu() -> str:
    """What one benchmark server's pod requests, from the operator's own builder."""
    server = ServerContext.from_body(
        {"metadata": {"name": "x", "namespace": "x", "uid": "x", "generation": 1}, "spec": SPEC}
    )
    sts = next(c for c in build_children(server, "x") if c["kind"] == "StatefulSet")
    container = sts["spec"]["template"]["spec"]["containers"][0]
    return str(container.get("resources", {}).get("requests", {}).get("cpu", "0"))


async def persistently(what: str, step: Any, patience: float = 120) -> Any:
    """Cleanup against a shared API server that other work restarts now and then."""
    deadline = time.monotonic() + patience
    while True:
        try:
            return await step()
        except KubeError as exc:
            if exc.status != 0 or time.monotonic() > deadline:
                print(f"  cleanup: could not {what}: {exc}", flush=True)
                return None
            await asyncio.sleep(2)


async def delete_baseline_namespaces(kube: KubeClient, before: set[str]) -> None:
    """operator_scale.baseline() leaves its namespace behind when it gives up."""

    async def step() -> None:
        for ns in await kube.list_objects("Namespace"):
            name = ns["metadata"]["name"]
            terminating = ns.get("status", {}).get("phase") == "Terminating"
            if name.startswith("bench-base-") and name not in before and not terminating:
                await kube.delete("Namespace", None, name)

    await persistently("delete the baseline namespace", step)


async def wait_for_lease(kube: KubeClient, patience: float) -> None:
    started = time.monotonic()
    announced = False
    while True:
        try:
            lease = await kube.get("Lease", apps.SYSTEM_NAMESPACE, "craftplane-operator")
        except KubeError as exc:  # the shared API server restarting under us
            print(f"  {exc}; retrying", flush=True)
            await asyncio.sleep(2)
            continue
        holder = (lease or {}).get("spec", {}).get("holderIdentity")
        if not lease or not holder or lease_expired(lease, datetime.now(UTC)):
            return
        if time.monotonic() - started > patience:
            raise SystemExit(
                f"another operator ({holder}) holds the Lease: it would do (or block) the work "
                "measured here; stop it and run again"
            )
        if not announced:
            print(f"  waiting for operator {holder} to give up the Lease ...", flush=True)
            announced = True
        await asyncio.sleep(2)


async def wait_namespaces_gone(kube: KubeClient, prefix: str, timeout: float) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        left = [
            ns
            for ns in await kube.list_objects("Namespace")
            if ns["metadata"]["name"].startswith(prefix)
            and ns.get("status", {}).get("phase") == "Terminating"
        ]
        if not left:
            break
        await asyncio.sleep(2)
    return time.monotonic() - started


def operator_process(cfg: SandboxConfig, nats_url: str) -> ManagedProcess:
    port = free_port()
    env = {
        **apps.operator_env(cfg),
        "NATS_URL": nats_url,
        "CRAFTPLANE_OPERATOR_HTTP_PORT": str(port),
        "CRAFTPLANE_OPERATOR_LOG_LEVEL": "WARNING",
        "CRAFTPLANE_OPERATOR_IDENTITY": f"bench-scale-{port}",
    }
    return ManagedProcess(
        name="bench-operator",
        argv=[console_script("craftplane-operator")],
        env=env,
        log_path=cfg.logs_dir / "bench-scale-operator.log",
        http_port=port,
    )


def burst_allowance(n: int) -> dict[str, str]:
    """The gateway's per-subject write limit (10/s, bursts of 20) is a guard against one
    abusive token; here one token creates every server at once, which the limit would refuse
    (429) past the first 20. Room for all N in one burst, and for the churn's stop/start."""
    return {
        "CRAFTPLANE_GATEWAY_WRITE_RATE": str(max(n, 10)),
        "CRAFTPLANE_GATEWAY_WRITE_BURST": str(max(n, 20)),
    }


async def bounded(concurrency: int, jobs: list[Any]) -> list[Any]:
    gate = asyncio.Semaphore(concurrency)

    async def run(job: Any) -> Any:
        async with gate:
            return await job

    return await asyncio.gather(*(run(job) for job in jobs))


async def running_in_db(conn: asyncpg.Connection, namespace: str) -> dict[str, float]:
    """When each server's first `running` timeline row was written (its recorded_at)."""
    records = await conn.fetch(
        """
        SELECT name, min(recorded_at) AS at FROM server_events
        WHERE namespace = $1 AND status = 'running' GROUP BY name
        """,
        namespace,
    )
    return {r["name"]: r["at"].timestamp() for r in records}


async def count_running(conn: asyncpg.Connection, namespace: str) -> int:
    try:
        return int(
            await conn.fetchval(
                "SELECT count(*) FROM servers WHERE namespace = $1 AND status = 'running'",
                namespace,
            )
        )
    except asyncpg.UndefinedTableError:
        return 0


async def stream_messages(url: str) -> int:
    nc = await nats.connect(url)
    try:
        return int((await nc.jetstream().stream_info(contract.STREAM_NAME)).state.messages)
    finally:
        await nc.close()


async def churn(
    http: httpx.AsyncClient,
    names: list[str],
    minutes: float,
    fraction: float,
    watcher: Watcher,
) -> dict[str, Any]:
    rng = random.Random(7)
    per_minute = max(1, round(fraction * len(names)))
    gap = 60 / per_minute
    actions = int(per_minute * minutes)
    stopped: set[str] = set()
    requests: list[tuple[str, str, float]] = []  # name, wanted status, time
    errors = 0
    print(
        f"churn: {per_minute} stop/start per minute for {minutes:g} min ({actions} actions)",
        flush=True,
    )
    frames_before = len(watcher.frames)
    started = time.monotonic()
    pending: set[asyncio.Task[None]] = set()

    async def act(name: str, verb: str, wanted: str) -> None:
        nonlocal errors
        requests.append((name, wanted, time.time()))
        resp = await http.post(f"/api/v1/servers/{name}/{verb}")
        if resp.status_code != 202:
            errors += 1

    for k in range(actions):
        delay = started + k * gap - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        name = rng.choice(names)
        if name in stopped:
            stopped.discard(name)
            task = asyncio.create_task(act(name, "start", "running"))
        else:
            stopped.add(name)
            task = asyncio.create_task(act(name, "stop", "stopped"))
        pending.add(task)
        task.add_done_callback(pending.discard)
        if (k + 1) % per_minute == 0:
            print(f"  churn minute {(k + 1) // per_minute} done", flush=True)
    await asyncio.gather(*pending)
    await asyncio.sleep(30)  # let the last changes arrive
    frames = watcher.frames[frames_before:]
    phase_latency = [
        (received - at) * 1000
        for received, at, _, status in frames
        if at is not None and status in ("running", "stopped", "deploying")
    ]
    # request -> the first frame after it showing the wanted status for that server
    reached: list[float] = []
    missing = 0
    by_name: dict[str, list[tuple[float, str | None]]] = {}
    for received, _, name, status in frames:
        by_name.setdefault(name, []).append((received, status))
    for name, wanted, at in requests:
        seen = next((r for r, s in by_name.get(name, []) if r >= at and s == wanted), None)
        if seen is None:
            missing += 1
        else:
            reached.append((seen - at) * 1000)
    return {
        "actions": actions,
        "errors": errors,
        "frames": len(frames),
        "phase_p50": percentile(phase_latency, 50),
        "phase_p99": percentile(phase_latency, 99),
        "phase_max": max(phase_latency, default=float("nan")),
        "request_p50": percentile(reached, 50),
        "request_p99": percentile(reached, 99),
        "missing": missing,
    }


async def platform(
    cfg: SandboxConfig, kube: KubeClient, args: argparse.Namespace
) -> dict[str, Any]:
    n = args.servers
    tenant = f"benchs{secrets.token_hex(4)}"
    # The default policy's quota (10 servers) is no room for a thousand.
    roomy = ensure_policy(Kubectl(cfg.kubeconfig, str(cfg.bin_dir / "kubectl")), ROOMY_POLICY,
                          {"quota": ROOMY_QUOTA})  # fmt: skip
    namespace = apps.ensure_tenant(cfg, tenant, roomy)
    key = tokens.generate_key()
    token = tokens.mint(tenant, key)
    names = [f"mc-{i:05d}" for i in range(n)]
    result: dict[str, Any] = {"namespace": namespace}
    async with (
        PrivateNats(cfg) as private,
        fresh_database(cfg, "bench_scale") as db,
        pods_ready(namespace) as ready,
    ):
        operator = operator_process(cfg, private.url).start()
        gateway = start_gateway(
            cfg,
            name="gateway-scale",
            nats_url=private.url,
            database_url=db,
            token_key=key,
            extra=burst_allowance(n),
        )
        conn: asyncpg.Connection | None = None
        watcher = Watcher()
        try:
            assert operator.proc is not None and gateway.proc is not None
            for _ in range(300):  # leadership, then the stream the operator creates
                if scrape(operator.http_port, "craftplane_operator_leader") == 1:
                    break
                await asyncio.sleep(0.2)
            else:
                raise SystemExit(f"the operator did not lead; see {operator.log_path}")
            conn = await asyncpg.connect(db)
            await watcher.start(gateway.http_port, token)
            op_sampler = ProcessSampler(operator.proc.pid)
            gw_sampler = ProcessSampler(gateway.proc.pid)
            op_sampler.start()
            gw_sampler.start()
            op_spy = Profile(operator.proc.pid, "operator-scale", args.profile)
            gw_spy = Profile(gateway.proc.pid, "gateway-scale", args.profile)
            op_spy.start()
            gw_spy.start()
            requests_before = scrape(operator.http_port, "craftplane_operator_api_requests")
            messages_before = await stream_messages(private.url)
            created: dict[str, float] = {}
            base_url = f"http://127.0.0.1:{gateway.http_port}"
            limits = httpx.Limits(max_connections=args.concurrency)
            async with httpx.AsyncClient(
                base_url=base_url,
                headers={"Authorization": f"Bearer {token}"},
                limits=limits,
                timeout=60,
            ) as http:

                async def create(name: str) -> int:
                    created[name] = time.time()
                    resp = await http.post("/api/v1/servers", json={"name": name, "spec": SPEC})
                    return resp.status_code

                started = time.time()
                statuses = await bounded(args.concurrency, [create(name) for name in names])
                burst = time.time() - started
                refused = [s for s in statuses if s != 202]
                if refused:
                    raise SystemExit(f"{len(refused)} creates refused: {sorted(set(refused))}")
                print(f"  {n} POSTs accepted in {burst:.1f}s ({n / burst:.0f}/s)", flush=True)

                last_print = time.monotonic()
                timeout = max(600.0, n * 2.0)
                while True:
                    in_db = await count_running(conn, namespace)
                    on_ws = len(watcher.first.get("running", {}))
                    if in_db >= n and on_ws >= n and len(ready.seen) >= n:
                        break
                    if time.monotonic() - last_print > 5:
                        print(
                            f"  pods Ready: {len(ready.seen)}/{n}; running: {in_db}/{n} in the "
                            f"database, {on_ws}/{n} on the WebSocket after "
                            f"{time.time() - started:.0f}s",
                            flush=True,
                        )
                        last_print = time.monotonic()
                    if time.time() - started > timeout:
                        raise SystemExit(f"only {in_db}/{n} running within {timeout:.0f}s")
                    for proc in (operator, gateway):
                        if not proc.alive:
                            raise SystemExit(f"{proc.name} exited; see {proc.log_path}")
                    if (why := watcher.dropped()) is not None:
                        raise SystemExit(f"FAILED: {why}")
                    await asyncio.sleep(0.25)
                if (why := watcher.dropped()) is not None:
                    raise SystemExit(f"FAILED: {why}")
                db_running = await running_in_db(conn, namespace)
                ws_running = watcher.first["running"]
                all_db = max(db_running.values()) - started
                all_ws = max(ws_running.values()) - started
                await op_sampler.stop()
                await gw_sampler.stop()
                op_spy.stop()
                gw_spy.stop()
                requests = scrape(operator.http_port, "craftplane_operator_api_requests")
                messages = await stream_messages(private.url) - messages_before
                db_lat = [db_running[k] - created[k] for k in names]
                ws_lat = [ws_running[k] - created[k] for k in names]
                pod_lat = spread(created, ready.seen)
                result.update(
                    {
                        "burst": burst,
                        "total_pods": max(ready.seen.values()) - started,
                        "pods_p50": percentile(pod_lat, 50),
                        "pods_p99": percentile(pod_lat, 99),
                        "total_db": all_db,
                        "total_ws": all_ws,
                        "db_p50": percentile(db_lat, 50),
                        "db_p99": percentile(db_lat, 99),
                        "ws_p50": percentile(ws_lat, 50),
                        "ws_p99": percentile(ws_lat, 99),
                        "op_rss": op_sampler.peak_rss,
                        "op_cpu": op_sampler.cpu_seconds,
                        "gw_rss": gw_sampler.peak_rss,
                        "gw_cpu": gw_sampler.cpu_seconds,
                        "requests": requests - requests_before,
                        "messages": messages,
                        "ws_frames": len(watcher.frames),
                        "ws_coalesced": scrape(
                            gateway.http_port, "craftplane_gateway_ws_changes_coalesced_total"
                        ),
                    }
                )
                if args.churn_minutes > 0:
                    op_sampler = ProcessSampler(operator.proc.pid)
                    gw_sampler = ProcessSampler(gateway.proc.pid)
                    op_sampler.start()
                    gw_sampler.start()
                    result["churn"] = await churn(
                        http, names, args.churn_minutes, args.churn_fraction, watcher
                    )
                    if (why := watcher.dropped()) is not None:
                        raise SystemExit(f"FAILED during the churn: {why}")
                    await op_sampler.stop()
                    await gw_sampler.stop()
                    result["churn"].update(
                        {
                            "op_rss": op_sampler.peak_rss,
                            "op_cpu": op_sampler.cpu_seconds,
                            "gw_rss": gw_sampler.peak_rss,
                            "gw_cpu": gw_sampler.cpu_seconds,
                        }
                    )
        finally:
            if watcher.conn is not None:
                await watcher.stop()
            if conn is not None:
                await conn.close()
            gateway.terminate()
            # CRs carry the operator's finalizer: delete them while it still runs
            print("cleanup: deleting the servers ...", flush=True)

            async def gone() -> None:
                await kube.request(
                    "DELETE",
                    f"/apis/craftplane.io/v1alpha1/namespaces/{namespace}/minecraftservers",
                )
                for _ in range(300):
                    if not await kube.list_objects(KIND, namespace) or not operator.alive:
                        break
                    await asyncio.sleep(1)

            await persistently("delete the servers", gone, patience=300)
            operator.terminate()
            await persistently(
                "delete the tenant namespace", lambda: kube.delete("Namespace", None, namespace)
            )
    return result


async def run(cfg: SandboxConfig, args: argparse.Namespace) -> None:
    n = args.servers
    apps.install_crds(cfg)
    kube = await PatientKube.connect()
    try:
        # Not ceil(n/100)+1: a kwok node has 32 CPUs and a server's pod requests 1, and the
        # pods of whatever else runs in the sandbox take their share.
        # The baseline's servers are deleted before the platform's are created.
        room = await asyncio.to_thread(capacity.ensure_room, cfg, n, server_cpu=server_cpu())
        nodes, per_node = room.nodes, room.servers_per_node
        print(
            f"scale benchmark: {n} servers through the gateway, {nodes} kwok nodes "
            f"({per_node} servers fit on one), {room.service_ips} Service IPs, "
            f"create concurrency {args.concurrency}",
            flush=True,
        )
        print(READY_SIGNAL, flush=True)
        print(control_plane_limits(cfg), flush=True)
        print(f"gateway write limit for the run: {burst_allowance(n)}", flush=True)
        await wait_for_lease(kube, args.lease_wait)
        base: dict[str, float] | None = None
        if not args.skip_baseline:
            print("baseline (plain script applying the same children, no operator) ...")
            existing = {ns["metadata"]["name"] for ns in await kube.list_objects("Namespace")}
            try:
                base = await baseline(kube, n, args.concurrency)
            finally:
                await delete_baseline_namespaces(kube, existing)
            waited = await wait_namespaces_gone(kube, "bench-base-", 600)
            print(f"  (baseline namespace gone after {waited:.0f}s)", flush=True)
            await wait_for_lease(kube, args.lease_wait)
        print("platform (POST /api/v1/servers -> operator -> NATS -> gateway) ...", flush=True)
        plat = await platform(cfg, kube, args)
    finally:
        await kube.close()
    report(cfg, n, base, plat)


def report(cfg: SandboxConfig, n: int, base: dict[str, float] | None, plat: dict[str, Any]) -> None:
    seconds = plat["total_db"]
    print()
    print(host_load())
    print(READY_SIGNAL)
    print(control_plane_limits(cfg))

    def cell(key: str, digits: int) -> str:
        return f"{base[key]:.{digits}f}" if base else "-"

    def both(db: str, ws: str, digits: int) -> str:
        return f"{plat[db]:.{digits}f} db / {plat[ws]:.{digits}f} ws"

    rate = f"({plat['requests'] / seconds:.0f}/s)"
    rows = [
        ("", "baseline", "platform"),
        ("time until all pods Ready (s)", cell("total", 1), f"{plat['total_pods']:.1f}"),
        ("per-server p50 to Ready (s)", cell("p50", 2), f"{plat['pods_p50']:.2f}"),
        ("per-server p99 to Ready (s)", cell("p99", 2), f"{plat['pods_p99']:.2f}"),
        ("time until all running (s)", "-", both("total_db", "total_ws", 1)),
        ("per-server p50 to running (s)", "-", both("db_p50", "ws_p50", 2)),
        ("per-server p99 to running (s)", "-", both("db_p99", "ws_p99", 2)),
        ("Kubernetes API requests", cell("requests", 0), f"{plat['requests']:.0f} {rate}"),
    ]
    for label, baseline_cell, platform_cell in rows:
        print(row(label, baseline_cell, platform_cell, width=22))
    print(f"gateway POST burst: {n} creates in {plat['burst']:.1f}s ({n / plat['burst']:.0f}/s)")
    print(
        f"stream: {plat['messages']} events in {seconds:.1f}s ({plat['messages'] / seconds:.0f}/s)"
    )
    print(
        f"operator peak RSS {mib(plat['op_rss']):.0f} MiB, CPU {plat['op_cpu']:.1f}s; "
        f"gateway peak RSS {mib(plat['gw_rss']):.0f} MiB, CPU {plat['gw_cpu']:.1f}s "
        f"({os.cpu_count()} cores)"
    )
    if PatientKube.outages:
        print(
            f"note: the API server was unreachable {PatientKube.outages} times during the run "
            "(restarted by other work?): the times above include those outages"
        )
    print(
        f"WebSocket client: {plat['ws_frames']} event frames, never dropped; "
        f"{plat['ws_coalesced']:.0f} changes merged into frames it had pending (it read more "
        "slowly than they came)"
    )
    if base:
        print(
            "ratio platform/baseline, time until all pods Ready (same signal): "
            f"{plat['total_pods'] / base['total']:.2f}; platform's running in the database "
            f"against the baseline's pods Ready (end to end): {seconds / base['total']:.2f}"
        )
    churned = plat.get("churn")
    if churned:
        print(
            f"churn: {churned['actions']} stop/start ({churned['errors']} refused), "
            f"{churned['frames']} WebSocket event frames"
        )
        print(
            f"  phase change -> WebSocket: p50 {churned['phase_p50']:.0f} ms, "
            f"p99 {churned['phase_p99']:.0f} ms, max {churned['phase_max']:.0f} ms"
        )
        print(
            f"  request -> WebSocket status: p50 {churned['request_p50']:.0f} ms, "
            f"p99 {churned['request_p99']:.0f} ms ({churned['missing']} never seen)"
        )
        print(
            f"  operator peak RSS {mib(churned['op_rss']):.0f} MiB, CPU {churned['op_cpu']:.1f}s; "
            f"gateway peak RSS {mib(churned['gw_rss']):.0f} MiB, CPU {churned['gw_cpu']:.1f}s"
        )


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench scale")
    parser.add_argument("--servers", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=16, help="concurrent creates")
    parser.add_argument("--churn-minutes", type=float, default=0)
    parser.add_argument("--churn-fraction", type=float, default=0.1, help="of servers per minute")
    parser.add_argument("--skip-baseline", action="store_true")
    parser.add_argument("--lease-wait", type=float, default=120, help="seconds")
    parser.add_argument(
        "--profile", type=Path, default=None, metavar="DIR", help="py-spy both processes into DIR"
    )
    args = parser.parse_args(argv)
    if args.servers > ROOMY_QUOTA["servers"]:
        parser.error(
            f"--servers: the tenant's quota ({ROOMY_POLICY}) holds {ROOMY_QUOTA['servers']}"
        )
    cfg = sandbox()
    # The sandbox's own operator would compete with the one measured; whatever of it ran is
    # started again afterwards, also when the run fails or is interrupted.
    with apps.paused(cfg, report=print):
        asyncio.run(run(cfg, args))
