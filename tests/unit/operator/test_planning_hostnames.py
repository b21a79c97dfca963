"""The planner and hostnames: what status says, what the Service names, which events are
recorded, as claims change (no cluster)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from craftplane.contracts.hostnames import Claim
from craftplane.contracts.service import MC_ROUTER_HOSTNAMES
from craftplane_operator.planning import Gathered, Plan, plan
from craftplane_operator.routing import RouterConfig
from tests.unit.operator.factories import NAME, NAMESPACE, pod, service, statefulset
from tests.unit.operator.test_planning import body, gathered, reconcile

pytestmark = pytest.mark.unit

ROUTER = RouterConfig(domain="mc.example.com", public_host="play.example.net", public_port=25566)
CANONICAL = f"{NAME}.acme.mc.example.com"
SHOP = "shop.example.com"
CHILDREN = {"StatefulSet": statefulset(), "Pod": pod(ready=True), "Service": service()}
MINE = Claim("2026-01-01T00:00:00Z", NAMESPACE, NAME, SHOP)
THEIRS = Claim("2025-01-01T00:00:00Z", "team-b", "hub", SHOP)


def asking(*hostnames: str, **found: Any) -> Gathered:
    found.setdefault("children", CHILDREN)
    found.setdefault("routing", ROUTER)
    return gathered(body({"service": {"hostnames": list(hostnames)}}), **found)


def settled(seen: Gathered, rounds: int = 3) -> tuple[Plan, Gathered]:
    """Reconciles until one changes nothing; that plan and what it saw."""
    for _ in range(rounds):
        decided, after = reconcile(seen)
        if decided.changes_nothing:
            return decided, seen
        seen = after
    raise AssertionError("the plan does not settle")


def status_of(seen: Gathered) -> dict[str, Any]:
    assert seen.body is not None
    status: dict[str, Any] = seen.body["status"]
    return status


def condition(seen: Gathered) -> dict[str, Any]:
    found = [c for c in status_of(seen)["conditions"] if c["type"] == "HostnamesAccepted"]
    assert len(found) == 1
    return found[0]


def service_annotations(decided: Plan) -> dict[str, str] | None:
    services = [
        c.desired
        for c in decided.children
        if c.desired["metadata"]["name"] == NAME and c.desired["kind"] == "Service"
    ]
    return services[0]["metadata"]["annotations"] if services else None


def events(decided: Plan) -> list[tuple[bool, str]]:
    assert decided.status is not None
    return [(e.warning, e.reason) for e in decided.status.kube_events if "Hostname" in e.reason]


def test_through_the_router_a_clusterip_server_is_joined_by_its_hostname() -> None:
    _, seen = settled(asking(SHOP, holders={SHOP: MINE}))
    status = status_of(seen)
    assert status["hostnames"] == [CANONICAL, SHOP]
    assert status["address"] == {
        "host": CANONICAL,
        "port": 25566,
        "reach": "router",
        "display": f"{CANONICAL}:25566",
    }
    assert status["internalAddress"] == {
        "host": "10.96.0.10",
        "port": 25565,
        "reach": "cluster",
        "display": "10.96.0.10:25565",
    }
    assert condition(seen)["status"] == "True"
    assert condition(seen)["reason"] == "Accepted"


def test_the_service_names_the_granted_hostnames_for_mc_router() -> None:
    first = plan(asking(SHOP, holders={SHOP: MINE}))
    assert service_annotations(first) == {MC_ROUTER_HOSTNAMES: f"{CANONICAL},{SHOP}"}


def test_without_a_router_the_cluster_ip_is_reported_as_inside_the_cluster_only() -> None:
    _, seen = settled(asking(routing=RouterConfig(domain="mc.example.com")))
    status = status_of(seen)
    assert status["address"]["host"] == "10.96.0.10"
    assert status["address"]["reach"] == "cluster"
    assert status["hostnames"] == [CANONICAL]


def test_without_a_domain_or_hostnames_nothing_is_routed() -> None:
    _, seen = settled(asking(routing=RouterConfig()))
    status = status_of(seen)
    assert status["hostnames"] == []
    assert status["address"]["reach"] == "cluster"
    # Nothing asked for, nothing to report (as the sample server's conditions stay three).
    assert {c["type"] for c in status["conditions"]} == {"Ready", "Progressing", "Degraded"}


def test_a_taken_hostname_is_refused_with_one_warning_then_granted_when_released() -> None:
    seen = asking(SHOP, holders={SHOP: THEIRS})
    first, after = reconcile(seen)
    assert events(first) == [(True, "HostnameTaken")]
    decided, refused = settled(after)
    assert events(decided) == []  # not on every pass
    assert status_of(refused)["hostnames"] == [CANONICAL]
    assert condition(refused)["status"] == "False"
    assert condition(refused)["reason"] == "Taken"
    assert SHOP in condition(refused)["message"]

    # The older server is deleted: the index hands the name over and queues this one.
    handed_over = replace(refused, holders={SHOP: MINE})
    again = plan(handed_over)
    assert service_annotations(again) == {MC_ROUTER_HOSTNAMES: f"{CANONICAL},{SHOP}"}
    decided, granted = reconcile(handed_over)
    assert events(decided) == [(False, "HostnamesAccepted")]
    assert status_of(granted)["hostnames"] == [CANONICAL, SHOP]
    assert condition(granted)["status"] == "True"
    assert settled(granted)[0].changes_nothing


def test_a_reserved_hostname_is_refused_as_such() -> None:
    decided, _ = reconcile(asking("hub.team-b.mc.example.com"))
    assert events(decided) == [(True, "HostnameReserved")]


def test_an_invalid_spec_is_routed_nowhere() -> None:
    cr = body({"service": {"hostnames": [SHOP]}, "properties": {"maxPlayers": 0}})
    _, seen = settled(gathered(cr, children=CHILDREN, routing=ROUTER, holders={SHOP: MINE}))
    status = status_of(seen)
    assert status["hostnames"] == []
    assert "internalAddress" not in status
    assert all(c["type"] != "HostnamesAccepted" for c in status["conditions"])


def test_the_ping_goes_to_the_cluster_ip_not_the_routers_hostname() -> None:
    decided, _ = settled(asking(SHOP, holders={SHOP: MINE}, ping_in_cluster=True))
    assert decided.status is not None and decided.status.ping is not None
    assert decided.status.ping.address == "10.96.0.10:25565"
