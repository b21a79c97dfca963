"""Fan-out: N WebSocket clients of one tenant subscribed to "all", events at a steady rate.

Each event (k8s.running for one of the tenant's servers, round robin, revisions increasing)
carries its publish time (time.time_ns()) in `message`. A publisher process of its own publishes
them to JetStream at --rate per second for --seconds; every client records, per frame, the time
from publish to receipt. Reported: p50/p99/max latency over every (client, event), frames
received vs expected (events published x clients still connected), clients dropped, gateway peak
RSS and CPU, and the client process's own CPU (when it nears 100% of a core, the client, not the
server, sets the latency).

Platform: a gateway process (fresh database, private nats-server with the operator's stream
config; production intervals, so metrics frames every 30 s, but no drift check during the run:
the tenant's namespace, made as `craftplane tenant create` makes one since the gateway serves no
other, has no MinecraftServers, and drift reconciliation would mark the synthetic rows deleted).

Baseline, in the same run, same clients, same publisher, same events: a minimal WebSocket
fan-out server written here (its own process: one NATS *core* subscription to craftplane.>,
each message sent unchanged to every connected client with websockets.broadcast). The difference
is what the gateway adds: JetStream ordered consumer, event decoding, the hub's per-client queues
and order checks, per-client JSON encoding.

The gateway, the baseline server and the publisher each run in a session of their own: with
the kernel's scheduler autogroups, a process left in the benchmark's session would share one
CPU share with the clients.

Both servers negotiate permessage-deflate with the (websockets) clients, as browsers do; pass
--no-compression to measure without it.

A gateway client that falls behind gets one frame per server merging the changes it missed
(``coalesced``: how many); such a frame counts as that many events received, with the latency
of its newest. The run fails (exit 1) when either server closed any of its clients: a client
that reads must never be dropped.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import secrets
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import nats
import psutil
import websockets

from bench.common import ProcessSampler, percentile
from bench.harness import (
    ROOT,
    PrivateNats,
    Profile,
    create_stream,
    fresh_database,
    host_load,
    mib,
    raise_fd_limit,
    row,
    sandbox,
    scrape,
    start_gateway,
)
from craftplane import tokens
from craftplane.contracts import events as contract
from craftplane.contracts.events import Event, EventType, ServerRef
from craftplane.contracts.status import Phase
from craftplane.sandbox import apps, cluster
from craftplane.testing.processes import free_port

MARK = '"message":"'
COALESCED = '"coalesced":'


# -- the publisher (a process of its own) --------------------------------------------------------


async def _publish(spec: dict[str, Any]) -> None:
    nc = await nats.connect(spec["url"])
    js = nc.jetstream(timeout=10)
    uids = [f"{spec['tenant']}-{i:05d}-uid" for i in range(spec["servers"])]
    total = int(spec["rate"] * spec["seconds"])
    revision = spec["revision"]
    started = time.monotonic()
    late = 0.0
    for k in range(total):
        target = started + k / spec["rate"]
        delay = target - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        else:
            late = max(late, -delay)
        i = k % spec["servers"]
        revision += 1
        event = Event(
            type=EventType.K8S_RUNNING,
            server=ServerRef(
                uid=uids[i],
                namespace=spec["namespace"],
                name=f"mc-{i:05d}",
                tenant=spec["tenant"],
            ),
            phase=Phase.RUNNING,
            generation=1,
            address=f"mc-{i:05d}.{spec['namespace']}.svc.cluster.local",
            port=25565,
            players_online=k % 20,
            players_max=20,
            revision=str(revision),
            message=str(time.time_ns()),
            time=datetime.now(UTC),
        )
        await js.publish(
            contract.subject_for(event), contract.encode(event), headers={"Nats-Msg-Id": event.id}
        )
    await nc.close()
    print(json.dumps({"published": total, "seconds": time.monotonic() - started, "late": late}))


def publisher_main() -> None:
    asyncio.run(_publish(json.loads(sys.argv[1])))


async def run_publisher(spec: dict[str, Any]) -> dict[str, Any]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        "from bench.fanout import publisher_main; publisher_main()",
        json.dumps(spec),
        cwd=ROOT,
        start_new_session=True,  # a scheduler autogroup of its own, as the gateway has
        stdout=asyncio.subprocess.PIPE,
    )
    out, _ = await proc.communicate()
    if proc.returncode != 0:
        raise SystemExit("the publisher failed")
    result: dict[str, Any] = json.loads(out.decode().strip().splitlines()[-1])
    return result


# -- the baseline server (a process of its own) --------------------------------------------------


async def _serve_baseline(port: int, url: str, compression: bool) -> None:
    clients: set[Any] = set()

    async def handler(conn: Any) -> None:
        clients.add(conn)
        try:
            await conn.wait_closed()
        finally:
            clients.discard(conn)

    async def on_message(msg: Any) -> None:
        websockets.broadcast(clients, msg.data.decode())

    nc = await nats.connect(url)
    await nc.subscribe(f"{contract.SUBJECT_PREFIX}.>", cb=on_message)
    async with websockets.serve(
        handler,
        "127.0.0.1",
        port,
        compression="deflate" if compression else None,
        ping_interval=20,
        max_queue=None,
    ):
        await asyncio.Future()


def baseline_main() -> None:
    port, url, compression = sys.argv[1], sys.argv[2], sys.argv[3] == "1"
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve_baseline(int(port), url, compression))


# -- the clients ---------------------------------------------------------------------------------


@dataclass
class Clients:
    latencies: list[float] = field(default_factory=list)  # ms, every (client, event)
    received: list[int] = field(default_factory=list)  # events, coalesced ones counted
    frames: list[int] = field(default_factory=list)
    closed: list[int | None] = field(default_factory=list)  # close code once closed
    conns: list[Any] = field(default_factory=list)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(self.received)

    @property
    def alive(self) -> int:
        return sum(1 for c in self.closed if c is None)


def changes_in(text: str) -> int:
    """How many changes an event frame carries: 1, or its ``coalesced`` count."""
    at = text.rfind(COALESCED)
    if at < 0:
        return 1
    digits = text[at + len(COALESCED) :].split("}", 1)[0].split(",", 1)[0]
    return int(digits) if digits.isdigit() else 1


async def _reader(conns: Clients, i: int) -> None:
    conn = conns.conns[i]
    latencies = conns.latencies
    try:
        async for text in conn:
            now = time.time_ns()
            if text.startswith('{"type":') and not text.startswith('{"type":"event"'):
                continue  # metrics frames and the like
            start = text.find(MARK)
            if start < 0:
                continue
            start += len(MARK)
            latencies.append((now - int(text[start : text.index('"', start)])) / 1e6)
            conns.received[i] += changes_in(text)
            conns.frames[i] += 1
    except websockets.ConnectionClosed:
        pass
    finally:
        conns.closed[i] = conn.close_code or 1000


async def open_clients(
    n: int, url: str, token: str | None, concurrency: int, compression: bool
) -> Clients:
    conns = Clients(received=[0] * n, frames=[0] * n, closed=[None] * n, conns=[None] * n)
    gate = asyncio.Semaphore(concurrency)

    async def one(i: int) -> None:
        async with gate:
            conn = await websockets.connect(
                url,
                compression="deflate" if compression else None,
                ping_interval=None,
                max_queue=None,
                open_timeout=60,
            )
            if token is not None:
                await conn.send(json.dumps({"type": "auth", "token": token}))
                ready = json.loads(await conn.recv())
                if ready.get("type") != "ready":
                    raise SystemExit(f"client {i}: {ready}")
                await conn.send(json.dumps({"type": "subscribe", "servers": "all"}))
                snapshot = json.loads(await conn.recv())
                if snapshot.get("type") != "snapshot":
                    raise SystemExit(f"client {i}: {snapshot}")
            conns.conns[i] = conn
            conns.tasks.append(asyncio.create_task(_reader(conns, i)))

    await asyncio.gather(*(one(i) for i in range(n)))
    return conns


async def close_clients(conns: Clients) -> None:
    await asyncio.gather(*(c.close() for c in conns.conns if c is not None), return_exceptions=True)
    for task in conns.tasks:
        task.cancel()


async def measure(
    label: str,
    url: str,
    token: str | None,
    server_pid: int,
    args: argparse.Namespace,
    spec: dict[str, Any],
    metrics_port: int | None = None,
) -> dict[str, Any]:
    sampler = ProcessSampler(server_pid)
    sampler.start()
    rss_before = psutil.Process(server_pid).memory_info().rss
    started = time.monotonic()
    conns = await open_clients(args.clients, url, token, args.connect_concurrency, args.compression)
    connect_seconds = time.monotonic() - started
    await asyncio.sleep(1)
    rss_connected = psutil.Process(server_pid).memory_info().rss
    print(
        f"  {label}: {args.clients} clients connected in {connect_seconds:.1f}s; "
        f"server RSS +{mib(rss_connected - rss_before):.0f} MiB for them",
        flush=True,
    )
    spy = Profile(server_pid, label, args.profile)
    spy.start()
    me = psutil.Process()
    my_cpu = sum(me.cpu_times()[:2])
    server_cpu = sampler._cpu()
    sent_before = (
        scrape(metrics_port, "craftplane_gateway_ws_frames_sent_total") if metrics_port else 0
    )
    publish = await run_publisher(spec)
    # let the last frames arrive: until every live client has every event, or 10 s without news
    expected_each = publish["published"]
    last_total, last_change = -1, time.monotonic()
    while conns.total < expected_each * conns.alive and time.monotonic() - last_change < 10:
        if conns.total != last_total:
            last_total, last_change = conns.total, time.monotonic()
        await asyncio.sleep(0.2)
    window = time.monotonic() - started - connect_seconds - 1
    spy.stop()
    client_cpu = sum(me.cpu_times()[:2]) - my_cpu
    server_cpu = sampler._cpu() - server_cpu
    await sampler.stop()
    dropped = sent = 0.0
    if metrics_port:
        dropped = scrape(metrics_port, "craftplane_gateway_ws_slow_clients_dropped_total")
        sent = scrape(metrics_port, "craftplane_gateway_ws_frames_sent_total") - sent_before
    result = {
        "published": publish["published"],
        "publish_seconds": publish["seconds"],
        "publish_late": publish["late"],
        "expected": expected_each * args.clients,
        "received": conns.total,
        "frames": sum(conns.frames),
        "closed": args.clients - conns.alive,
        "close_codes": sorted({c for c in conns.closed if c is not None}),
        "p50": percentile(conns.latencies, 50),
        "p99": percentile(conns.latencies, 99),
        "max": max(conns.latencies, default=float("nan")),
        "rss": sampler.peak_rss,
        "rss_per_client": (rss_connected - rss_before) / args.clients,
        "server_cpu": server_cpu,
        "client_cpu": client_cpu,
        "window": window,
        "dropped": dropped,
        "sent": sent,
    }
    await close_clients(conns)
    return result


async def run(args: argparse.Namespace) -> None:
    cfg = sandbox()
    raise_fd_limit(2 * args.clients + 1024)
    tenant = f"benchf{secrets.token_hex(4)}"
    # A real tenant namespace (the gateway serves no other), with no MinecraftServers: the
    # gateway's drift check is put off past the run, or it would mark these rows deleted.
    apps.install_crds(cfg)
    namespace = apps.ensure_tenant(cfg, tenant)
    key = tokens.generate_key()
    token = tokens.mint(tenant, key)
    print(
        f"fan-out benchmark: {args.clients} clients of tenant {tenant}, {args.rate} events/s for "
        f"{args.seconds}s over {args.servers} servers, compression "
        f"{'on' if args.compression else 'off'}",
        flush=True,
    )

    def spec(revision: int) -> dict[str, Any]:
        return {
            "tenant": tenant,
            "namespace": namespace,
            "servers": args.servers,
            "rate": args.rate,
            "seconds": args.seconds,
            "revision": revision,
        }

    results: dict[str, dict[str, Any]] = {}
    try:
        async with PrivateNats(cfg) as private:
            await create_stream(private.url)
            if args.only != "baseline":
                print("platform (gateway) ...", flush=True)
                results["gateway"] = await gateway_side(
                    cfg, args, private.url, key, token, {**spec(1_000_000), "url": private.url}
                )
            if args.only != "gateway":
                print(
                    "baseline (minimal websockets.broadcast fan-out of a NATS core subscription) ..."
                )
                results["baseline"] = await baseline_side(
                    cfg, args, private.url, {**spec(2_000_000), "url": private.url}
                )
    finally:
        cluster.kubectl(cfg, "delete", "namespace", namespace, "--wait=false")
    report(args, results)


async def gateway_side(
    cfg: Any, args: argparse.Namespace, url: str, key: str, token: str, spec: dict[str, Any]
) -> dict[str, Any]:
    async with fresh_database(cfg, "bench_fan") as db:
        gateway = start_gateway(
            cfg,
            name="gateway-fanout",
            nats_url=url,
            database_url=db,
            token_key=key,
            extra={"CRAFTPLANE_GATEWAY_DRIFT_SECONDS": str(10 * args.seconds + 3600)},
        )
        try:
            assert gateway.proc is not None
            await asyncio.sleep(2)  # the live feed subscribes once NATS is connected
            return await measure(
                "gateway",
                f"ws://127.0.0.1:{gateway.http_port}/api/v1/ws",
                token,
                gateway.proc.pid,
                args,
                spec,
                metrics_port=gateway.http_port,
            )
        finally:
            gateway.terminate()


async def baseline_side(
    cfg: Any, args: argparse.Namespace, url: str, spec: dict[str, Any]
) -> dict[str, Any]:
    port = free_port()
    log = open(cfg.logs_dir / "bench-fanout-baseline.log", "ab")  # noqa: SIM115
    server = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        "from bench.fanout import baseline_main; baseline_main()",
        str(port),
        url,
        "1" if args.compression else "0",
        cwd=ROOT,
        start_new_session=True,  # a scheduler autogroup of its own, as the gateway has
        stdout=log,
        stderr=log,
    )
    log.close()
    try:
        for _ in range(100):
            with contextlib.suppress(OSError):
                _, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.close()
                break
            await asyncio.sleep(0.1)
        await asyncio.sleep(0.5)  # its NATS subscription
        return await measure("baseline", f"ws://127.0.0.1:{port}", None, server.pid, args, spec)
    finally:
        server.terminate()
        await server.wait()


def report(args: argparse.Namespace, results: dict[str, dict[str, Any]]) -> None:
    sides = [side for side in ("baseline", "gateway") if side in results]
    both = len(sides) == 2

    def line(label: str, fmt: str, value: Any) -> None:
        cells = [fmt.format(value(results[side])) for side in sides]
        if both:
            a, b = (value(results[side]) for side in sides)
            cells.append(f"{b / a:.2f}" if a else "-")
        print(row(label, *cells))

    print()
    print(host_load())
    print(row("", *sides, *(["gw/base"] if both else [])))
    line("latency p50 (ms)", "{:.1f}", lambda r: r["p50"])
    line("latency p99 (ms)", "{:.1f}", lambda r: r["p99"])
    line("latency max (ms)", "{:.1f}", lambda r: r["max"])
    line("events received", "{}", lambda r: r["received"])
    line("events expected", "{}", lambda r: r["expected"])
    line("frames received", "{}", lambda r: r["frames"])
    line("clients closed by the server", "{}", lambda r: r["closed"])
    line("server peak RSS (MiB)", "{:.0f}", lambda r: mib(r["rss"]))
    line("server RSS per client (KiB)", "{:.0f}", lambda r: r["rss_per_client"] / 1024)
    line("server CPU (s)", "{:.1f}", lambda r: r["server_cpu"])
    line(
        "server CPU per frame (us)",
        "{:.0f}",
        lambda r: r["server_cpu"] / max(1, r["frames"]) * 1e6,
    )
    line(
        "client process CPU (% of a core)", "{:.0f}", lambda r: 100 * r["client_cpu"] / r["window"]
    )
    line("publish window (s)", "{:.1f}", lambda r: r["publish_seconds"])
    for side in sides:
        if results[side]["closed"]:
            print(f"{side}: close codes {results[side]['close_codes']}")
    if "gateway" in results:
        gw = results["gateway"]
        print(
            f"gateway: {gw['sent']:.0f} frames sent, {gw['dropped']:.0f} slow clients dropped "
            f"({os.cpu_count()} cores on this host)"
        )
    if max(r["p50"] for r in results.values()) > 1000:
        print(
            "note: latencies of seconds mean frames queue up: this host did not deliver "
            f"{args.clients * args.rate:.0f} frames/s in time (see the CPU figures); lower "
            "--rate or --clients to measure below saturation"
        )
    late = max(r["publish_late"] for r in results.values())
    if late > 0.5:
        print(f"note: the publisher fell behind its schedule by up to {late:.1f}s")
    dropped = {side: r for side, r in results.items() if r["closed"]}
    if dropped:
        raise SystemExit(
            "FAILED: "
            + "; ".join(
                f"the {side} closed {r['closed']} of its clients (close codes {r['close_codes']})"
                for side, r in dropped.items()
            )
            + ": a client that reads must never be dropped"
        )


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench fanout")
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=50, help="events per second")
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--servers", type=int, default=100, help="servers of the tenant")
    parser.add_argument("--connect-concurrency", type=int, default=50)
    parser.add_argument("--no-compression", dest="compression", action="store_false")
    parser.add_argument("--only", choices=("gateway", "baseline"), help="run one side only")
    parser.add_argument(
        "--profile", type=Path, default=None, metavar="DIR", help="py-spy the servers into DIR"
    )
    asyncio.run(run(parser.parse_args(argv)))
