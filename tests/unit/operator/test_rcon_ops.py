"""The RCON side of day 2 with a fake server: allowlist syncs and announcements."""

from __future__ import annotations

import asyncio

import pytest

from craftplane import rcon
from craftplane.contracts.lifecycle import AllowlistMode
from craftplane.contracts.status import ConditionStatus
from craftplane_operator.allowlist_sync import APPLIED_ANNOTATION, Applied, Desired, read_applied
from craftplane_operator.countdown import Countdowns
from craftplane_operator.disruption import Announce
from craftplane_operator.rcon_ops import AllowlistSyncer

pytestmark = pytest.mark.unit

KEY = "team-a/survival"
TARGET = rcon.Target("10.0.0.9", 25575, "pw")


class FakeServer:
    """Enough of a Minecraft server's console: the allowlist, ops, say and save-all."""

    def __init__(self, allowlist: list[str] | None = None, *, down: bool = False) -> None:
        self.allowlist = list(allowlist or [])
        self.ops: set[str] = set()
        self.ran: list[str] = []
        self.down = down

    async def locate(self, namespace: str, name: str) -> rcon.Target:
        if self.down:
            raise rcon.RconError("the server is not running")
        return TARGET

    async def run(self, target: rcon.Target, command: str) -> str:
        self.ran.append(command)
        verb, *args = command.split(" ")
        if verb == "whitelist" and args[0] == "list":
            names = ", ".join(self.allowlist)
            return f"There are {len(self.allowlist)} whitelisted player(s): {names}"
        if verb == "whitelist" and args[0] == "add":
            self.allowlist.append(args[1])
        elif verb == "whitelist" and args[0] == "remove":
            self.allowlist = [n for n in self.allowlist if n.lower() != args[1].lower()]
        elif verb == "op":
            self.ops.add(args[0])
        elif verb == "deop":
            self.ops.discard(args[0])
        return ""


class Harness:
    def __init__(self, server: FakeServer) -> None:
        self.server = server
        self.annotations: dict[str, str] = {}
        self.changed: list[str] = []
        self.requeued: list[float] = []
        self.syncer = AllowlistSyncer(
            server.locate,
            server.run,
            self.annotate,
            interval=5.0,
            on_change=self.changed.append,
            requeue=lambda key, delay: self.requeued.append(delay),
        )

    async def annotate(self, namespace: str, name: str, annotations: dict[str, str]) -> None:
        self.annotations.update(annotations)

    async def sync(self, desired: Desired) -> None:
        self.syncer.ensure(KEY, desired, read_applied(self.annotations))
        await asyncio.gather(*self.syncer._tasks.values())


async def test_sync_applies_the_spec_and_confirms() -> None:
    harness = Harness(FakeServer(["Alex", "Griefer"]))
    await harness.sync(Desired(("Alex", "Steve"), ("Steve",), AllowlistMode.ENFORCE))
    server = harness.server
    assert server.allowlist == ["Alex", "Steve"] and server.ops == {"Steve"}
    assert server.ran[0] == "whitelist list" and server.ran[-1] == "whitelist list"
    assert "whitelist on" in server.ran
    outcome = harness.syncer.outcome(KEY)
    assert outcome is not None and outcome.reason == "DriftReverted"
    assert "Griefer" in outcome.message and outcome.status is ConditionStatus.TRUE
    assert read_applied(harness.annotations) == Applied(("Steve",), True, ("Alex", "Steve"))
    assert harness.changed == [KEY] and harness.requeued == [5.0]


async def test_a_second_sync_only_reads_and_deops_what_left_the_spec() -> None:
    harness = Harness(FakeServer(["Alex"]))
    await harness.sync(Desired(("Alex",), ("Alex", "Steve"), AllowlistMode.ENFORCE))
    harness.server.ran.clear()
    harness.syncer._records.clear()  # as if the interval had passed
    await harness.sync(Desired(("Alex",), ("Alex",), AllowlistMode.ENFORCE))
    assert harness.server.ran == ["whitelist list", "deop Steve", "whitelist list"]
    assert harness.annotations[APPLIED_ANNOTATION] == Applied(("Alex",), True, ("Alex",)).encode()


async def test_an_unchanged_spec_is_not_synced_again_within_the_interval() -> None:
    harness = Harness(FakeServer(["Alex"]))
    desired = Desired(("Alex",), (), AllowlistMode.ENFORCE)
    await harness.sync(desired)
    harness.server.ran.clear()
    await harness.sync(desired)
    assert harness.server.ran == []
    await harness.sync(Desired(("Alex", "Steve"), (), AllowlistMode.ENFORCE))
    assert "whitelist add Steve" in harness.server.ran


async def test_rcon_down_is_unknown_and_retried_with_backoff() -> None:
    harness = Harness(FakeServer(down=True))
    await harness.sync(Desired(("Alex",), (), AllowlistMode.ENFORCE))
    outcome = harness.syncer.outcome(KEY)
    assert outcome is not None
    assert (outcome.status, outcome.reason) == (ConditionStatus.UNKNOWN, "RconUnavailable")
    assert harness.requeued == [1.0]


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds


async def run_countdown(server: FakeServer, announce: Announce) -> tuple[Countdowns, list[str]]:
    clock = Clock()
    changed: list[str] = []
    notices: list[str] = []

    async def notify(key: str, reason: str, message: str) -> None:
        notices.append(reason)

    countdowns = Countdowns(
        server.locate, server.run, changed.append, notify, sleep=clock.sleep, clock=clock
    )
    countdowns.start(KEY, announce)
    view = countdowns.view(KEY)
    assert view is not None and not view.done and view.remaining == announce.seconds
    await asyncio.gather(*(r.task for r in countdowns._by_key.values() if r.task))
    return countdowns, notices


async def test_a_countdown_says_each_mark_then_saves() -> None:
    server = FakeServer()
    countdowns, notices = await run_countdown(server, Announce("stop@3", "stopping", 5, 1))
    assert server.ran == [
        "say Server stopping in 5 seconds",
        "say Server stopping in 4 seconds",
        "say Server stopping in 3 seconds",
        "say Server stopping in 2 seconds",
        "say Server stopping in 1 second",
        "save-all",
    ]
    view = countdowns.view(KEY)
    assert view is not None and view.done and view.request == "stop@3"
    assert notices == []
    # The same request is not run twice; once through, it is forgotten.
    countdowns.start(KEY, Announce("stop@3", "stopping", 5, 1))
    assert countdowns.view(KEY) == view
    countdowns.forget_done(KEY)
    assert countdowns.view(KEY) is None


async def test_with_nobody_online_only_saves() -> None:
    server = FakeServer()
    await run_countdown(server, Announce("restart:t", "restarting", 0, 0))
    assert server.ran == ["save-all"]


async def test_rcon_failure_is_reported_and_the_stop_proceeds() -> None:
    countdowns, notices = await run_countdown(
        FakeServer(down=True), Announce("stop@3", "stopping", 30, 2)
    )
    view = countdowns.view(KEY)
    assert view is not None and view.done
    assert notices == ["AnnouncementFailed"]
