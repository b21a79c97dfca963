"""Sleep when empty, wake on join, for real: a server on the real node behind the router falls
asleep once its last player (a real client, mineflayer) left, shows the sleeping MOTD, wakes on
a login, and says so in its events and the gateway's timeline; a server whose wakes fail goes
back to sleep each time and, after three, joins no longer wake it until its spec changes.

The test operator counts a minute of spec.hibernation.afterEmptyMinutes as a second
(CRAFTPLANE_OPERATOR_HIBERNATION_MINUTE_SECONDS=1, in craftplane.testing.plugin). The router
runs as a process with the test's kubeconfig: its least-privilege identity (RBAC and the
admission policy craftplane-router-wake) is checked in tests/deploy instead.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from craftplane.clock import utcnow
from craftplane.contracts.hibernation import (
    HIBERNATING_REASON,
    MAX_FAILED_WAKES,
    WAKE_FAILED_REASON,
    WAKE_REQUEST_ANNOTATION,
    WAKE_REQUESTER_ANNOTATION,
    WAKING_REASON,
    parse_time,
)
from craftplane.testing.gateway import Tenant
from craftplane.testing.kubectl import Kubectl
from craftplane.testing.platform import Platform
from craftplane.testing.processes import ManagedProcess
from craftplane.testing.router import game_port, ping, router_process, wait_ready
from craftplane.testing.servers import wait_phase
from craftplane.testing.wait import async_wait_for, wait_for
from tests.realnode.conftest import BotSession, Game, apply_server, bot

pytestmark = [pytest.mark.cluster, pytest.mark.real]

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
# "Minutes" of spec.hibernation: seconds under the test operator. Long enough for a bot to
# join a server that just came up, before its clock (which starts at Running) runs out.
AFTER_EMPTY = 30
# The clock, a ping, the save and the pod's stop (its grace period is the stop's).
SLEEP_TIMEOUT = AFTER_EMPTY + 120
START_TIMEOUT = 180
WAKE_TIMEOUT = 120  # spec.hibernation.wakeTimeoutSeconds
# The router holds a player when the last wake took less than this (its default).
HOLD_UNDER = 20


@pytest.fixture(scope="module")
def router(platform: Platform, crds_installed: None) -> Iterator[ManagedProcess]:
    # Its own index: test_router's replicas (0 and 1) keep their logs.
    started = router_process(platform, 2, str(ARTIFACTS)).start()
    wait_ready(started)
    yield started
    started.terminate()


def _via(router: ManagedProcess) -> Game:
    """What a player dials: the router (RCON, unused here, would go to no pod)."""
    return Game("127.0.0.1", game_port(router), "", "")


def _body(kubectl: Kubectl, ns: str, name: str) -> dict[str, Any]:
    body = kubectl.get("minecraftserver", name, ns)
    assert body is not None
    return body


def _ready(body: dict[str, Any]) -> dict[str, Any]:
    conditions = (body.get("status") or {}).get("conditions") or []
    return next((c for c in conditions if c.get("type") == "Ready"), {})


def _condition(body: dict[str, Any], kind: str) -> dict[str, Any]:
    conditions = (body.get("status") or {}).get("conditions") or []
    return next((c for c in conditions if c.get("type") == kind), {})


def _hibernation(body: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = (body.get("status") or {}).get("hibernation") or {}
    return found


def _annotations(body: dict[str, Any]) -> dict[str, str]:
    found: dict[str, str] = body["metadata"].get("annotations") or {}
    return found


def _password(kubectl: Kubectl, ns: str, name: str) -> str:
    secret = kubectl.get("secret", f"{name}-rcon", ns)
    assert secret is not None
    return base64.b64decode(secret["data"]["rcon-password"]).decode()


def _apply(kubectl: Kubectl, ns: str, name: str, **overrides: Any) -> None:
    hibernation = {"afterEmptyMinutes": AFTER_EMPTY, "wakeTimeoutSeconds": WAKE_TIMEOUT}
    properties = {"onlineMode": False, "maxPlayers": 10, "motd": f"{name} world"}
    apply_server(kubectl, ns, name, hibernation=hibernation, properties=properties, **overrides)


def wait_asleep(kubectl: Kubectl, ns: str, name: str, timeout: float) -> dict[str, Any]:
    """Until the server sleeps: Stopped for hibernation, and its pod gone."""

    def probe() -> dict[str, Any] | None:
        body = _body(kubectl, ns, name)
        asleep = (body.get("status") or {}).get("phase") == "Stopped"
        asleep = asleep and _ready(body).get("reason") == HIBERNATING_REASON
        if asleep and kubectl.get("pod", f"{name}-0", ns) is None:
            return body
        return None

    return wait_for(probe, timeout=timeout, what=f"{ns}/{name} asleep")


def _events(kubectl: Kubectl, ns: str, name: str) -> list[tuple[str, str, str]]:
    listed = kubectl.json(
        "get", "events", "-n", ns, "--field-selector", f"involvedObject.name={name}"
    )
    return [(e["type"], e["reason"], e.get("message") or "") for e in listed["items"]]


async def _motd(router: ManagedProcess, host: str, words: str) -> bool | None:
    status = await ping(game_port(router), host)
    return True if words in status.motd.to_plain() else None


async def _timeline(http: httpx.AsyncClient, tenant: Tenant, name: str) -> list[dict[str, Any]]:
    """The server's timeline, oldest first."""
    answer = await http.get(
        f"/api/v1/servers/{name}/events", params={"limit": 200}, headers=tenant.headers
    )
    assert answer.status_code == 200, answer.text
    items: list[dict[str, Any]] = answer.json()["items"]
    return list(reversed(items))


