"""A MinecraftServer read as a Route: its state, where to dial, its hostnames."""

from __future__ import annotations

from typing import Any

import pytest

from craftplane_router.routes import Route, State, entry_of, route_of, state_of
from tests.unit.router.factories import server

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("changes", "state"),
    [
        ({"phase": "Running"}, State.RUNNING),
        ({"phase": "Starting"}, State.STARTING),
        ({"phase": "Stopped"}, State.STOPPED),
        ({"phase": "Error"}, State.ERROR),
        ({"phase": "Terminating"}, State.STOPPED),
        ({"phase": None}, State.UNKNOWN),
        ({"phase": "Paused"}, State.UNKNOWN),
        ({"phase": "Stopped", "reason": "Hibernating"}, State.SLEEPING),
        # Archiving (issue 15, part 4) is not there yet: its marker is no sleep of ours.
        ({"phase": "Stopped", "reason": "Archived"}, State.SLEEPING),
        ({"phase": "Stopped", "reason": "StoppedByOwner"}, State.STOPPED),
        (
            {
                "phase": "Stopped",
                "conditions": [{"type": "Ready", "status": "False", "reason": "Hibernating"}],
            },
            State.SLEEPING,
        ),
        # Only a stopped server sleeps: a marker left on a running one does not hide it.
        ({"phase": "Running", "reason": "Hibernating"}, State.RUNNING),
        (
            {
                "phase": "Starting",
                "conditions": [{"type": "Ready", "status": "False", "reason": "Waking"}],
            },
            State.WAKING,
        ),
        ({"phase": "Starting", "reason": "PodStarting"}, State.STARTING),
        ({"phase": "Running", "reason": "Waking"}, State.RUNNING),
    ],
)
def test_the_state_follows_the_phase(changes: dict[str, Any], state: State) -> None:
    phase = changes.pop("phase")
    assert state_of(server(phase=phase, **changes)) is state


def _asleep(**status: Any) -> dict[str, Any]:
    ready = {"type": "Ready", "status": "False", "reason": "Hibernating"}
    return server(phase="Stopped", conditions=[ready, *status.pop("conditions", [])], **status)


def test_a_sleeping_route_carries_its_last_start_and_whether_a_join_wakes_it() -> None:
    plain = route_of(_asleep())
    assert (plain.state, plain.start_seconds, plain.wakeable) == (State.SLEEPING, None, True)
    measured = route_of(_asleep(hibernation={"state": "Asleep", "lastStartSeconds": 12}))
    assert measured.start_seconds == 12
    blocked = {"type": "WakeOnJoin", "status": "False", "reason": "WakeFailed"}
    assert not route_of(_asleep(conditions=[blocked])).wakeable
    enabled = {"type": "WakeOnJoin", "status": "True", "reason": "Enabled"}
    assert route_of(_asleep(conditions=[enabled])).wakeable


@pytest.mark.parametrize("seconds", [-1, "12", True, 1.5, None])
def test_a_start_time_that_is_not_seconds_is_not_known(seconds: object) -> None:
    assert route_of(_asleep(hibernation={"lastStartSeconds": seconds})).start_seconds is None


def test_a_server_being_deleted_is_stopped_whatever_its_phase() -> None:
    obj = server()
    obj["metadata"]["deletionTimestamp"] = "2025-02-01T00:00:00Z"
    assert state_of(obj) is State.STOPPED


def test_the_route_carries_what_the_router_acts_on() -> None:
    obj = server(proxy_protocol=True, players={"online": 3, "max": 20}, message="ok")
    assert route_of(obj) == Route(
        "tenant-acme",
        "survival",
        "10.96.0.10",
        25565,
        State.RUNNING,
        proxy_protocol=True,
        version="1.21.4",
        players_online=3,
        players_max=20,
        message="ok",
    )
    assert route_of(obj).server == "tenant-acme/survival"


@pytest.mark.parametrize(
    "address", [{}, {"host": "", "port": 25565}, {"host": "10.0.0.1"}, {"host": "h", "port": 0}]
)
def test_a_running_server_without_an_address_is_starting(address: dict[str, Any]) -> None:
    obj = server()
    obj["status"]["internalAddress"] = address
    got = route_of(obj)
    assert got.state is State.STARTING and got.message == "no internal address yet"


def test_an_unreadable_object_is_unknown_not_an_error() -> None:
    obj: dict[str, Any] = {
        "metadata": {"name": "x", "namespace": "tenant-a"},
        "spec": [],
        "status": "?",
    }
    got = entry_of(obj)
    assert got.route.state is State.UNKNOWN and got.hostnames == frozenset()
    assert not route_of({"status": {"players": {"online": True, "max": "20"}}}).players_max


def test_hostnames_are_routing_keys() -> None:
    obj = server(hostnames=["Play.Example.COM.", "", "mc.example.org", 7])  # type: ignore[list-item]
    got = entry_of(obj)
    assert got.hostnames == frozenset({"play.example.com", "mc.example.org"})
    assert got.key == ("tenant-acme", "survival")
    assert got.claim("mc.example.org").created == "2025-01-01T00:00:00Z"
