"""One spelling of hibernation's names across the rooms: what the operator writes is what the
router reads, what the events carry and what the dashboard labels; the reasons and the wake
annotations are spelled in the contracts (and the dashboard, checked here) and nowhere else."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from craftplane.contracts import hibernation
from craftplane.contracts.cr_events import ObservedServer
from craftplane.contracts.hibernation import (
    HIBERNATING_REASON,
    WAKE_REQUEST_ANNOTATION,
    WAKE_REQUESTER_ANNOTATION,
    WAKING_REASON,
)
from craftplane.contracts.phases import ServerState
from craftplane_gateway.frames import server_view
from craftplane_router.routes import State, route_of
from tests.unit.operator.test_planning import reconcile
from tests.unit.operator.test_planning_hibernation import _asleep, annotated, later

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
RUNTIME = ("src/craftplane", "operator", "api-gateway", "router")
CONTRACT = Path("src/craftplane/contracts/hibernation.py")
NAMES = {HIBERNATING_REASON, WAKING_REASON, WAKE_REQUEST_ANNOTATION, WAKE_REQUESTER_ANNOTATION}


def test_the_router_reads_the_sleep_and_the_wake_the_operator_writes() -> None:
    asleep, _ = _asleep()
    assert asleep.body is not None
    route = route_of(asleep.body)
    assert (route.state, route.wakeable) == (State.SLEEPING, True)
    join = {WAKE_REQUEST_ANNOTATION: "2025-01-01T12:14:00Z", WAKE_REQUESTER_ANNOTATION: "join:Al"}
    _, waking = reconcile(later(annotated(asleep, join), 5))
    assert waking.body is not None
    assert route_of(waking.body).state is State.WAKING


def test_the_event_and_the_api_object_say_hibernating() -> None:
    asleep, _ = _asleep()
    assert asleep.body is not None
    event = ObservedServer.from_cr(asleep.body, "acme").phase_event()
    assert event is not None and event.reason == HIBERNATING_REASON
    view = server_view(event)
    assert (view["status"], view["reason"]) == (ServerState.STOPPED.value, HIBERNATING_REASON)
    assert view["message"].startswith("Hibernating")


def test_the_dashboard_labels_the_contracts_reasons() -> None:
    source = (ROOT / "dashboard/src/lib/servers.js").read_text()
    spelled = dict(re.findall(r"export const (\w+_REASON) = '([^']*)';", source))
    assert spelled == {"HIBERNATING_REASON": HIBERNATING_REASON, "WAKING_REASON": WAKING_REASON}


def _literals(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    return {
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
    }


def test_the_names_are_spelled_in_the_contracts_only() -> None:
    stray = {}
    for top in RUNTIME:
        for path in sorted((ROOT / top).rglob("*.py")):
            relative = path.relative_to(ROOT)
            if relative.is_relative_to("src/craftplane/contracts"):
                continue  # status.py's HibernationState.WAKING is the state, spelled alike
            found = _literals(path) & NAMES
            if found:
                stray[str(relative)] = sorted(found)
    assert not stray, f"use craftplane.contracts.hibernation's names: {stray}"
    assert _literals(ROOT / CONTRACT) >= NAMES
    assert {HIBERNATING_REASON} <= hibernation.SLEEP_REASONS


def test_turning_hibernation_on_restarts_nothing_wherever_it_is_asked() -> None:
    """The operator scales for it, the pod stays: its builders, the gateway's audit (what the
    timeline says of an update) and the dashboard's settings form agree."""
    from craftplane_gateway import audit
    from craftplane_operator.builders import restarts_server
    from tests.unit.operator.factories import server

    assert not restarts_server(server(), server({"hibernation": {"afterEmptyMinutes": 10}}))
    assert not audit.restarts_server(["spec.hibernation.afterEmptyMinutes"])
    live = re.search(
        r"LIVE_KEYS = new Set\(\[([^\]]*)\]\)", (ROOT / "dashboard/src/lib/settings.js").read_text()
    )
    assert live is not None and "'hibernation'" in live.group(1)