def _slept_woke_ran(entries: list[dict[str, Any]], player: str) -> bool | None:
    """hibernated, then woken by a join (player), then running: in that order."""
    steps = iter(entries)
    slept = any(
        e.get("reason") == HIBERNATING_REASON and e.get("status") == "stopped" for e in steps
    )
    woke = any(
        e.get("reason") == WAKING_REASON
        and f"Woken by a join ({player})" in (e.get("message") or "")
        for e in steps
    )
    ran = any(e.get("phase") == "Running" for e in steps)
    return True if slept and woke and ran else None


async def test_an_empty_server_sleeps_and_a_join_wakes_it(
    real_tenant: Tenant,
    kubectl: Kubectl,
    operator: ManagedProcess,
    gateway: ManagedProcess,
    http: httpx.AsyncClient,
    router: ManagedProcess,
    bots: list[BotSession],
) -> None:
    ns, name = real_tenant.namespace, "sleepy"
    host = f"{name}.{real_tenant.name}.mc.localhost"
    _apply(kubectl, ns, name)
    wait_phase(kubectl, ns, name, "Running", timeout=START_TIMEOUT)
    await async_wait_for(lambda: _motd(router, host, f"{name} world"), timeout=30, what="routed")

    # A player keeps it up: the operator counts them, and the empty clock does not run.
    pod = kubectl.get("pod", f"{name}-0", ns)
    assert pod is not None
    stayer = await BotSession.join(
        Game("127.0.0.1", game_port(router), pod["status"]["podIP"], _password(kubectl, ns, name)),
        "stayer",
        8,
        fakeHost=host,
    )
    bots.append(stayer)
    counted = wait_for(
        lambda: (
            (b := _body(kubectl, ns, name))
            and ((b.get("status") or {}).get("players") or {}).get("online") == 1
            and b
        ),
        timeout=30,
        what="1 player counted",
    )
    assert "emptySince" not in _hibernation(counted), counted["status"]
    report = await stayer.report(timeout=60)
    assert report.get("spawned"), report
    left = utcnow()

    # The last one left: after afterEmptyMinutes it sleeps, its spec untouched (GitOps owns it).
    asleep = await asyncio.to_thread(wait_asleep, kubectl, ns, name, SLEEP_TIMEOUT)
    slept_at = parse_time(_hibernation(asleep).get("hibernatedAt"))
    assert slept_at is not None and slept_at >= left + timedelta(seconds=AFTER_EMPTY - 3)
    assert asleep["spec"].get("stopped") is not True
    sts = kubectl.get("statefulset", name, ns)
    assert sts is not None and sts["spec"]["replicas"] == 0
    assert ("Normal", HIBERNATING_REASON) in [(t, r) for t, r, _ in _events(kubectl, ns, name)]
    assert _condition(asleep, "WakeOnJoin").get("status") == "True"

    # The server list shows it asleep; a ping never wakes it (no wake request is written).
    await async_wait_for(lambda: _motd(router, host, "Sleeping"), timeout=30, what="sleeping MOTD")
    assert WAKE_REQUEST_ANNOTATION not in _annotations(_body(kubectl, ns, name))
    assert _ready(_body(kubectl, ns, name)).get("reason") == HIBERNATING_REASON

    # The first login wakes it: its start time is not known yet, so the player is told to rejoin.
    first = await bot(_via(router), "wakerbot", fakeHost=host)
    kicked = str(first.get("kicked"))
    assert not first.get("spawned") and "is starting" in kicked and "rejoin" in kicked, first
    asked = _annotations(_body(kubectl, ns, name))
    assert asked.get(WAKE_REQUESTER_ANNOTATION) == "join:wakerbot", asked
    running = wait_phase(kubectl, ns, name, "Running", timeout=START_TIMEOUT)
    record = _hibernation(running)
    assert record.get("wokenBy") == "join:wakerbot" and record.get("state") == "Awake", record
    assert isinstance(record.get("lastStartSeconds"), int), record
    woken = [m for t, r, m in _events(kubectl, ns, name) if (t, r) == ("Normal", WAKING_REASON)]
    assert any("woken by a join (wakerbot)" in m for m in woken), woken

    # The rejoin joins.
    await async_wait_for(lambda: _motd(router, host, f"{name} world"), timeout=30, what="awake")
    second = await bot(_via(router), "wakerbot", fakeHost=host)
    assert second.get("spawned"), second
    assert router.metric("craftplane_router_wake_requests_total") >= 1

    # The gateway's timeline tells the story: hibernated, woken by a join, running.
    await async_wait_for(
        lambda: _timeline_says(http, real_tenant, name, "wakerbot"),
        timeout=60,
        what="hibernated → woken by a join → running on the timeline",
    )

    # Asleep again, the next join is held while it starts when the last start was quick.
    await asyncio.to_thread(wait_asleep, kubectl, ns, name, SLEEP_TIMEOUT)
    await async_wait_for(lambda: _motd(router, host, "Sleeping"), timeout=30, what="asleep again")
    expected = _hibernation(_body(kubectl, ns, name))["lastStartSeconds"]
    began = utcnow()
    third = await bot(_via(router), "heldbot", fakeHost=host)
    waited = (utcnow() - began).total_seconds()
    if expected < HOLD_UNDER:
        # Held, then forwarded; or, if this start took longer than the router's hold, told to
        # rejoin only after the whole hold (never at once).
        assert third.get("spawned") or waited >= 20, (third, waited)
    else:
        assert "rejoin" in str(third.get("kicked")) and waited < 15, (third, waited)


