"""Game traffic through the router against the same traffic straight to the ClusterIP.

One backend (an echo server, `bench/routerload` in Go, so that the clients and the backend
cost little CPU beside what is measured) on this host behind a Service with a ClusterIP
(an EndpointSlice to the real node's address; kube-proxy's iptables rules do the rest). The
same load goes in the same run:

* **direct**: to the ClusterIP, as a server's Service is reached inside the cluster;
* **router**: to a router process (the router's own listener, handshake handling and data
  path; a static one-route table instead of the cluster watch) that routes the handshake's
  hostname to that ClusterIP; once per data path: ``fast`` (the compiled fast path, what the
  router runs wherever its binary is), ``stream``/``splice`` (the Python router alone);
* **floor**: a Go proxy that reads no handshake at all (``routerload proxy``): what any
  extra hop costs on this machine, for scale.

Per run (the load tool, in Go): connections/s at saturation (``--connects`` connections,
``--clients`` at a time, each next one as soon as one ends: a closed loop whose latency is
mostly its own queue, printed too); connect latency (dial, handshake, first byte back)
p50/p99 of ``--connects`` connections opened at ``--rate`` per second, at most ``--clients``
at once (below saturation, so the figure is what the router adds, not the queue); then
``--clients`` connections each sending ``--mib`` MiB and reading its echo: MiB/s through.
Goal: >= 0.8x direct throughput, <= 5 ms added p99 connect latency.

    python -m bench router --clients 100 --mib 32 --connects 2000 --rate 400

``--local`` runs the same comparison without the sandbox: the echo backend on 127.0.0.1 and
"direct" is straight to it (no kube-proxy), for profiling the router on any machine.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from bench.harness import ROOT, host_load, kubectl, row, sandbox
from craftplane.sandbox import node
from craftplane.sandbox.config import SandboxConfig
from craftplane.testing.processes import free_port

HOSTNAME = "bench.router.mc.localhost"
LOAD_DIR = ROOT / "bench" / "routerload"


FASTPATH_DIR = ROOT / "router" / "fastpath"


def build_load(cache: Path) -> Path:
    binary = cache / "build" / "routerload"
    binary.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(["go", "build", "-o", str(binary), "."], cwd=LOAD_DIR, check=True)
    return binary


def build_fast_path(cache: Path) -> Path:
    binary = cache / "build" / "craftplane-router-fastpath"
    binary.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(["go", "build", "-o", str(binary), "."], cwd=FASTPATH_DIR, check=True)
    return binary


def _service(namespace: str, port: int, address: str) -> str:
    objects = [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}},
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "echo", "namespace": namespace},
            "spec": {"ports": [{"name": "minecraft", "port": 25565, "targetPort": port}]},
        },
        {
            "apiVersion": "discovery.k8s.io/v1",
            "kind": "EndpointSlice",
            "metadata": {
                "name": "echo-host",
                "namespace": namespace,
                "labels": {"kubernetes.io/service-name": "echo"},
            },
            "addressType": "IPv4",
            "endpoints": [{"addresses": [address], "conditions": {"ready": True}}],
            "ports": [{"name": "minecraft", "port": port, "protocol": "TCP"}],
        },
    ]
    return "\n---\n".join(json.dumps(o) for o in objects)


@contextlib.contextmanager
def backend(cfg: SandboxConfig, load: Path) -> Iterator[str]:
    """The echo backend behind a ClusterIP; yields ``ip:port`` of the ClusterIP."""
    port = free_port()
    proc = subprocess.Popen(
        [str(load), "serve", "-listen", f"{cfg.real_node_ip}:{port}"], stdout=subprocess.PIPE
    )
    namespace = f"bench-router-{secrets.token_hex(3)}"
    try:
        kubectl(cfg, "apply", "-f", "-", stdin=_service(namespace, port, cfg.real_node_ip))
        ip = kubectl(
            cfg, "get", "service", "echo", "-n", namespace, "-o", "jsonpath={.spec.clusterIP}"
        ).strip()
        target = f"{ip}:25565"
        _until_routed(load, target)
        yield target
    finally:
        proc.terminate()
        kubectl(cfg, "delete", "namespace", namespace, "--wait=false")


@contextlib.contextmanager
def local_backend(load: Path) -> Iterator[str]:
    """The echo backend on loopback; yields its ``127.0.0.1:port``."""
    target = f"127.0.0.1:{free_port()}"
    proc = subprocess.Popen([str(load), "serve", "-listen", target], stdout=subprocess.PIPE)
    try:
        _until_routed(load, target)
        yield target
    finally:
        proc.terminate()


def _until_routed(load: Path, target: str, timeout: float = 30) -> None:
    """Until kube-proxy has programmed the ClusterIP (one connection gets through)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        probe = _run_load(load, target, clients=1, mib=0, connects=1, check=False)
        if probe and probe["connects"] == 1:
            return
        time.sleep(0.5)
    raise SystemExit(f"{target} never answered: is kube-proxy running on the real node?")


def _run_load(
    load: Path,
    target: str,
    *,
    clients: int,
    mib: int,
    connects: int,
    rate: float = 400,
    check: bool = True,
) -> dict[str, float] | None:
    argv = [str(load), "load", "-target", target, "-host", HOSTNAME, "-clients", str(clients)]
    argv += ["-mib", str(mib), "-connects", str(connects), "-rate", str(rate)]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=600)
    if result.returncode != 0 or not result.stdout.strip():
        if check:
            raise SystemExit(f"routerload failed: {result.stderr.strip()}")
        return None
    figures: dict[str, float] = json.loads(result.stdout.strip().splitlines()[-1])
    return figures


