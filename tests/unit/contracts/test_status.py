from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from craftplane.contracts.phases import (
    LIVE_STATES,
    PROJECTED_STATUS,
    ServerState,
    projected_status,
)
from craftplane.contracts.status import (
    Address,
    Condition,
    ConditionStatus,
    ConditionType,
    Phase,
    Players,
    ServerStatus,
)

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("phase", "projected"),
    [
        (Phase.STARTING, ServerState.DEPLOYING),
        (Phase.RUNNING, ServerState.RUNNING),
        (Phase.STOPPED, ServerState.STOPPED),
        (Phase.ERROR, ServerState.FAILED),
        (Phase.TERMINATING, ServerState.TERMINATING),
    ],
)
def test_phase_projection(phase: Phase, projected: ServerState) -> None:
    assert projected_status(phase) is projected


def test_every_phase_is_projected() -> None:
    assert set(PROJECTED_STATUS) == set(Phase)
    assert set(PROJECTED_STATUS.values()) == set(ServerState) - {ServerState.DELETED}
    assert set(LIVE_STATES) == set(PROJECTED_STATUS.values())


def test_phase_strings_match_the_design() -> None:
    assert [p.value for p in Phase] == ["Starting", "Running", "Stopped", "Error", "Terminating"]
    assert [s.value for s in ServerState] == [
        "deploying",
        "running",
        "stopped",
        "failed",
        "terminating",
        "deleted",
    ]


@pytest.mark.parametrize(
    ("host", "port", "display"),
    [("10.0.0.1", 25565, "10.0.0.1:25565"), ("fd00::1", 30001, "[fd00::1]:30001")],
)
def test_address_display_is_derived(host: str, port: int, display: str) -> None:
    assert Address(host=host, port=port).display == display
    # a stale or forged display is recomputed, never trusted
    assert Address.model_validate({"host": host, "port": port, "display": "x"}).display == display


def test_players_summary_is_derived() -> None:
    assert Players(online=3, max=20).summary == "3/20"
    assert Players.model_validate({"online": 0, "max": 5, "summary": "9/9"}).summary == "0/5"


def test_condition_time_is_written_like_kubernetes() -> None:
    paris = timezone(timedelta(hours=1))
    condition = Condition(
        type=ConditionType.READY,
        status=ConditionStatus.TRUE,
        reason="PodReady",
        last_transition_time=datetime(2025, 1, 2, 4, 5, 6, 789, tzinfo=paris),
    )
    dumped = condition.model_dump(mode="json", by_alias=True)
    assert dumped["lastTransitionTime"] == "2025-01-02T03:05:06Z"
    assert dumped["status"] == "True"
    assert Condition.model_validate(dumped).last_transition_time == datetime(
        2025, 1, 2, 3, 5, 6, tzinfo=UTC
    )


def test_condition_refuses_naive_times_and_bad_reasons() -> None:
    with pytest.raises(ValidationError) as info:
        Condition.model_validate(
            {
                "type": "Ready",
                "status": "True",
                "reason": "not camel case!",
                "lastTransitionTime": "2025-01-01T00:00:00",
            }
        )
    locs = {tuple(e["loc"]) for e in info.value.errors()}
    assert locs == {("reason",), ("lastTransitionTime",)}


def test_status_round_trip() -> None:
    status = ServerStatus(
        phase=Phase.RUNNING,
        conditions=[
            Condition(
                type=ConditionType.READY,
                status=ConditionStatus.TRUE,
                reason="PodReady",
                last_transition_time=datetime(2025, 1, 1, tzinfo=UTC),
                observed_generation=2,
            )
        ],
        observed_generation=2,
        address=Address(host="10.0.0.1", port=25565),
        players=Players(online=1, max=20, sample=["Steve"]),
        message="accepting players",
    )
    wire = status.model_dump(mode="json", by_alias=True, exclude_none=True)
    assert wire["observedGeneration"] == 2
    assert ServerStatus.model_validate(wire) == status


def test_empty_status_is_valid() -> None:
    assert ServerStatus().phase is None
