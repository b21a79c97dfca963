"""Running a server day to day, for real: the console, its log, a live allowlist, announced
safe stops and scheduled restarts, on the real node with the stand-in server image.

The gateway and the operator are the session's own processes; players are mineflayer bots.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import subprocess
import time
from typing import Any

import httpx
import jwt
import pytest

from craftplane.testing.gateway import Tenant
from craftplane.testing.kubectl import Kubectl
from craftplane.testing.processes import ManagedProcess
from craftplane.testing.servers import wait_phase
from craftplane.testing.wait import async_wait_for, wait_for
from tests.realnode.conftest import (
    BotSession,
    Game,
    apply_server,
    bot,
    game_of,
    pv_directory,
    rcon,
)

pytestmark = [pytest.mark.cluster, pytest.mark.real]

START_TIMEOUT = 180
API = "/api/v1/servers"


def _patch(kubectl: Kubectl, ns: str, name: str, spec: dict[str, Any]) -> None:
    kubectl.run("patch", "mcs", name, "-n", ns, "--type=merge", "-p", json.dumps({"spec": spec}))


def _pod_uid(kubectl: Kubectl, ns: str, name: str) -> str | None:
    pod = kubectl.get("pod", f"{name}-0", ns)
    return None if pod is None else str(pod["metadata"]["uid"])


def _subject(tenant: Tenant) -> str:
    claims = jwt.decode(tenant.token, options={"verify_signature": False})
    return str(claims.get("sub") or tenant.name)


async def _timeline(http: httpx.AsyncClient, tenant: Tenant, name: str) -> list[dict[str, Any]]:
    got = await http.get(f"{API}/{name}/events", params={"limit": 200}, headers=tenant.headers)
    assert got.status_code == 200, got.text
    items: list[dict[str, Any]] = got.json()["items"]
    return items


def _whitelisted(answer: str) -> set[str]:
    _, _, names = answer.partition(":")
    return {n.strip() for n in names.split(",") if n.strip()}


async def _run_ready(kubectl: Kubectl, ns: str, name: str, **spec: Any) -> Game:
    apply_server(kubectl, ns, name, **spec)
    await asyncio.to_thread(wait_phase, kubectl, ns, name, "Running", START_TIMEOUT)
    return game_of(kubectl, ns, name)


async def test_the_console_answers_for_real_only_its_tenant_is_throttled_and_recorded(
    real_tenant: Tenant,
    tenant_b: Tenant,
    kubectl: Kubectl,
    operator: ManagedProcess,
    gateway: ManagedProcess,
    http: httpx.AsyncClient,
) -> None:
    ns = real_tenant.namespace
    await _run_ready(kubectl, ns, "console")
    url = f"{API}/console/console"
    got = await http.post(url, json={"command": "list"}, headers=real_tenant.headers)
    assert got.status_code == 200, got.text
    assert got.json()["output"].startswith("There are 0 of a max of 10 players online"), got.json()
    marker = f"hello-{secrets.token_hex(3)}"
    got = await http.post(url, json={"command": f"say {marker}"}, headers=real_tenant.headers)
    assert got.status_code == 200, got.text
    log = kubectl.run("logs", "console-0", "-n", ns, "-c", "minecraft").stdout
    assert f"[Server] {marker}" in log

    other = await http.post(url, json={"command": "list"}, headers=tenant_b.headers)
    assert other.status_code == 404, other.text

    # A burst of 1,000 commands within about a second: the tenant's bucket lets a few through,
    # the rest are refused before any RCON connection.
    burst = f"burst-{secrets.token_hex(3)}"
    began = time.monotonic()
    answers = await asyncio.gather(
        *(
            http.post(url, json={"command": f"say {burst}"}, headers=real_tenant.headers)
            for _ in range(1000)
        )
    )
    took = time.monotonic() - began
    codes = [a.status_code for a in answers]
    ok = codes.count(200)
    throttled = [a for a in answers if a.status_code == 429]
    assert ok + len(throttled) == 1000, sorted(set(codes))
    assert throttled and all(int(a.headers["Retry-After"]) >= 1 for a in throttled)
    assert ok <= 10 + 5 * (took + 1), f"{ok} commands ran in {took:.1f}s"

    def ran() -> int | None:
        text = kubectl.run("logs", "console-0", "-n", ns, "-c", "minecraft").stdout
        return text.count(f"[Server] {burst}")

    assert wait_for(ran, timeout=10, what="the burst in the log") == ok, "past the limit"

    subject = _subject(real_tenant)

    async def recorded() -> list[dict[str, Any]] | None:
        entries = [e for e in await _timeline(http, real_tenant, "console")]
        console = [e for e in entries if e["type"] == "request.console"]
        return console if len(console) >= 2 + ok else None

    console = await async_wait_for(recorded, timeout=30, what="the commands in the timeline")
    assert {e.get("actor") for e in console} == {subject}
    assert any(marker in (e.get("message") or "") for e in console)


async def test_logs_follow_new_lines_and_show_the_previous_container(
    real_tenant: Tenant,
    kubectl: Kubectl,
    operator: ManagedProcess,
    gateway: ManagedProcess,
    http: httpx.AsyncClient,
) -> None:
    ns = real_tenant.namespace
    game = await _run_ready(kubectl, ns, "logged")
    url = f"{API}/logged/logs"
    marker = f"followed-{secrets.token_hex(3)}"

    async def follow() -> str:
        params = {"tail": "5", "follow": "true"}
        async with http.stream("GET", url, params=params, headers=real_tenant.headers) as got:
            assert got.status_code == 200
            async for line in got.aiter_lines():
                if marker in line:
                    return line
        raise AssertionError("the stream ended before the line")

    reader = asyncio.create_task(follow())
    # Printed again until the stream shows it: every line comes after the request started.
    deadline = time.monotonic() + 30
    while not reader.done() and time.monotonic() < deadline:
        await rcon(game, f"say {marker}")
        await asyncio.wait([reader], timeout=1)
    assert marker in await asyncio.wait_for(reader, timeout=1)

    # The server process exits (as after a crash); the kubelet starts a new container.
    restarts = _restarts(kubectl, ns, "logged")
    await rcon(game, "stop")
    wait_for(
        lambda: True if _restarts(kubectl, ns, "logged") > restarts else None,
        timeout=120,
        what="the container restarted",
    )
    got = await http.get(
        url, params={"previous": "true", "tail": "50"}, headers=real_tenant.headers
    )
    assert got.status_code == 200, got.text
    assert "Stopping the server (stop command)" in got.text, got.text[-2000:]
    assert marker in got.text


def _restarts(kubectl: Kubectl, ns: str, name: str) -> int:
    pod = kubectl.get("pod", f"{name}-0", ns) or {}
    statuses = (pod.get("status") or {}).get("containerStatuses") or [{}]
    return int(statuses[0].get("restartCount", 0))


def _condition(kubectl: Kubectl, ns: str, name: str, kind: str) -> dict[str, Any] | None:
    body = kubectl.get("minecraftserver", name, ns) or {}
    for condition in (body.get("status") or {}).get("conditions") or []:
        if condition["type"] == kind:
            return dict(condition)
    return None


async def test_the_allowlist_is_applied_live_and_in_game_drift_is_reported(
    real_tenant: Tenant, kubectl: Kubectl, operator: ManagedProcess
) -> None:
    ns = real_tenant.namespace
    game = await _run_ready(kubectl, ns, "guarded", allowlist=["Alex", "Steve"])
    uid = _pod_uid(kubectl, ns, "guarded")

    async def listed(expected: set[str]) -> set[str] | None:
        names = _whitelisted(await rcon(game, "whitelist list"))
        return names if names == expected else None

    await async_wait_for(lambda: listed({"Alex", "Steve"}), timeout=30, what="initial list")
    _patch(kubectl, ns, "guarded", {"allowlist": ["Alex", "Notch"]})
    await async_wait_for(lambda: listed({"Alex", "Notch"}), timeout=30, what="add and remove")
    assert _pod_uid(kubectl, ns, "guarded") == uid, "an allowlist change must not restart"

    # An op adds a friend in game: reported, and the spec wins (enforce is the default).
    await rcon(game, "whitelist add Herobrine")

    def drift_event() -> dict[str, Any] | None:
        events = kubectl.json(
            "get", "events", "-n", ns, "--field-selector", "involvedObject.name=guarded"
        )["items"]
        found = [e for e in events if e["reason"] == "AllowlistDrift"]
        return found[-1] if found else None

    event = wait_for(drift_event, timeout=60, what="the drift reported")
    assert "Herobrine" in event["message"], event
    await async_wait_for(lambda: listed({"Alex", "Notch"}), timeout=30, what="drift reverted")

    # The files on the volume agree after a restart.
    kubectl.run("delete", "pod", "guarded-0", "-n", ns, "--wait=true", "--timeout=120s")
    await asyncio.to_thread(wait_phase, kubectl, ns, "guarded", "Running", START_TIMEOUT)
    whitelist = json.loads((pv_directory(kubectl, ns, "guarded") / "whitelist.json").read_text())
    assert {entry["name"] for entry in whitelist} == {"Alex", "Notch"}
    game = game_of(kubectl, ns, "guarded")

    # merge: what players add in game is reported and kept.
    _patch(kubectl, ns, "guarded", {"allowlistMode": "merge"})
    await rcon(game, "whitelist add Herobrine")

    def kept() -> dict[str, Any] | None:
        condition = _condition(kubectl, ns, "guarded", "AllowlistSynced")
        if condition and condition["reason"] == "DriftKept":
            return condition
        return None

    condition = wait_for(kept, timeout=60, what="the drift reported as kept")
    assert "Herobrine" in condition["message"], condition
    assert "Herobrine" in _whitelisted(await rcon(game, "whitelist list"))


async def test_a_stop_with_a_player_online_counts_down_saves_and_exits_cleanly(
    real_tenant: Tenant, kubectl: Kubectl, operator: ManagedProcess, bots: list[BotSession]
) -> None:
    ns = real_tenant.namespace
    game = await _run_ready(kubectl, ns, "announced", lifecycle={"announceSeconds": 10})
    player = await BotSession.join(game, "Alex", stay=120)
    bots.append(player)
    # The operator announces to the players it counts: wait until its count has Alex.
    wait_for(
        lambda: True if _online(kubectl, ns, "announced") == 1 else None,
        timeout=60,
        what="the operator counting the player",
    )
    await rcon(game, "setblock 6 70 6 gold_block")  # not saved yet: autosave is every 5 min
    pod = kubectl.get("pod", "announced-0", ns)
    assert pod is not None
    grace = pod["spec"]["terminationGracePeriodSeconds"]
    assert "lifecycle" not in pod["spec"]["containers"][0], "no preStop hook"
    watch = subprocess.Popen(
        [kubectl.binary, "get", "pod", "announced-0", "-n", ns, "-w", "-o", "json"],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "KUBECONFIG": str(kubectl.kubeconfig)},
    )
    try:
        _patch(kubectl, ns, "announced", {"stopped": True})
        report = await player.report(timeout=90)
        terminating = time.monotonic()
        wait_for(
            lambda: True if kubectl.get("pod", "announced-0", ns) is None else None,
            timeout=grace + 30,
            what="the pod gone",
        )
        took = time.monotonic() - terminating
    finally:
        watch.terminate()
    seen = _json_stream(watch.communicate()[0])
    countdown = [m for m in report["messages"] if "stopping in" in m.lower()]
    assert any("10 second" in m for m in countdown), report["messages"]
    assert any("1 second" in m for m in countdown), report["messages"]
    assert took < grace, f"{took:.0f}s from the kick to the pod's end, grace {grace}s"
    finals = [
        s["state"]["terminated"]
        for p in seen
        for s in (p.get("status") or {}).get("containerStatuses") or []
        if "terminated" in s.get("state", {})
    ]
    assert finals, "the watch saw no terminated container"
    assert finals[-1]["exitCode"] == 0 and finals[-1]["reason"] != "OOMKilled", finals[-1]

    _patch(kubectl, ns, "announced", {"stopped": False})
    await asyncio.to_thread(wait_phase, kubectl, ns, "announced", "Running", START_TIMEOUT)
    check = await bot(game_of(kubectl, ns, "announced"), "Steve", block="6,70,6")
    assert check.get("block") == "gold_block", check


def _online(kubectl: Kubectl, ns: str, name: str) -> int | None:
    body = kubectl.get("minecraftserver", name, ns) or {}
    players = (body.get("status") or {}).get("players") or {}
    online = players.get("online")
    return None if online is None else int(online)


def _json_stream(text: str) -> list[dict[str, Any]]:
    decoder = json.JSONDecoder()
    objects: list[dict[str, Any]] = []
    at = 0
    while True:
        while at < len(text) and text[at].isspace():
            at += 1
        if at >= len(text):
            return objects
        try:
            obj, at = decoder.raw_decode(text, at)
        except json.JSONDecodeError:
            return objects  # the watch was stopped mid-object
        objects.append(obj)


async def test_a_scheduled_restart_waits_for_an_empty_server(
    real_tenant: Tenant, kubectl: Kubectl, operator: ManagedProcess, bots: list[BotSession]
) -> None:
    ns = real_tenant.namespace
    schedule = {"cron": "* * * * *", "whenEmptyOnly": True}
    game = await _run_ready(kubectl, ns, "nightly", lifecycle={"restartSchedule": schedule})
    uid = _pod_uid(kubectl, ns, "nightly")
    player = await BotSession.join(game, "Alex", stay=240)
    bots.append(player)

    def status() -> dict[str, Any]:
        return dict((kubectl.get("minecraftserver", "nightly", ns) or {}).get("status") or {})

    wait_for(lambda: status().get("nextRestart"), timeout=60, what="the next slot in status")
    # The slot passes with a player online: the server keeps running and says it waits.
    wait_for(
        lambda: True if "waiting" in (status().get("message") or "").lower() else None,
        timeout=150,
        what="a due restart waiting for the player to leave",
    )
    assert _pod_uid(kubectl, ns, "nightly") == uid, "restarted with a player online"
    assert status().get("phase") == "Running", status()

    await player.leave()
    wait_for(
        lambda: True if _pod_uid(kubectl, ns, "nightly") not in (None, uid) else None,
        timeout=120,
        what="the restart once empty",
    )
    await asyncio.to_thread(wait_phase, kubectl, ns, "nightly", "Running", START_TIMEOUT)
    after = status()
    assert after["lastRestart"]["by"] == "schedule", after
    assert after["nextRestart"] > after["lastRestart"]["doneAt"], after
