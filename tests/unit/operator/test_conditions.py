from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from craftplane.contracts.hostnames import Refusal
from craftplane.contracts.status import Address, Phase, Players, ServerStatus
from craftplane_operator.conditions import (
    build_conditions,
    desired_status,
    hostname_events,
    hostnames_condition,
    status_patch,
)
from craftplane_operator.phase import Derived
from craftplane_operator.routing import Routes

pytestmark = pytest.mark.unit

T0 = datetime(2025, 1, 1, 12, 0, 0, tzinfo=UTC)
T1 = T0 + timedelta(minutes=5)

STARTING = Derived(Phase.STARTING, "PodStarting", "The server is starting.", progressing=True)
RUNNING = Derived(
    Phase.RUNNING,
    "Running",
    "The server is running and accepting players.",
    ready=True,
    address=Address(host="10.96.0.10", port=25565),
)
CRASHING = Derived(Phase.ERROR, "CrashLoop", "The server keeps crashing.", degraded=True)
PLAYERS = Players(online=1, max=20, sample=["Alex"])


def by_type(conditions: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {c["type"]: c for c in conditions}


def test_conditions_shape() -> None:
    conditions = build_conditions(RUNNING, [], 4, T0)
    assert [c["type"] for c in conditions] == ["Ready", "Progressing", "Degraded"]
    assert conditions[0] == {
        "type": "Ready",
        "status": "True",
        "reason": "Running",
        "message": "The server is running and accepting players.",
        "lastTransitionTime": "2025-01-01T12:00:00Z",
        "observedGeneration": 4,
    }
    assert [c["status"] for c in conditions] == ["True", "False", "False"]


@pytest.mark.parametrize(
    ("derived", "statuses"),
    [
        (STARTING, ("False", "True", "False")),
        (RUNNING, ("True", "False", "False")),
        (CRASHING, ("False", "False", "True")),
    ],
)
def test_condition_statuses(derived: Derived, statuses: tuple[str, str, str]) -> None:
    conditions = by_type(build_conditions(derived, [], 1, T0))
    got = tuple(conditions[t]["status"] for t in ("Ready", "Progressing", "Degraded"))
    assert got == statuses


def test_last_transition_time_kept_while_status_unchanged() -> None:
    first = build_conditions(STARTING, [], 1, T0)
    again = build_conditions(STARTING, first, 1, T1)
    assert again == first


def test_last_transition_time_moves_only_for_changed_conditions() -> None:
    starting = by_type(build_conditions(STARTING, [], 1, T0))
    crashing = by_type(build_conditions(CRASHING, list(starting.values()), 2, T1))
    assert crashing["Ready"]["lastTransitionTime"] == "2025-01-01T12:00:00Z"  # False -> False
    assert crashing["Progressing"]["lastTransitionTime"] == "2025-01-01T12:05:00Z"
    assert crashing["Degraded"]["lastTransitionTime"] == "2025-01-01T12:05:00Z"
    # Reason, message and generation follow the latest derivation regardless.
    assert crashing["Ready"]["reason"] == "CrashLoop"
    assert crashing["Ready"]["observedGeneration"] == 2


@pytest.mark.parametrize("bad_time", [None, "", "yesterday", 12])
def test_unreadable_previous_time_is_replaced(bad_time: Any) -> None:
    previous = [{"type": "Ready", "status": "False", "lastTransitionTime": bad_time}]
    ready = build_conditions(STARTING, previous, 1, T1)[0]
    assert ready["lastTransitionTime"] == "2025-01-01T12:05:00Z"


def test_previous_time_is_normalised_to_utc_seconds() -> None:
    previous = [
        {"type": "Ready", "status": "False", "lastTransitionTime": "2025-01-01T13:00:00+01:00"}
    ]
    assert build_conditions(STARTING, previous, 1, T1)[0]["lastTransitionTime"] == (
        "2025-01-01T12:00:00Z"
    )


def test_desired_status_running() -> None:
    status = desired_status(RUNNING, None, 4, T0, PLAYERS)
    assert status["phase"] == "Running"
    assert status["observedGeneration"] == 4
    assert status["message"] == RUNNING.message
    assert status["address"] == {"host": "10.96.0.10", "port": 25565, "display": "10.96.0.10:25565"}
    assert status["players"] == {"online": 1, "max": 20, "sample": ["Alex"], "summary": "1/20"}
    assert len(status["conditions"]) == 3
    # The shape the CRD accepts.
    assert ServerStatus.model_validate(status).phase is Phase.RUNNING


def test_desired_status_drops_players_and_missing_address_when_not_running() -> None:
    status = desired_status(CRASHING, None, 4, T0, PLAYERS)
    assert "players" not in status
    assert "address" not in status


def test_desired_status_stable_across_reconciles() -> None:
    first = desired_status(RUNNING, None, 4, T0, PLAYERS)
    second = desired_status(RUNNING, first, 4, T1, PLAYERS)
    assert second == first
    assert status_patch(first, second) is None


def test_status_patch_none_when_equal_ignoring_order() -> None:
    desired = desired_status(RUNNING, None, 4, T0, PLAYERS)
    reordered = {key: desired[key] for key in reversed(list(desired))}
    reordered["conditions"] = list(reversed(desired["conditions"]))
    reordered["address"] = dict(reversed(list(desired["address"].items())))
    assert status_patch(reordered, desired) is None


def test_status_patch_ignores_fields_it_does_not_own() -> None:
    desired = desired_status(RUNNING, None, 4, T0, PLAYERS)
    current = {**desired, "kopf": {"progress": {"reconcile": {}}}}
    assert status_patch(current, desired) is None
    changed = desired_status(RUNNING, None, 5, T0, PLAYERS)
    patch = status_patch(current, changed)
    assert patch is not None
    assert "kopf" not in patch


def test_status_patch_on_change() -> None:
    before = desired_status(RUNNING, None, 4, T0, PLAYERS)
    after = desired_status(RUNNING, before, 4, T1, Players(online=2, max=20, sample=["Alex", "Bo"]))
    patch = status_patch(before, after)
    assert patch == after


def test_status_patch_removes_what_is_gone() -> None:
    before = desired_status(RUNNING, None, 4, T0, PLAYERS)
    after = desired_status(CRASHING, before, 4, T1)
    patch = status_patch(before, after)
    assert patch is not None
    assert patch["players"] is None
    assert patch["address"] is None
    assert patch["phase"] == "Error"


def test_status_patch_removes_what_is_gone_inside_an_object_too() -> None:
    """A merge patch keeps what it does not name, at every depth: a field the desired object
    no longer has is named as None (or it would stay in the status for ever)."""
    before = {
        "phase": "Running",
        "hibernation": {"state": "Awake", "emptySince": "x", "a": {"b": 1}},
    }
    after = {"phase": "Running", "hibernation": {"state": "Awake", "a": {"c": 2}}}
    assert status_patch(before, after) == {
        "phase": "Running",
        "hibernation": {"state": "Awake", "emptySince": None, "a": {"b": None, "c": 2}},
    }


@pytest.mark.parametrize("current", [None, {}])
def test_status_patch_from_nothing(current: dict[str, Any] | None) -> None:
    desired = desired_status(STARTING, current, 1, T0)
    patch = status_patch(current, desired)
    assert patch == desired
    assert None not in patch.values()


# --- HostnamesAccepted ----------------------------------------------------------

TAKEN = Refusal("shop.example.com", "Taken", "shop.example.com already belongs to an older server")
RESERVED = Refusal("x.t.mc.example.com", "Reserved", "x.t.mc.example.com is inside the domain")


def accepted(*refusals: Refusal, asked: int = 1, previous: list[Any] | None = None) -> Any:
    routes = Routes(hostnames=("a.example.com",), refusals=refusals, asked=asked)
    return hostnames_condition(routes, previous or [], 3, T1)


@pytest.mark.parametrize(
    ("refusals", "asked", "status", "reason", "message"),
    [
        ((), 2, "True", "Accepted", "every custom hostname is routed to this server"),
        ((TAKEN,), 1, "False", "Taken", TAKEN.message),
        ((RESERVED, TAKEN), 2, "False", "Reserved", f"{RESERVED.message}; {TAKEN.message}"),
    ],
)
def test_hostnames_condition(
    refusals: tuple[Refusal, ...], asked: int, status: str, reason: str, message: str
) -> None:
    condition = accepted(*refusals, asked=asked)
    assert condition is not None
    assert (condition.status.value, condition.reason, condition.message) == (
        status,
        reason,
        message,
    )
    assert condition.observed_generation == 3


def test_no_custom_hostname_no_condition() -> None:
    # Like AllowlistSynced: nothing asked for, nothing to report (and no event about it).
    assert accepted(asked=0) is None
    assert hostname_events([dumped(accepted(TAKEN))], None) == ()


def test_hostnames_condition_keeps_its_transition_time_while_its_status_holds() -> None:
    before = accepted(TAKEN).model_dump(mode="json", by_alias=True)
    before["lastTransitionTime"] = "2025-01-01T12:00:00Z"
    assert accepted(RESERVED, previous=[before]).last_transition_time == T0
    assert accepted(previous=[before]).last_transition_time == T1


def dumped(condition: Any) -> dict[str, Any]:
    return dict(condition.model_dump(mode="json", by_alias=True))


@pytest.mark.parametrize(
    ("previous", "now", "expected"),
    [
        pytest.param([], accepted(), [], id="accepted from the start: nothing to say"),
        pytest.param([], accepted(TAKEN), [(True, "HostnameTaken")], id="refused"),
        pytest.param([dumped(accepted(TAKEN))], accepted(TAKEN), [], id="still refused"),
        pytest.param(
            [dumped(accepted(TAKEN))],
            accepted(RESERVED, TAKEN),
            [(True, "HostnameReserved")],
            id="another refusal",
        ),
        pytest.param(
            [dumped(accepted(TAKEN))],
            accepted(),
            [(False, "HostnamesAccepted")],
            id="the refusal is lifted",
        ),
        pytest.param([], accepted(asked=2), [], id="asked for and accepted"),
    ],
)
def test_hostname_events_only_on_transitions(
    previous: list[dict[str, Any]], now: Any, expected: list[tuple[bool, str]]
) -> None:
    assert [(n.warning, n.reason) for n in hostname_events(previous, now)] == expected
