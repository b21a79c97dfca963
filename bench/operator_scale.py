"""Operator scale: N MinecraftServers from create to Running, against a plain-script baseline.

Baseline: the same client (craftplane.kube.KubeClient) applies the same children (the
operator's own builders) for N servers directly, with no operator, and we wait for kwok to make
every StatefulSet ready. Platform: N CRs are created and the operator does the rest. Both run
in the same sandbox in the same run; the ratio platform/baseline is printed.
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
from craftplane.contracts.names import API_VERSION, KIND, MANAGER_NAME
from craftplane.kube import KubeClient
from craftplane.sandbox import apps, capacity, stack
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


async def wait_all(
    probe: Any, total: int, first_seen: dict[str, float], what: str, timeout: float
) -> float:
    started = time.monotonic()
    last_print = 0.0
    while len(first_seen) < total:
        await probe()
        now = time.monotonic()
        if now - last_print > 5:
            print(f"  {what}: {len(first_seen)}/{total} after {now - started:.0f}s", flush=True)
            last_print = now
        if now - started > timeout:
            raise SystemExit(f"{what}: only {len(first_seen)}/{total} within {timeout:.0f}s")
        await asyncio.sleep(0.2)
    return time.monotonic() - started


async def baseline(kube: KubeClient, n: int, concurrency: int) -> dict[str, float]:
    namespace = f"bench-base-{secrets.token_hex(3)}"
    await kube.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
    await asyncio.sleep(1)
    before = kube.requests
    created: dict[str, float] = {}
    ready: dict[str, float] = {}
    started = time.monotonic()

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
        created[name] = time.monotonic()
        for child in build_children(server, "baseline-password"):
            # No owner in the baseline: the owner CR does not exist.
            child["metadata"].pop("ownerReferences", None)
            await kube.apply(child, field_manager=MANAGER_NAME)

    await bounded(concurrency, [create(i) for i in range(n)])

    async def probe() -> None:
        for sts in await kube.list_objects("StatefulSet", namespace):
            if sts.get("status", {}).get("readyReplicas") == 1:
                ready.setdefault(sts["metadata"]["name"], time.monotonic())

    await wait_all(probe, n, ready, "baseline ready", timeout=max(300, n * 2))
    total = max(ready.values()) - started
    latencies = [ready[k] - created[k] for k in ready]
    await kube.delete("Namespace", None, namespace)
    return {
        "total": total,
        "p50": percentile(latencies, 50),
        "p99": percentile(latencies, 99),
        "requests": kube.requests - before,
    }


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
    try:
        async with httpx.AsyncClient() as http:
            for _ in range(200):
                try:
                    if (await http.get(f"http://127.0.0.1:{port}/healthz")).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.1)
            sampler = ProcessSampler(proc.pid)
            sampler.start()
            created: dict[str, float] = {}
            running: dict[str, float] = {}
            started = time.monotonic()

            async def create(i: int) -> None:
                name = f"mc-{i:05d}"
                created[name] = time.monotonic()
                await kube.create(cr(name, namespace))

            await bounded(concurrency, [create(i) for i in range(n)])

            async def probe() -> None:
                for body in await kube.list_objects(KIND, namespace):
                    if (body.get("status") or {}).get("phase") == "Running":
                        running.setdefault(body["metadata"]["name"], time.monotonic())

            await wait_all(probe, n, running, "platform Running", timeout=max(300, n * 2))
            total = max(running.values()) - started
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
    latencies = [running[k] - created[k] for k in running]
    await kube.delete("Namespace", None, namespace)
    return {
        "total": total,
        "p50": percentile(latencies, 50),
        "p99": percentile(latencies, 99),
        "requests": requests,
        "rss_mb": sampler.peak_rss / 2**20,
        "cpu_s": sampler.cpu_seconds,
    }


async def run(n: int, concurrency: int) -> None:
    cfg = SandboxConfig()
    stack.up(cfg, only="services")
    apps.down(cfg)  # the sandbox's own operator would compete with the one measured
    apps.install_crds(cfg)
    nodes = capacity.ensure_room(cfg, n).nodes
    os.environ["KUBECONFIG"] = str(cfg.kubeconfig)
    kube = await KubeClient.connect()
    try:
        print(
            f"operator scale benchmark: {n} servers, {nodes} kwok nodes, "
            f"create concurrency {concurrency}",
            flush=True,
        )
        print("baseline (plain script applying the same children, no operator) ...", flush=True)
        base = await baseline(kube, n, concurrency)
        print("platform (MinecraftServer CRs, operator reconciles) ...", flush=True)
        plat = await platform(kube, cfg, n, concurrency)
    finally:
        await kube.close()
    print()
    print(f"{'':28}{'baseline':>12}{'operator':>12}")
    print(f"{'time until all ready (s)':28}{base['total']:12.1f}{plat['total']:12.1f}")
    print(f"{'per-server p50 (s)':28}{base['p50']:12.2f}{plat['p50']:12.2f}")
    print(f"{'per-server p99 (s)':28}{base['p99']:12.2f}{plat['p99']:12.2f}")
    print(f"{'API requests':28}{base['requests']:12.0f}{plat['requests']:12.0f}")
    print(f"operator peak RSS: {plat['rss_mb']:.0f} MiB; operator CPU: {plat['cpu_s']:.1f} s")
    print(f"ratio operator/baseline (time until all ready): {plat['total'] / base['total']:.2f}")


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench operator")
    parser.add_argument("--servers", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args(argv)
    asyncio.run(run(args.servers, args.concurrency))