@contextlib.contextmanager
def router(target: str, mode: str, loop: str, fast_path: Path) -> Iterator[str]:
    port, metrics = free_port(), free_port()
    argv = [sys.executable, "-m", "bench.router_runner", "--port", str(port)]
    argv += ["--metrics-port", str(metrics), "--hostname", HOSTNAME, "--target", target]
    argv += ["--mode", mode, "--loop", loop, "--fast-path-binary", str(fast_path)]
    proc = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if not line.startswith("routing"):
            raise SystemExit(f"the router did not start: {line!r}")
        yield f"127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=15)


def memory_pressures() -> int:
    """How often the kernel's TCP stack has entered memory pressure (tcp_mem) since boot:
    under it every socket's window shrinks and every path slows, direct included, so a run
    that saw one measured the kernel, not the router."""
    lines = Path("/proc/net/netstat").read_text().splitlines()
    for names, values in zip(lines[::2], lines[1::2], strict=False):
        if names.startswith("TcpExt:"):
            table = dict(zip(names.split()[1:], values.split()[1:], strict=True))
            return int(table.get("TCPMemoryPressures", 0))
    return 0


@contextlib.contextmanager
def floor(load: Path, target: str) -> Iterator[str]:
    """``routerload proxy``: accepts and copies, no handshake read, no decision."""
    address = f"127.0.0.1:{free_port()}"
    proc = subprocess.Popen(
        [str(load), "proxy", "-listen", address, "-target", target], stdout=subprocess.PIPE
    )
    try:
        _until_routed(load, address)
        yield address
    finally:
        proc.terminate()
        proc.wait(timeout=15)


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench router", description=__doc__)
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--mib", type=int, default=32, help="MiB each client sends")
    parser.add_argument("--connects", type=int, default=2000)
    parser.add_argument(
        "--rate", type=float, default=400, help="connections/s of the latency phase"
    )
    parser.add_argument(
        "--modes",
        default="fast,stream/asyncio,floor",
        help="data path[/loop], comma-separated: fast, stream, splice (asyncio or uvloop), floor",
    )
    parser.add_argument(
        "--local", action="store_true", help="no sandbox: the backend on 127.0.0.1, no ClusterIP"
    )
    args = parser.parse_args(argv)
    if args.local:
        load = build_load(ROOT / ".cache")
        place: contextlib.AbstractContextManager[str] = local_backend(load)
    else:
        cfg = sandbox()
        if not node.enabled(cfg):
            raise SystemExit("the real node (its kube-proxy) is off (CRAFTPLANE_REAL_NODE=false)")
        load = build_load(cfg.cache)
        place = backend(cfg, load)
    fast_path = build_fast_path(ROOT / ".cache")
    sizes = dict(clients=args.clients, mib=args.mib, connects=args.connects, rate=args.rate)
    print(
        f"{args.clients} clients x {args.mib} MiB echoed; {args.connects} connects saturated, "
        f"then {args.connects} at {args.rate:g}/s; load before: {host_load()}"
    )
    results: list[tuple[str, dict[str, float]]] = []
    pressures_before = memory_pressures()
    with place as target:
        direct = _run_load(load, target, **sizes)  # type: ignore[arg-type]
        assert direct is not None
        results.append(("direct", direct))
        for variant in args.modes.split(","):
            mode, _, loop = variant.partition("/")
            where: contextlib.AbstractContextManager[str] = (
                floor(load, target)
                if mode == "floor"
                else router(target, mode, loop or "asyncio", fast_path)
            )
            with where as address:
                routed = _run_load(load, address, **sizes)  # type: ignore[arg-type]
                assert routed is not None
                results.append((variant if mode == "floor" else f"router {variant}", routed))
    _report(results, direct)
    pressures = memory_pressures() - pressures_before
    if pressures:
        print(
            f"WARNING: the kernel's TCP memory pressure began {pressures} times during the run "
            "(tcp_mem): windows shrank on every path; the figures are the kernel's. Run with "
            "fewer --clients or less --mib per run"
        )


def _report(results: list[tuple[str, dict[str, float]]], direct: dict[str, float]) -> None:
    print(
        row(
            "", "MiB/s", "x direct", "conn/s", "x direct", "sat p99 ms",
            "p50 conn ms", "p99 conn ms", "+p99 ms", "errors",
        )
    )  # fmt: skip
    for label, figures in results:
        print(
            row(
                label,
                f"{figures['mib_per_s']:.0f}",
                f"{figures['mib_per_s'] / direct['mib_per_s']:.2f}",
                f"{figures['connects_per_s']:.0f}",
                f"{figures['connects_per_s'] / direct['connects_per_s']:.2f}",
                f"{figures['saturated_p99_ms']:.1f}",
                f"{figures['connect_p50_ms']:.2f}",
                f"{figures['connect_p99_ms']:.2f}",
                f"{figures['connect_p99_ms'] - direct['connect_p99_ms']:+.2f}",
                f"{figures['errors']:.0f}",
            )
        )
    print(f"load after: {host_load()}")
