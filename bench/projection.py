"""Projection: N events already in JetStream, drained by a fresh gateway into a fresh database.

Synthetic, valid events for ~1,000 servers of a tenant nobody owns (a namespace that does not
exist in the cluster, so drift reconciliation never touches their rows): server.created, then
k8s.starting / k8s.running with player counts changing, some stop/start cycles and errors, with
increasing revisions, interleaved across servers as the operator would publish them.

They go to a private nats-server (same binary and stream config as the sandbox's) unless
--nats-url names another one; there, every other projection consumer sees them too (their rows
stay in that namespace nobody owns) and they are purged from the stream afterwards.

Platform: a gateway process (fresh database, fresh durable consumer) projects the backlog; timed
from the moment it answers /healthz until every event is in server_events.
Baselines, in the same run, each into an identically migrated fresh database:
  COPY         the same timeline rows and final server rows (computed with the projection's own
               rule in memory, untimed) written with asyncpg copy_records_to_table, one transaction
  apply_batch  the gateway's own SQL (db/projection.apply_batch) called in-process on the
               already-decoded events, in batches of the gateway's batch size: no NATS, no JSON
The final rows of the gateway's database are checked equal to the COPY baseline's.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import nats

from bench.common import ProcessSampler
from bench.harness import (
    PrivateNats,
    Profile,
    create_stream,
    fresh_database,
    host_load,
    mib,
    migrated,
    row,
    sandbox,
    start_gateway,
)
from craftplane import tokens
from craftplane.contracts import events as contract
from craftplane.contracts.events import Event, EventType, ServerRef
from craftplane.contracts.status import Phase
from craftplane_gateway.db import projection
from craftplane_gateway.db.models import COLUMNS, ServerRow
from craftplane_gateway.db.rules import Verdict, project
from craftplane_gateway.settings import GatewaySettings

EVENT_COLUMNS = [name for name, _ in projection._EVENT_COLUMNS]


@dataclass
class _Server:
    uid: str
    name: str
    state: str = "new"
    generation: int = 1


def synthetic_events(n: int, servers: int, namespace: str, tenant: str) -> list[Event]:
    """n valid events, a realistic mix, revisions increasing in publication order."""
    rng = random.Random(20240607)
    fleet = [
        _Server(uid=f"{rng.getrandbits(128):032x}", name=f"mc-{i:05d}") for i in range(servers)
    ]
    start = datetime.now(UTC) - timedelta(hours=2)
    revision = 100_000
    out: list[Event] = []
    while len(out) < n:
        server = fleet[rng.randrange(servers)]
        ref = ServerRef(uid=server.uid, namespace=namespace, name=server.name, tenant=tenant)
        at = start + timedelta(milliseconds=10 * len(out))
        revision += rng.randint(1, 5)
        common: dict[str, Any] = {"server": ref, "time": at, "revision": str(revision)}
        if server.state == "new":
            event = Event(
                type=EventType.SERVER_CREATED,
                server=ref,
                generation=1,
                server_type="PAPER",
                version="1.21.4",
                message="PAPER 1.21.4",
                time=at,
            )
            server.state = "created"
        elif server.state in ("created", "stopped", "error"):
            if server.state == "stopped":
                server.generation += 1  # spec.stopped flipped back
            event = Event(
                type=EventType.K8S_STARTING,
                phase=Phase.STARTING,
                generation=server.generation,
                reason="PodNotReady",
                message="waiting for the server to become ready",
                **common,
            )
            server.state = "starting"
        else:
            roll = rng.random()
            if server.state == "starting" or roll < 0.85:
                event = Event(
                    type=EventType.K8S_RUNNING,
                    phase=Phase.RUNNING,
                    generation=server.generation,
                    address=f"{server.name}.{namespace}.svc.cluster.local",
                    port=25565,
                    players_online=0 if server.state == "starting" else rng.randint(0, 20),
                    players_max=20,
                    **common,
                )
                server.state = "running"
            elif roll < 0.95:
                server.generation += 1  # spec.stopped set
                event = Event(
                    type=EventType.K8S_STOPPED,
                    phase=Phase.STOPPED,
                    generation=server.generation,
                    reason="Stopped",
                    message="stopped by its owner",
                    **common,
                )
                server.state = "stopped"
            else:
                event = Event(
                    type=EventType.K8S_ERROR,
                    phase=Phase.ERROR,
                    generation=server.generation,
                    reason="CrashLoopBackOff",
                    message="the server container keeps exiting",
                    **common,
                )
                server.state = "error"
        out.append(event)
    return out


async def publish(url: str, events: list[Event], concurrency: int = 512) -> tuple[list[int], float]:
    """Publish with JetStream acks (as the operator does); the stream sequences and the time."""
    nc = await nats.connect(url)
    js = nc.jetstream(timeout=30)
    seqs: list[int] = [0] * len(events)
    started = time.monotonic()
    try:
        for low in range(0, len(events), concurrency):
            chunk = events[low : low + concurrency]
            acks = await asyncio.gather(
                *(
                    js.publish(
                        contract.subject_for(e), contract.encode(e), headers={"Nats-Msg-Id": e.id}
                    )
                    for e in chunk
                )
            )
            for i, ack in enumerate(acks):
                if ack.duplicate:
                    raise SystemExit(f"event {chunk[i].id} was a duplicate in the stream")
                seqs[low + i] = ack.seq
    finally:
        await nc.close()
    return seqs, time.monotonic() - started


def final_rows(items: list[tuple[int, Event]]) -> list[ServerRow]:
    rows: dict[str, ServerRow] = {}
    for seq, event in items:
        assert event.server is not None
        verdict, after = project(rows.get(event.server.uid), event, seq)
        if verdict is Verdict.APPLY and after is not None:
            rows[event.server.uid] = after
    return list(rows.values())


async def baseline_copy(cfg: Any, items: list[tuple[int, Event]]) -> dict[str, Any]:
    timeline = [projection._timeline_values(seq, event) for seq, event in items]
    servers = [projection._row_values(r) for r in final_rows(items)]
    async with fresh_database(cfg, "bench_copy") as url:
        await migrated(url)
        conn = await asyncpg.connect(url)
        try:
            started = time.monotonic()
            async with conn.transaction():
                await conn.copy_records_to_table(
                    "server_events", records=timeline, columns=EVENT_COLUMNS
                )
                await conn.copy_records_to_table("servers", records=servers, columns=COLUMNS)
            elapsed = time.monotonic() - started
            namespace = items[0][1].server.namespace if items[0][1].server else ""
            rows = await _rows(conn, namespace or "")
        finally:
            await conn.close()
    return {"seconds": elapsed, "rows": rows}


async def baseline_apply(cfg: Any, items: list[tuple[int, Event]], batch: int) -> dict[str, float]:
    async with fresh_database(cfg, "bench_apply") as url:
        await migrated(url)
        conn = await asyncpg.connect(url)
        try:
            started = time.monotonic()
            for low in range(0, len(items), batch):
                await projection.apply_batch(conn, items[low : low + batch])
            elapsed = time.monotonic() - started
        finally:
            await conn.close()
    return {"seconds": elapsed}


async def _rows(conn: asyncpg.Connection, namespace: str) -> list[tuple[Any, ...]]:
    records = await conn.fetch(
        f"SELECT {', '.join(COLUMNS)} FROM servers WHERE namespace = $1 ORDER BY uid", namespace
    )
    return [tuple(r) for r in records]


async def _count(conn: asyncpg.Connection, namespace: str) -> int:
    try:
        return int(
            await conn.fetchval(
                "SELECT count(*) FROM server_events WHERE namespace = $1", namespace
            )
        )
    except asyncpg.UndefinedTableError:
        return 0  # the gateway has not migrated its database yet


async def platform(
    cfg: Any,
    nats_url: str,
    namespace: str,
    n: int,
    extra: dict[str, str],
    profile_dir: Path | None,
) -> dict[str, Any]:
    consumer = f"bench-projection-{secrets.token_hex(4)}"
    async with fresh_database(cfg, "bench_gw") as url:
        spawned = time.monotonic()
        gateway = start_gateway(
            cfg,
            name="gateway-projection",
            nats_url=nats_url,
            database_url=url,
            token_key=tokens.generate_key(),
            consumer=consumer,
            extra=extra,
        )
        healthy = time.monotonic()
        assert gateway.proc is not None
        sampler = ProcessSampler(gateway.proc.pid)
        sampler.start()
        spy = Profile(gateway.proc.pid, "gateway-projection", profile_dir)
        spy.start()
        first = None
        last_print = healthy
        conn: asyncpg.Connection | None = None
        try:
            while conn is None:
                try:
                    conn = await asyncpg.connect(url)
                except (OSError, asyncpg.PostgresError):
                    await asyncio.sleep(0.1)
            timeout = max(300.0, n / 50)
            while True:
                done = await _count(conn, namespace)
                now = time.monotonic()
                if done and first is None:
                    first = now
                if done >= n:
                    break
                if now - last_print > 5:
                    print(f"  projected {done}/{n} after {now - healthy:.0f}s", flush=True)
                    last_print = now
                if now - healthy > timeout:
                    raise SystemExit(f"projection: only {done}/{n} within {timeout:.0f}s")
                if not gateway.alive:
                    raise SystemExit(f"the gateway exited; see {gateway.log_path}")
                await asyncio.sleep(0.1)
            finished = time.monotonic()
            await sampler.stop()
            spy.stop()
            rows = await _rows(conn, namespace)
            nc = await nats.connect(nats_url)
            try:
                info = await nc.jetstream().consumer_info(contract.STREAM_NAME, consumer)
                pending = (info.num_pending or 0) + (info.num_ack_pending or 0)
                await nc.jetstream().delete_consumer(contract.STREAM_NAME, consumer)
            finally:
                await nc.close()
        finally:
            if conn is not None:
                await conn.close()
            gateway.terminate()
    return {
        "startup": healthy - spawned,
        "seconds": finished - healthy,
        "steady": finished - (first or healthy),
        "rss": sampler.peak_rss,
        "cpu": sampler.cpu_seconds,
        "rows": rows,
        "pending": pending,
    }


async def purge(url: str, namespace: str) -> int:
    nc = await nats.connect(url)
    try:
        js = nc.jetstream()
        before = (await js.stream_info(contract.STREAM_NAME)).state.messages
        await js.purge_stream(
            contract.STREAM_NAME, subject=f"{contract.SUBJECT_PREFIX}.*.*.{namespace}.>"
        )
        after = (await js.stream_info(contract.STREAM_NAME)).state.messages
        return before - after
    finally:
        await nc.close()


async def run(args: argparse.Namespace) -> None:
    cfg = sandbox()
    n, servers = args.events, args.servers
    tenant = f"benchp{secrets.token_hex(4)}"
    namespace = tokens.namespace_for(tenant)  # exists nowhere: no drift, no other tenant
    batch = args.batch or GatewaySettings.model_fields["batch_size"].default
    extra = {"CRAFTPLANE_GATEWAY_BATCH_SIZE": str(batch)}
    if args.pool_max:
        extra["CRAFTPLANE_GATEWAY_POOL_MAX"] = str(args.pool_max)
    print(
        f"projection benchmark: {n} events for {servers} servers in namespace {namespace}, "
        f"gateway batch size {batch}",
        flush=True,
    )
    events = synthetic_events(n, servers, namespace, tenant)
    kinds: dict[str, int] = {}
    for event in events:
        kinds[event.type.value] = kinds.get(event.type.value, 0) + 1
    print("  mix: " + ", ".join(f"{k} {v}" for k, v in sorted(kinds.items())), flush=True)

    nats_ctx = PrivateNats(cfg) if args.nats_url is None else None
    try:
        if nats_ctx is not None:
            await nats_ctx.__aenter__()
            url = nats_ctx.url
            print(f"  private nats-server at {url}", flush=True)
        else:
            url = args.nats_url
            print(f"  publishing to {url}: every projection consumer there sees these", flush=True)
        await create_stream(url)
        seqs, pub_seconds = await publish(url, events)
        items = list(zip(seqs, events, strict=True))
        print(f"  published {n} events in {pub_seconds:.1f}s ({n / pub_seconds:.0f}/s)", flush=True)

        print("baseline COPY (asyncpg copy_records_to_table, one transaction) ...", flush=True)
        copy = await baseline_copy(cfg, items)
        print("baseline apply_batch (the gateway's SQL in-process, no NATS) ...", flush=True)
        direct = await baseline_apply(cfg, items, batch)
        print("platform (gateway process draining the stream) ...", flush=True)
        plat = await platform(cfg, url, namespace, n, extra, args.profile)
        if nats_ctx is None:
            print(f"  purged {await purge(url, namespace)} bench events from the stream")
    finally:
        if nats_ctx is not None:
            await nats_ctx.__aexit__(None, None, None)

    same = plat["rows"] == copy["rows"]
    print()
    print(host_load())
    print(row("", "events/s", "seconds", "vs gateway"))
    for label, seconds in (
        ("baseline COPY", copy["seconds"]),
        ("baseline apply_batch in-process", direct["seconds"]),
        ("gateway (healthy -> all projected)", plat["seconds"]),
    ):
        print(row(label, n / seconds, seconds, f"{plat['seconds'] / seconds:.1f}x"))
    print(row("gateway (first row -> all)", n / plat["steady"], plat["steady"]))
    print(f"gateway startup (spawn -> healthy): {plat['startup']:.1f}s")
    print(
        f"gateway peak RSS {mib(plat['rss']):.0f} MiB; CPU {plat['cpu']:.1f}s "
        f"({plat['cpu'] / plat['seconds']:.0%} of one core while projecting)"
    )
    print(
        f"ratio gateway/COPY (time): {plat['seconds'] / copy['seconds']:.1f}; "
        f"gateway/apply_batch: {plat['seconds'] / direct['seconds']:.2f}"
    )
    print(
        f"check: consumer pending after {plat['pending']}; final server rows identical to the "
        f"baseline's: {'yes' if same else 'NO'} ({len(plat['rows'])} rows)"
    )


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench projection")
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--servers", type=int, default=1_000)
    parser.add_argument("--batch", type=int, default=0, help="CRAFTPLANE_GATEWAY_BATCH_SIZE")
    parser.add_argument("--pool-max", type=int, default=0, help="CRAFTPLANE_GATEWAY_POOL_MAX")
    parser.add_argument(
        "--nats-url",
        default=None,
        help="publish to this NATS (e.g. the sandbox's) instead of a private one; purged after",
    )
    parser.add_argument(
        "--profile", type=Path, default=None, metavar="DIR", help="py-spy the gateway into DIR"
    )
    asyncio.run(run(parser.parse_args(argv)))
