"""Player counts come from a real Server List Ping and follow players joining and leaving."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from nats.aio.client import Client

from craftplane.contracts import events as contract
from craftplane.testing.kubectl import Kubectl
from craftplane.testing.mcserver import FakeMinecraftServer, joined
from craftplane.testing.processes import ManagedProcess
from craftplane.testing.servers import wait_phase
from craftplane.testing.wait import async_wait_for
from tests.operator.conftest import stream_events

pytestmark = pytest.mark.cluster


@pytest.fixture
async def game() -> AsyncIterator[FakeMinecraftServer]:
    server = await FakeMinecraftServer(max_players=20).start()
    yield server
    await server.stop()


async def test_player_count_follows_joins_and_leaves(
    kubectl: Kubectl,
    namespace: str,
    operator: ManagedProcess,
    game: FakeMinecraftServer,
    nc: Client,
) -> None:
    manifest = f"""
apiVersion: craftplane.io/v1alpha1
kind: MinecraftServer
metadata:
  name: lobby
  annotations:
    craftplane.io/ping-target: "{game.address}"
spec:
  eula: true
"""
    kubectl.apply(manifest, namespace)
    wait_phase(kubectl, namespace, "lobby", "Running")

    async def players(online: int) -> dict[str, Any] | None:
        body = kubectl.get("minecraftserver", "lobby", namespace) or {}
        found: dict[str, Any] = (body.get("status") or {}).get("players") or {}
        return found if found.get("online") == online else None

    first = await async_wait_for(lambda: players(0), timeout=30, what="0 players")
    assert first["max"] == 20
    async with joined(game.address, "Alex"):
        joined_status = await async_wait_for(lambda: players(1), timeout=30, what="1 player")
        assert joined_status["sample"] == ["Alex"]
        assert joined_status["summary"] == "1/20"
    await async_wait_for(lambda: players(0), timeout=30, what="back to 0 players")
    table = kubectl.run("get", "mcs", "-n", namespace, "lobby").stdout
    assert "0/20" in table

    async def counts_published() -> list[int] | None:
        seen = [
            e.players_online
            for e in await stream_events(nc, namespace)
            if e.type is contract.EventType.K8S_RUNNING and e.players_online is not None
        ]
        return seen if seen[-3:] == [0, 1, 0] else None

    await async_wait_for(counts_published, timeout=30, what="0 -> 1 -> 0 published")