async def _timeline_says(
    http: httpx.AsyncClient, tenant: Tenant, name: str, player: str
) -> bool | None:
    return _slept_woke_ran(await _timeline(http, tenant, name), player)


def _failed_wakes(kubectl: Kubectl, ns: str, name: str, count: int) -> dict[str, Any] | None:
    body = _body(kubectl, ns, name)
    asleep = (body.get("status") or {}).get("phase") == "Stopped"
    if asleep and _hibernation(body).get("failedWakes") == count:
        return body
    return None


async def test_a_wake_that_fails_goes_back_to_sleep_and_joins_give_up_after_three(
    real_tenant: Tenant,
    kubectl: Kubectl,
    operator: ManagedProcess,
    router: ManagedProcess,
) -> None:
    ns, name = real_tenant.namespace, "fragile"
    host = f"{name}.{real_tenant.name}.mc.localhost"
    _apply(kubectl, ns, name)
    wait_phase(kubectl, ns, name, "Running", timeout=START_TIMEOUT)
    # Nobody joins: it sleeps after its clock.
    await asyncio.to_thread(wait_asleep, kubectl, ns, name, SLEEP_TIMEOUT)

    # Broken while asleep (the stand-in exits at start for this version): the change itself
    # does not wake it.
    kubectl.run(
        "patch", "mcs", name, "-n", ns, "--type=merge", "-p", '{"spec":{"version":"1.20.1"}}'
    )
    changed = wait_for(
        lambda: (
            (b := _body(kubectl, ns, name))
            and (b.get("status") or {}).get("observedGeneration") == b["metadata"]["generation"]
            and b
        ),
        timeout=30,
        what="the new spec observed",
    )
    assert _ready(changed).get("reason") == HIBERNATING_REASON

    for attempt in range(1, MAX_FAILED_WAKES + 1):
        await async_wait_for(lambda: _motd(router, host, "Sleeping"), timeout=60, what="asleep")
        before = _annotations(_body(kubectl, ns, name)).get(WAKE_REQUEST_ANNOTATION)
        report = await bot(_via(router), f"tries{attempt}", fakeHost=host)
        assert "rejoin" in str(report.get("kicked")), report
        assert _annotations(_body(kubectl, ns, name)).get(WAKE_REQUEST_ANNOTATION) != before
        back = await asyncio.to_thread(
            wait_for,
            lambda n=attempt: _failed_wakes(kubectl, ns, name, n),
            timeout=WAKE_TIMEOUT + 60,
            what=f"wake {attempt} failed and back to sleep",
        )
        assert _ready(back).get("reason") == HIBERNATING_REASON

    warnings = [
        m for t, r, m in _events(kubectl, ns, name) if (t, r) == ("Warning", WAKE_FAILED_REASON)
    ]
    assert warnings and "no longer wakes it" in " ".join(warnings), warnings
    blocked = _body(kubectl, ns, name)
    condition = _condition(blocked, "WakeOnJoin")
    assert (condition.get("status"), condition.get("reason")) == ("False", WAKE_FAILED_REASON)
    assert "1.20.1" in _hibernation(blocked).get("lastFailure", ""), _hibernation(blocked)

    # Joins no longer wake it: the router says so and asks for nothing. The sleeping MOTD
    # means its table holds the status write that put it back to sleep, condition and all.
    await async_wait_for(lambda: _motd(router, host, "Sleeping"), timeout=30, what="asleep")
    asked = _annotations(_body(kubectl, ns, name)).get(WAKE_REQUEST_ANNOTATION)
    refused = await bot(_via(router), "tries4", fakeHost=host)
    assert "no longer wakes it" in str(refused.get("kicked")), refused
    assert _annotations(_body(kubectl, ns, name)).get(WAKE_REQUEST_ANNOTATION) == asked
    assert _hibernation(_body(kubectl, ns, name)).get("failedWakes") == MAX_FAILED_WAKES

    # Fixed (a new spec): joins wake it again, and it runs.
    kubectl.run(
        "patch", "mcs", name, "-n", ns, "--type=merge", "-p", '{"spec":{"version":"1.21.4"}}'
    )
    wait_for(
        lambda: _condition(_body(kubectl, ns, name), "WakeOnJoin").get("status") == "True",
        timeout=30,
        what="WakeOnJoin again",
    )
    await async_wait_for(lambda: _motd(router, host, "Sleeping"), timeout=30, what="wakeable")
    woken = await bot(_via(router), "fixer", fakeHost=host)
    assert "rejoin" in str(woken.get("kicked")) or woken.get("spawned"), woken
    wait_phase(kubectl, ns, name, "Running", timeout=START_TIMEOUT)
    assert _hibernation(_body(kubectl, ns, name)).get("failedWakes") == 0
