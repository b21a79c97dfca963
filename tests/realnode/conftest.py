"""Fixtures for servers that run for real: the sandbox's real node, a tenant whose servers it
runs, a real Minecraft client (mineflayer) and RCON from the host through the Service."""

from __future__ import annotations

import asyncio
import base64
import json
import secrets
import shutil
import subprocess
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiomcrcon import Client as RconClient

from craftplane.sandbox import node
from craftplane.sandbox.config import SandboxConfig
from craftplane.testing.gateway import Tenant
from craftplane.testing.kubectl import Kubectl
from craftplane.testing.platform import Platform
from craftplane.testing.plugin import drop_tenant, make_tenant
from craftplane.testing.wait import async_wait_for

BOT_DIR = Path(__file__).parent / "bot"


@pytest.fixture(scope="session")
def real_node(platform: Platform) -> SandboxConfig:
    cfg = platform.sandbox
    if cfg is None or not node.enabled(cfg):
        pytest.skip("the real node exists only in the sandbox (CRAFTPLANE_REAL_NODE=true)")
    node.start(cfg)  # idempotent: the session's `up` started it already
    return cfg


@pytest.fixture
def real_tenant(
    real_node: SandboxConfig, kubectl: Kubectl, token_key: str, crds_installed: None
) -> Iterator[Tenant]:
    """A tenant whose namespace the sandbox's placement sends to the real node."""
    tenant = make_tenant(kubectl, token_key, f"real-{secrets.token_hex(3)}", sandbox=real_node)
    yield tenant
    drop_tenant(kubectl, tenant, real_node)


def server_spec(**overrides: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "eula": True,
        "type": "PAPER",
        "version": "1.21.4",
        # The real node has this machine's 2 CPUs; several tests' servers overlap while the
        # namespaces of earlier ones terminate.
        "resources": {"cpu": "250m", "memory": "1Gi"},
        "storage": {"size": "1Gi"},
        # Offline: the sandbox cannot reach Mojang's session servers.
        "properties": {"onlineMode": False, "maxPlayers": 10, "motd": "real node"},
    }
    spec.update(overrides)
    return spec


def apply_server(kubectl: Kubectl, namespace: str, name: str, **overrides: Any) -> None:
    body = {
        "apiVersion": "craftplane.io/v1alpha1",
        "kind": "MinecraftServer",
        "metadata": {"name": name},
        "spec": server_spec(**overrides),
    }
    kubectl.apply(json.dumps(body), namespace)


@dataclass(frozen=True)
class Game:
    """Where a server answers from this host: its Service's ClusterIP, through kube-proxy."""

    host: str
    port: int
    # RCON is on no Service (anything there is reachable by every pod): the pod's own address.
    pod_ip: str
    password: str


def game_of(kubectl: Kubectl, namespace: str, name: str) -> Game:
    service = kubectl.get("service", name, namespace)
    secret = kubectl.get("secret", f"{name}-rcon", namespace)
    pod = kubectl.get("pod", f"{name}-0", namespace)
    assert service is not None and secret is not None and pod is not None
    ports = {p["name"]: p["port"] for p in service["spec"]["ports"]}
    password = base64.b64decode(secret["data"]["rcon-password"]).decode()
    return Game(service["spec"]["clusterIP"], ports["minecraft"], pod["status"]["podIP"], password)


async def rcon(game: Game, command: str) -> str:
    client = RconClient(game.pod_ip, 25575, game.password)
    await client.connect(timeout=10)
    try:
        text, _ = await client.send_cmd(command, timeout=20)
    finally:
        await client.close()
    return str(text)


def bot_available() -> bool:
    return (BOT_DIR / "node_modules" / "mineflayer").is_dir() and shutil.which("node") is not None


async def bot(game: Game, username: str, **options: str | int) -> dict[str, Any]:
    """Run the mineflayer bot once; its JSON report."""
    if not bot_available():
        pytest.fail(
            "the test bot is not installed (make bootstrap runs npm ci in tests/realnode/bot)"
        )
    argv = ["node", str(BOT_DIR / "bot.js"), "--host", game.host, "--port", str(game.port)]
    argv += ["--username", username]
    for key, value in options.items():
        argv += [f"--{key}", str(value)]
    proc = await asyncio.create_subprocess_exec(
        *argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout=120)
    lines = [line for line in out.decode().splitlines() if line.startswith("{")]
    assert lines, f"the bot printed no report (exit {proc.returncode}): {err.decode()[-2000:]}"
    report: dict[str, Any] = json.loads(lines[-1])
    return report


def pv_directory(kubectl: Kubectl, namespace: str, name: str) -> Path:
    """The host directory behind the server's world volume (local-path: a hostPath PV)."""
    claim = kubectl.get("persistentvolumeclaim", f"data-{name}-0", namespace)
    assert claim is not None and claim["spec"].get("volumeName"), claim
    volume = kubectl.get("persistentvolume", claim["spec"]["volumeName"])
    assert volume is not None
    source = volume["spec"].get("hostPath") or volume["spec"].get("local")
    assert source, volume["spec"]
    return Path(source["path"])


class BotSession:
    """A bot that stays online in the background; its report when it leaves."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc

    @classmethod
    async def join(cls, game: Game, username: str, stay: int, **options: str) -> BotSession:
        argv = ["node", str(BOT_DIR / "bot.js"), "--host", game.host, "--port", str(game.port)]
        argv += ["--username", username, "--stay", str(stay)]
        for key, value in options.items():
            argv += [f"--{key}", value]
        proc = await asyncio.create_subprocess_exec(
            *argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        session = cls(proc)

        async def online() -> bool | None:
            try:
                return True if username in await rcon(game, "list") else None
            except OSError:  # RCON not up yet, or the server restarting: not online yet
                return None

        await async_wait_for(online, timeout=60, what=f"{username} online")
        return session

    async def report(self, timeout: float = 120) -> dict[str, Any]:
        out, err = await asyncio.wait_for(self.proc.communicate(), timeout=timeout)
        lines = [line for line in out.decode().splitlines() if line.startswith("{")]
        assert lines, f"the bot printed no report: {err.decode()[-2000:]}"
        report: dict[str, Any] = json.loads(lines[-1])
        return report

    async def leave(self) -> None:
        if self.proc.returncode is None:
            self.proc.terminate()
            await self.proc.wait()


@pytest.fixture
async def bots() -> AsyncIterator[list[BotSession]]:
    sessions: list[BotSession] = []
    yield sessions
    for session in sessions:
        await session.leave()
