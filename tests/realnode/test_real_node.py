"""Servers that run for real: the real node, the stand-in image, players, worlds and failures.

Every check here runs a real server process (flying-squid behind the itzg interface) in a real
container on the sandbox's real node, reached from this host through kube-proxy.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from typing import Any

import httpx
import pytest
from nats.aio.client import Client

from craftplane.contracts import events as contract
from craftplane.sandbox.config import SandboxConfig
from craftplane.sandbox.nodeconfig import NODE_KIND_LABEL, NODE_KIND_REAL
from craftplane.testing.gateway import Tenant, connect_ws
from craftplane.testing.kubectl import Kubectl
from craftplane.testing.processes import ManagedProcess
from craftplane.testing.servers import wait_phase
from craftplane.testing.wait import async_wait_for, wait_for
from tests.operator.conftest import stream_events
from tests.realnode.conftest import apply_server, bot, game_of, pv_directory, rcon

pytestmark = [pytest.mark.cluster, pytest.mark.real]

START_TIMEOUT = 180


def _pod(kubectl: Kubectl, namespace: str, name: str) -> dict[str, Any]:
    pod = kubectl.get("pod", f"{name}-0", namespace)
    assert pod is not None, f"no pod for {namespace}/{name}"
    return pod


def _players(kubectl: Kubectl, namespace: str, name: str, online: int) -> dict[str, Any] | None:
    body = kubectl.get("minecraftserver", name, namespace) or {}
    players: dict[str, Any] = (body.get("status") or {}).get("players") or {}
    return players if players.get("online") == online else None


def test_the_real_node_is_ready_beside_the_kwok_nodes(
    real_node: SandboxConfig, kubectl: Kubectl, namespace: str
) -> None:
    nodes = kubectl.json("get", "nodes")["items"]
    by_name = {n["metadata"]["name"]: n for n in nodes}
    real = by_name[real_node.real_node_name]
    conditions = {c["type"]: c["status"] for c in real["status"]["conditions"]}
    assert conditions["Ready"] == "True"
    assert real["metadata"]["labels"][NODE_KIND_LABEL] == NODE_KIND_REAL
    assert {"key": NODE_KIND_LABEL, "value": NODE_KIND_REAL, "effect": "NoSchedule"} in real[
        "spec"
    ]["taints"]
    kwok = [
        n
        for n in nodes
        if (n["metadata"].get("annotations") or {}).get("kwok.x-k8s.io/node") == "fake"
    ]
    assert len(kwok) >= real_node.nodes, "the kwok nodes are still there"
    assert real["status"]["nodeInfo"]["containerRuntimeVersion"].startswith("containerd://")

    # A plain pod on the real node: logs and exec go from the API server to the real kubelet.
    image = json.loads(kubectl.run("get", "node", real_node.real_node_name, "-o", "json").stdout)[
        "status"
    ]["images"]
    server_image = next(n for i in image for n in i["names"] if "craftplane/server" in n)
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "probe"},
        "spec": {
            "nodeSelector": {NODE_KIND_LABEL: NODE_KIND_REAL},
            "tolerations": [{"key": NODE_KIND_LABEL, "operator": "Exists", "effect": "NoSchedule"}],
            "restartPolicy": "Never",
            "containers": [
                {
                    "name": "probe",
                    "image": server_image,
                    "command": ["/bin/sh", "-c", "echo hello from the real node; sleep 300"],
                }
            ],
        },
    }
    kubectl.apply(json.dumps(pod), namespace)
    kubectl.run("wait", "--for=condition=Ready", "pod/probe", "-n", namespace, "--timeout=120s")
    logs = wait_for(
        lambda: (
            (out := kubectl.run("logs", "probe", "-n", namespace, check=False).stdout)
            and "hello" in out
            and out
        ),
        timeout=30,
        what="the probe pod's log",
    )
    assert "hello from the real node" in logs
    exec_out = kubectl.run("exec", "probe", "-n", namespace, "--", "cat", "/etc/os-release").stdout
    assert "bookworm" in exec_out
    kubectl.run("delete", "pod", "probe", "-n", namespace, "--grace-period=1", "--wait=false")


async def test_a_server_runs_for_real_and_counts_a_real_player(
    real_tenant: Tenant,
    kubectl: Kubectl,
    operator: ManagedProcess,
    gateway: ManagedProcess,
    http: httpx.AsyncClient,
    nc: Client,
    real_node: SandboxConfig,
) -> None:
    ns = real_tenant.namespace
    ws = None
    try:
        apply_server(kubectl, ns, "survival")
        body = wait_phase(kubectl, ns, "survival", "Running", timeout=START_TIMEOUT)
        pod = _pod(kubectl, ns, "survival")
        assert pod["spec"]["nodeName"] == real_node.real_node_name
        ready = next(c for c in pod["status"]["conditions"] if c["type"] == "Ready")
        assert ready["status"] == "True", "Running only once the readiness probe (mc-health) passed"
        assert pod["spec"]["containers"][0]["readinessProbe"]["exec"]["command"] == ["mc-health"]
        annotations = body["metadata"].get("annotations") or {}
        assert "craftplane.io/ping-target" not in annotations
        game = game_of(kubectl, ns, "survival")
        # What the router dials; status.address is where players join (through the router,
        # when the platform has one, else this ClusterIP with reach "cluster").
        assert body["status"]["internalAddress"]["host"] == game.host  # the Service's ClusterIP
        assert body["status"]["address"]["reach"] in ("router", "cluster")

        await async_wait_for(
            lambda: _async(_players(kubectl, ns, "survival", 0)), timeout=60, what="0 players"
        )
        # A WebSocket client reading all along (an unread socket stops answering pings).
        ws = await connect_ws(gateway.http_port, real_tenant.token)
        one_on_ws = asyncio.create_task(
            ws.until(
                lambda f: (
                    f.get("type") == "event"
                    and f["server"].get("name") == "survival"
                    and (f["server"].get("players") or {}).get("online") == 1
                ),
                timeout=120,
            )
        )
        joined = asyncio.create_task(bot(game, "Alex", stay=25))
        one = await async_wait_for(
            lambda: _async(_players(kubectl, ns, "survival", 1)), timeout=40, what="1 player"
        )
        assert one["max"] == 10
        # The count is up at login, the name once the player has spawned.
        await async_wait_for(
            lambda: _async((_players(kubectl, ns, "survival", 1) or {}).get("sample") == ["Alex"]),
            timeout=30,
            what="Alex in the status sample",
        )
        report = await joined
        assert report.get("spawned"), report
        await async_wait_for(
            lambda: _async(_players(kubectl, ns, "survival", 0)), timeout=40, what="back to 0"
        )

        async def published() -> list[int] | None:
            counts = [
                e.players_online
                for e in await stream_events(nc, ns)
                if e.type is contract.EventType.K8S_RUNNING and e.players_online is not None
            ]
            return counts if counts[-3:] == [0, 1, 0] else None

        await async_wait_for(published, timeout=30, what="0 -> 1 -> 0 on the stream")
        await one_on_ws

        async def projected() -> dict[str, Any] | None:
            got = await http.get("/api/v1/servers/survival", headers=real_tenant.headers)
            data: dict[str, Any] = got.json() if got.status_code == 200 else {}
            return data if data.get("status") == "running" else None

        row = await async_wait_for(projected, timeout=30, what="the projection")
        assert row["players"] == {"online": 0, "max": 10}, row
    finally:
        if ws is not None:
            await ws.conn.close()


async def _async(value: Any) -> Any:
    return value


def test_placement_is_configuration_not_code(
    kubectl: Kubectl, real_tenant: Tenant, operator: ManagedProcess
) -> None:
    """The StatefulSet differs from a kwok server's only by image, node selector, toleration
    and storage class: what the placement setting says."""
    apply_server(kubectl, real_tenant.namespace, "placed")
    sts = wait_for(
        lambda: kubectl.get("statefulset", "placed", real_tenant.namespace),
        timeout=60,
        what="the StatefulSet",
    )
    pod = sts["spec"]["template"]["spec"]
    assert pod["containers"][0]["image"].startswith("localhost/craftplane/server:")
    assert pod["nodeSelector"] == {NODE_KIND_LABEL: NODE_KIND_REAL}
    assert pod["tolerations"][0]["key"] == NODE_KIND_LABEL
    claim = sts["spec"]["volumeClaimTemplates"][0]["spec"]
    assert claim["storageClassName"] == "craftplane-local"


def _wait_started_again(kubectl: Kubectl, ns: str, name: str, old_uid: str | None) -> None:
    def fresh() -> bool:
        pod = kubectl.get("pod", f"{name}-0", ns)
        if pod is None or pod["metadata"]["uid"] == old_uid:
            return False
        return any(
            c["type"] == "Ready" and c["status"] == "True"
            for c in pod["status"].get("conditions", [])
        )

    wait_for(fresh, timeout=START_TIMEOUT, what=f"{ns}/{name} running again")
    wait_phase(kubectl, ns, name, "Running", timeout=60)


async def test_the_world_survives_stop_start_pod_deletion_and_a_kubelet_restart(
    real_tenant: Tenant, kubectl: Kubectl, operator: ManagedProcess, real_node: SandboxConfig
) -> None:
    from craftplane.sandbox import node, procs

    ns = real_tenant.namespace
    apply_server(kubectl, ns, "world")
    wait_phase(kubectl, ns, "world", "Running", timeout=START_TIMEOUT)
    game = game_of(kubectl, ns, "world")
    assert (await rcon(game, "setblock 8 70 8 gold_block")) == ""
    assert "Saved the game" in await rcon(game, "save-all flush")
    directory = pv_directory(kubectl, ns, "world")
    region = directory / "world" / "region" / "r.0.0.mca"
    assert region.exists() and (directory / "world" / "level.dat").exists()
    assert (directory / "server.properties").read_text().count("motd=real node") == 1

    async def block() -> str | None:
        report = await bot(game_of(kubectl, ns, "world"), "Steve", block="8,70,8")
        found: str | None = report.get("block")
        return found

    assert await block() == "gold_block"

    # Stop and start: the pod goes away, the volume stays, the world comes back.
    kubectl.run(
        "patch", "mcs", "world", "-n", ns, "--type=merge", "-p", '{"spec":{"stopped":true}}'
    )
    wait_phase(kubectl, ns, "world", "Stopped", timeout=120)
    wait_for(lambda: kubectl.get("pod", "world-0", ns) is None, timeout=90, what="pod gone")
    assert region.exists()
    kubectl.run(
        "patch", "mcs", "world", "-n", ns, "--type=merge", "-p", '{"spec":{"stopped":false}}'
    )
    _wait_started_again(kubectl, ns, "world", None)
    assert await block() == "gold_block"

    # kubectl delete pod: the StatefulSet makes a new one on the same volume.
    uid = _pod(kubectl, ns, "world")["metadata"]["uid"]
    kubectl.run("delete", "pod", "world-0", "-n", ns, "--wait=true", "--timeout=90s")
    _wait_started_again(kubectl, ns, "world", uid)
    assert await block() == "gold_block"

    # A kubelet restart leaves the running container alone.
    uid = _pod(kubectl, ns, "world")["metadata"]["uid"]
    started = _pod(kubectl, ns, "world")["status"]["containerStatuses"][0]["state"]["running"]
    procs.stop_pidfile(real_node.run_dir / "kubelet.pid")
    node.start(real_node)
    wait_phase(kubectl, ns, "world", "Running", timeout=60)
    after = _pod(kubectl, ns, "world")
    assert after["metadata"]["uid"] == uid
    assert after["status"]["containerStatuses"][0]["state"]["running"] == started
    assert await block() == "gold_block"


async def test_a_graceful_stop_saves_the_world_before_exit(
    real_tenant: Tenant, kubectl: Kubectl, operator: ManagedProcess
) -> None:
    ns = real_tenant.namespace
    apply_server(kubectl, ns, "saved")
    wait_phase(kubectl, ns, "saved", "Running", timeout=START_TIMEOUT)
    game = game_of(kubectl, ns, "saved")
    # Not flushed: the stand-in, like vanilla, autosaves only every 5 minutes.
    await rcon(game, "setblock 4 70 4 diamond_block")
    grace = _pod(kubectl, ns, "saved")["spec"]["terminationGracePeriodSeconds"]
    began = time.monotonic()
    kubectl.run(
        "patch", "mcs", "saved", "-n", ns, "--type=merge", "-p", '{"spec":{"stopped":true}}'
    )
    wait_for(lambda: kubectl.get("pod", "saved-0", ns) is None, timeout=grace + 30, what="pod gone")
    took = time.monotonic() - began
    assert took < grace, f"the server needed {took:.0f}s, more than its {grace}s grace period"
    kubectl.run(
        "patch", "mcs", "saved", "-n", ns, "--type=merge", "-p", '{"spec":{"stopped":false}}'
    )
    _wait_started_again(kubectl, ns, "saved", None)
    report = await bot(game_of(kubectl, ns, "saved"), "Alex", block="4,70,4")
    assert report.get("block") == "diamond_block", report

    # Deleting the pod is the same SIGTERM: the next pod finds the unsaved change.
    await rcon(game_of(kubectl, ns, "saved"), "setblock 5 70 5 emerald_block")
    uid = _pod(kubectl, ns, "saved")["metadata"]["uid"]
    kubectl.run("delete", "pod", "saved-0", "-n", ns, "--wait=true", f"--timeout={grace}s")
    _wait_started_again(kubectl, ns, "saved", uid)
    report = await bot(game_of(kubectl, ns, "saved"), "Alex", block="5,70,5")
    assert report.get("block") == "emerald_block", report


def test_too_little_memory_is_oomkilled_and_more_memory_brings_it_back(
    real_tenant: Tenant, kubectl: Kubectl, operator: ManagedProcess
) -> None:
    ns = real_tenant.namespace
    # The stand-in holds this much besides its heap, as mods or off-heap buffers would.
    heavy = [{"name": "STANDIN_RESERVE_MEMORY", "value": "560M"}]
    apply_server(kubectl, ns, "hungry", env=heavy, resources={"cpu": "250m", "memory": "512Mi"})
    body = wait_phase(kubectl, ns, "hungry", "Error", timeout=START_TIMEOUT)
    ready = next(c for c in body["status"]["conditions"] if c["type"] == "Ready")
    assert ready["reason"] == "OOMKilled", body["status"]
    assert "spec.resources.memory" in body["status"]["message"]
    assert "512Mi" in body["status"]["message"]
    events = kubectl.json(
        "get", "events", "-n", ns, "--field-selector", "involvedObject.name=hungry"
    )
    assert any(e["reason"] == "OOMKilled" and e["type"] == "Warning" for e in events["items"])
    # The advice names the memory to ask for; asking for it brings the server up.
    advised = re.search(
        r"spec\.resources\.memory to at least (\S+?)[ ,;.)]", body["status"]["message"]
    )
    assert advised, body["status"]["message"]
    kubectl.run(
        "patch", "mcs", "hungry", "-n", ns, "--type=merge",
        "-p", json.dumps({"spec": {"resources": {"memory": advised.group(1)}}}),
    )  # fmt: skip
    wait_phase(kubectl, ns, "hungry", "Running", timeout=START_TIMEOUT)


def test_a_server_that_exits_at_start_shows_its_log_not_an_endless_starting(
    real_tenant: Tenant, kubectl: Kubectl, operator: ManagedProcess
) -> None:
    ns = real_tenant.namespace
    apply_server(kubectl, ns, "broken", version="1.20.1")
    body = wait_phase(kubectl, ns, "broken", "Error", timeout=START_TIMEOUT)
    message = body["status"]["message"]
    assert "VERSION=1.20.1 is not available" in message, message
