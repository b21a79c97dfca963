"""A router process with a static table for `python -m bench router`: the router's own
listener, handshake handling and data path, one route to the benchmark's ClusterIP.

    python -m bench.router_runner --port P --metrics-port M --hostname H --target IP:PORT \
        [--mode fast|stream|splice] [--fast-path-binary PATH]
"""

from __future__ import annotations

import argparse
import asyncio
import signal

from craftplane_router.app import Router
from craftplane_router.routes import Entry, Route, State
from craftplane_router.session import SpliceMode
from craftplane_router.settings import FastPathMode, RouterSettings
from craftplane_router.table import RouteTable


async def run(args: argparse.Namespace) -> None:
    host, port = args.target.rsplit(":", 1)
    route = Route("bench", "router", host, int(port), State.RUNNING)
    table = RouteTable(
        [Entry("2026-01-01T00:00:00Z", route, frozenset({args.hostname}))], namespaces={"bench"}
    )
    settings = RouterSettings(
        host="127.0.0.1",
        port=args.port,
        metrics_host="127.0.0.1",
        metrics_port=args.metrics_port,
        splice_mode=SpliceMode.STREAM if args.mode == "fast" else SpliceMode(args.mode),
        fast_path=FastPathMode.ON if args.mode == "fast" else FastPathMode.OFF,
        fast_path_binary=args.fast_path_binary,
        max_connections=100_000,
    )
    router = Router(settings, table)
    await router.start()
    print(f"routing {args.hostname} -> {args.target} on 127.0.0.1:{args.port}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await router.stop(1)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--metrics-port", type=int, required=True)
    parser.add_argument("--hostname", required=True)
    parser.add_argument("--target", required=True)
    parser.add_argument("--mode", default="fast", choices=["fast", "stream", "splice"])
    parser.add_argument("--fast-path-binary", default="craftplane-router-fastpath")
    parser.add_argument("--loop", default="asyncio", choices=["asyncio", "uvloop"])
    args = parser.parse_args()
    if args.loop == "uvloop":
        import uvloop

        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            runner.run(run(args))
    else:
        asyncio.run(run(args))


if __name__ == "__main__":
    main()
