"""Game traffic through the router: real servers on the real node behind one address, chosen
by the hostname a real client (mineflayer) sends; router replicas that fail independently."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from craftplane.testing.gateway import Tenant
from craftplane.testing.kubectl import Kubectl
from craftplane.testing.platform import Platform
from craftplane.testing.processes import ManagedProcess
from craftplane.testing.router import game_port, ping, router_process, wait_ready
from craftplane.testing.servers import wait_phase
from craftplane.testing.wait import async_wait_for
from tests.realnode.conftest import BotSession, Game, apply_server, bot, game_of, rcon

pytestmark = [pytest.mark.cluster, pytest.mark.real]

START_TIMEOUT = 180
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@pytest.fixture(scope="module")
def routers(platform: Platform, crds_installed: None) -> Iterator[list[ManagedProcess]]:
    """Two router replicas, as the Deployment runs them: each on its own, no leader."""
    started = [router_process(platform, index, str(ARTIFACTS)).start() for index in (0, 1)]
    for router in started:
        wait_ready(router)
    yield started
    for router in started:
        router.terminate()


def _status(kubectl: Kubectl, namespace: str, name: str) -> dict[str, Any]:
    body = kubectl.get("minecraftserver", name, namespace)
    assert body is not None
    status: dict[str, Any] = body.get("status") or {}
    return status


def _start(kubectl: Kubectl, namespace: str, name: str, motd: str) -> str:
    apply_server(
        kubectl,
        namespace,
        name,
        properties={"onlineMode": False, "maxPlayers": 10, "motd": motd},
    )
    return name


def _through(router: ManagedProcess, behind: Game | None = None) -> Game:
    """A client's view: the router's address (RCON, for checks, still to the server's pod)."""
    return Game(
        "127.0.0.1",
        game_port(router),
        behind.pod_ip if behind else "",
        behind.password if behind else "",
    )


async def _players_via(port: int, hostname: str, online: int) -> bool | None:
    status = await ping(port, hostname)
    return True if status.players.online == online else None


async def test_two_servers_behind_one_address_each_by_its_hostname(
    real_tenant: Tenant,
    kubectl: Kubectl,
    operator: ManagedProcess,
    routers: list[ManagedProcess],
    bots: list[BotSession],
) -> None:
    ns, tenant = real_tenant.namespace, real_tenant.name
    names = [_start(kubectl, ns, "alpha", "alpha world"), _start(kubectl, ns, "beta", "beta world")]
    for name in names:
        wait_phase(kubectl, ns, name, "Running", timeout=START_TIMEOUT)
    hosts = {name: f"{name}.{tenant}.mc.localhost" for name in names}
    for name in names:
        status = _status(kubectl, ns, name)
        assert status["hostnames"][0] == hosts[name]
        # What a player is shown: the router's hostname, never the unreachable ClusterIP.
        assert status["address"]["reach"] == "router"
        assert status["address"]["host"] == hosts[name]
        assert status["internalAddress"]["host"] == game_of(kubectl, ns, name).host
    games = {name: game_of(kubectl, ns, name) for name in names}
    await rcon(games["alpha"], "setblock 4 70 4 gold_block")
    await rcon(games["beta"], "setblock 4 70 4 diamond_block")

    router = routers[0]
    port = game_port(router)
    via = _through(router)
    alpha = await bot(via, "alicebot", fakeHost=hosts["alpha"], block="4,70,4")
    beta = await bot(via, "bobbot", fakeHost=hosts["beta"], block="4,70,4")
    assert alpha.get("spawned") and alpha["block"] == "gold_block", alpha
    assert beta.get("spawned") and beta["block"] == "diamond_block", beta
    assert "alpha world" in (await ping(port, hosts["alpha"])).motd.to_plain()
    assert "beta world" in (await ping(port, hosts["beta"])).motd.to_plain()

    # Unknown names: a readable status answer, and a login refused with a readable reason.
    nowhere = f"nowhere.{tenant}.mc.localhost"
    assert "No server" in (await ping(port, nowhere)).motd.to_plain()
    refused = await bot(via, "lostbot", fakeHost=nowhere)
    assert not refused.get("spawned") and nowhere in str(refused.get("kicked")), refused

    # Status pings pass through to each server: its own, real player count.
    stayer = await BotSession.join(
        _through(router, games["alpha"]), "stayer", 60, fakeHost=hosts["alpha"]
    )
    bots.append(stayer)
    await async_wait_for(
        lambda: _players_via(port, hosts["alpha"], 1), timeout=30, what="alpha: 1 online"
    )
    assert (await ping(port, hosts["beta"])).players.online == 0
    assert router.metric("craftplane_router_connections_total") >= 6


async def test_killing_one_router_drops_nothing_of_the_other_and_it_routes_again_soon(
    real_tenant: Tenant,
    kubectl: Kubectl,
    operator: ManagedProcess,
    routers: list[ManagedProcess],
) -> None:
    ns, tenant = real_tenant.namespace, real_tenant.name
    _start(kubectl, ns, "gamma", "gamma world")
    wait_phase(kubectl, ns, "gamma", "Running", timeout=START_TIMEOUT)
    host = f"gamma.{tenant}.mc.localhost"
    game = game_of(kubectl, ns, "gamma")
    first, second = routers
    # Wait until both replicas have seen the new server's hostname.
    for router in routers:
        await async_wait_for(
            lambda r=router: _players_via(game_port(r), host, 0), timeout=30, what="routed"
        )
    session = await BotSession.join(_through(second, game), "steady", 25, fakeHost=host)
    try:
        first.kill()
        # The connection through the other replica carries on: still online after the kill,
        # and the bot's whole stay ends normally (not kicked, not cut off).
        assert "steady" in await rcon(game, "list")
        report = await session.report(timeout=90)
    finally:
        await session.leave()
    assert report.get("spawned") and not report.get("ended") and not report.get("kicked"), report
    assert not report.get("error"), report

    restarted = time.monotonic()
    first.start()
    wait_ready(first, timeout=30)
    back = await bot(_through(first), "returner", fakeHost=host, block="4,70,4")
    elapsed = time.monotonic() - restarted
    assert back.get("spawned"), back
    assert elapsed < 20, f"the restarted router took {elapsed:.1f}s to route again"
