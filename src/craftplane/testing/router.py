"""The router under test: its processes, and a status ping through it by hostname.

The sandbox's hostnames (``*.mc.localhost``) are not in this host's resolver, so a client
connects to the router's address and sends the hostname in the handshake, as a player's
client does after resolving it (mineflayer's ``fakeHost``; mcstatus's client given the name).
"""

from __future__ import annotations

import os
from pathlib import Path

from mcstatus._net.address import Address
from mcstatus._protocol.io.connection import TCPAsyncSocketConnection
from mcstatus._protocol.java_client import AsyncJavaClient
from mcstatus.responses import JavaStatusResponse

from craftplane.testing.platform import Platform
from craftplane.testing.processes import ManagedProcess, console_script, free_port

# The stand-in server's protocol (1.21.4): what a real client of its version sends.
PROTOCOL = 769


def router_process(platform: Platform, index: int, artifacts: str) -> ManagedProcess:
    game, metrics = free_port(), free_port()
    env = {
        **os.environ,
        "KUBECONFIG": str(platform.kubeconfig),
        "CRAFTPLANE_ROUTER_HOST": "127.0.0.1",
        "CRAFTPLANE_ROUTER_PORT": str(game),
        "CRAFTPLANE_ROUTER_METRICS_HOST": "127.0.0.1",
        "CRAFTPLANE_ROUTER_METRICS_PORT": str(metrics),
        "CRAFTPLANE_ROUTER_LOG_LEVEL": "DEBUG",
        # What the sandbox and the image run: connections to running servers through the
        # compiled fast path (built by `make bootstrap` beside the console scripts).
        "CRAFTPLANE_ROUTER_FAST_PATH": "on",
        "CRAFTPLANE_ROUTER_FAST_PATH_BINARY": console_script("craftplane-router-fastpath"),
    }
    return ManagedProcess(
        name=f"router-{index}",
        argv=[console_script("craftplane-router")],
        env=env,
        log_path=Path(artifacts) / f"router-{index}.log",
        http_port=metrics,
    )


def game_port(router: ManagedProcess) -> int:
    return int(router.env["CRAFTPLANE_ROUTER_PORT"])


def wait_ready(router: ManagedProcess, timeout: float = 60) -> None:
    """Until the router has listed the cluster's servers (its /readyz)."""
    router.wait_until_answered("/readyz", "ready", timeout)


async def ping(port: int, hostname: str, host: str = "127.0.0.1") -> JavaStatusResponse:
    """A status ping to ``host:port`` asking for ``hostname`` in the handshake."""
    async with TCPAsyncSocketConnection(Address(host, port), 5) as connection:
        client = AsyncJavaClient(connection, address=Address(hostname, port), version=PROTOCOL)
        await client.handshake()
        return await client.read_status()
