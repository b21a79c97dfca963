"""Operator scale: N MinecraftServers from create to Ready, against a plain-script baseline.

Baseline: the same client (craftplane.kube.KubeClient) applies the same children (the
operator's own builders) for N servers directly, with no operator. Platform: N CRs are created
and the operator does the rest. Both are timed to the same signal, each server pod's Ready
condition (bench/readiness.py); the platform's CR `Running` is reported beside it. Both run in
the same sandbox in the same run, under the same control plane (its client limits are
printed); the ratio platform/baseline is printed with the host's load.

The sandbox's own operator, gateway and router are stopped for the run (the operator would
compete with the one measured) and those that were running are started again afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import subprocess
import sys
import time
from typing import Any

import httpx

from bench.common import ProcessSampler, percentile
from bench.harness import host_load, sandbox
from bench.readiness import (
    READY_SIGNAL,
    control_plane_limits,
    pods_ready,
    servers_running,
    spread,
)
from craftplane.contracts.names import API_VERSION, KIND, MANAGER_NAME
from craftplane.kube import KubeClient
from craftplane.sandbox import apps, capacity
from craftplane.sandbox.config import SandboxConfig
from craftplane.testing.processes import free_port
from craftplane_operator.builders import build_children
from craftplane_operator.builders.context import ServerContext

SPEC = {"eula": True, "type": "PAPER", "version": "1.21.4", "storage": {"size": "1Gi"}}


def cr(name: str, namespace: str) -> dict[str, Any]:
    return {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": {"name": name, "namespace": namespace},
        "spec": SPEC,
    }


async def bounded(concurrency: int, jobs: list[Any]) -> None:
    gate = asyncio.Semaphore(concurrency)

    async def run(job: Any) -> None:
        async with gate:
            await job

    await asyncio.gather(*(run(job) for job in jobs))


def timeout_for(n: int) -> float:
    return max(300.0, n * 2.0)


async def baseline(kube: KubeClient, n: int, concurrency: int) -> dict[str, float]:
    namespace = f"bench-base-{secrets.token_hex(3)}"
    await kube.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
    await asyncio.sleep(1)
    before = kube.requests
    created: dict[str, float] = {}

    async def create(i: int) -> None:
        name = f"mc-{i:05d}"
        server = ServerContext.from_body(
            {
                "metadata": {
                    "name": name,
                    "namespace": namespace,
                    "uid": f"uid-{i}",
                    "generation": 1,
                },
                "spec": SPEC,
            }
        )
        created[name] = time.time()
        for child in build_children(server, "baseline-password"):
            # No owner in the baseline: the owner CR does not exist.
            child["metadata"].pop("ownerReferences", None)
            await kube.apply(child, field_manager=MANAGER_NAME)

    async with pods_ready(namespace) as ready:
        started = time.time()
        await bounded(concurrency, [create(i) for i in range(n)])
        requests = kube.requests - before  # the watch has a client of its own
        await ready.wait(n, "baseline pods Ready", timeout=timeout_for(n))
    latencies = spread(created, ready.seen)
    await kube.delete("Namespace", None, namespace)
    return {
        "total": max(ready.seen.values()) - started,
        "p50": percentile(latencies, 50),
        "p99": percentile(latencies, 99),
        "requests": requests,
    }


async def _healthy(http: httpx.AsyncClient, port: int) -> None:
    for _ in range(200):
        try:
            if (await http.get(f"http://127.0.0.1:{port}/healthz")).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        await asyncio.sleep(0.1)


async def platform(
    kube: KubeClient, cfg: SandboxConfig, n: int, concurrency: int
) -> dict[str, float]:
    namespace = f"bench-op-{secrets.token_hex(3)}"
    await kube.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
    await asyncio.sleep(1)
    port = free_port()
    env = {
        **apps.operator_env(cfg),
        "CRAFTPLANE_OPERATOR_HTTP_PORT": str(port),
        "CRAFTPLANE_OPERATOR_LOG_LEVEL": "WARNING",
    }
    log = open(cfg.logs_dir / "bench-operator.log", "ab")  # noqa: SIM115
    proc = subprocess.Popen(
        [os.path.join(os.path.dirname(sys.executable), "craftplane-operator")],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )

    def alive() -> None:
        if proc.poll() is not None:
            raise SystemExit(f"the operator exited ({proc.returncode}); see {log.name}")

    try:
        async with (
            httpx.AsyncClient() as http,
            pods_ready(namespace) as ready,
            servers_running(namespace) as running,
        ):
            await _healthy(http, port)
            sampler = ProcessSampler(proc.pid)
            sampler.start()
            created: dict[str, float] = {}
            started = time.time()

            async def create(i: int) -> None:
                name = f"mc-{i:05d}"
                created[name] = time.time()
                await kube.create(cr(name, namespace))

            await bounded(concurrency, [create(i) for i in range(n)])
            await ready.wait(n, "platform pods Ready", timeout_for(n), alive)
            await running.wait(n, "platform Running", timeout_for(n), alive)
            await sampler.stop()
            metrics = (await http.get(f"http://127.0.0.1:{port}/metrics")).text
            requests = next(
                float(line.split()[-1])
                for line in metrics.splitlines()
                if line.startswith("craftplane_operator_api_requests ")
            )
            # Deleted while the operator still runs: it removes its finalizers.
            await kube.request(
                "DELETE", f"/apis/craftplane.io/v1alpha1/namespaces/{namespace}/minecraftservers"
            )
            for _ in range(600):
                if not await kube.list_objects(KIND, namespace):
                    break
                await asyncio.sleep(0.5)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()
    to_ready = spread(created, ready.seen)
    to_running = spread(created, running.seen)
    after_ready = spread(ready.seen, running.seen)
    await kube.delete("Namespace", None, namespace)
    return {
        "total": max(ready.seen.values()) - started,
        "p50": percentile(to_ready, 50),
        "p99": percentile(to_ready, 99),
        "running_total": max(running.seen.values()) - started,
        "running_p50": percentile(to_running, 50),
        "running_p99": percentile(to_running, 99),
        "lag_p50": percentile(after_ready, 50),
        "lag_p99": percentile(after_ready, 99),
        "requests": requests,
        "rss_mb": sampler.peak_rss / 2**20,
        "cpu_s": sampler.cpu_seconds,
    }


async def run(cfg: SandboxConfig, n: int, concurrency: int) -> None:
    apps.install_crds(cfg)
    nodes = capacity.ensure_room(cfg, n).nodes
    kube = await KubeClient.connect()
    try:
        print(
            f"operator scale benchmark: {n} servers, {nodes} kwok nodes, "
            f"create concurrency {concurrency}",
            flush=True,
        )
        print(READY_SIGNAL, flush=True)
        print(control_plane_limits(cfg), flush=True)
        print("baseline (plain script applying the same children, no operator) ...", flush=True)
        base = await baseline(kube, n, concurrency)
        print("platform (MinecraftServer CRs, operator reconciles) ...", flush=True)
        plat = await platform(kube, cfg, n, concurrency)
    finally:
        await kube.close()
    print()
    print(host_load())
    print(READY_SIGNAL)
    print(control_plane_limits(cfg))
    print(f"{'':32}{'baseline':>12}{'operator':>12}")
    print(f"{'time until all pods Ready (s)':32}{base['total']:12.1f}{plat['total']:12.1f}")
    print(f"{'per-server p50 to Ready (s)':32}{base['p50']:12.2f}{plat['p50']:12.2f}")
    print(f"{'per-server p99 to Ready (s)':32}{base['p99']:12.2f}{plat['p99']:12.2f}")
    print(f"{'API requests':32}{base['requests']:12.0f}{plat['requests']:12.0f}")
    print(
        f"operator: all Running (CR status) after {plat['running_total']:.1f}s, per server "
        f"p50 {plat['running_p50']:.2f}s p99 {plat['running_p99']:.2f}s; Running after its pod "
        f"was Ready: p50 {plat['lag_p50']:.2f}s p99 {plat['lag_p99']:.2f}s"
    )
    print(f"operator peak RSS: {plat['rss_mb']:.0f} MiB; operator CPU: {plat['cpu_s']:.1f} s")
    print(
        f"ratio operator/baseline (time until all pods Ready): {plat['total'] / base['total']:.2f}"
    )


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench operator")
    parser.add_argument("--servers", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args(argv)
    cfg = sandbox()
    # The sandbox's own operator would compete with the one measured; whatever of it ran is
    # started again afterwards, also when the run fails or is interrupted.
    with apps.paused(cfg, report=print):
        asyncio.run(run(cfg, args.servers, args.concurrency))
