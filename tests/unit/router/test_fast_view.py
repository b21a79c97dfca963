"""The fast path's view of the table (pure): running routes only, changes only."""

from __future__ import annotations

from dataclasses import replace

import pytest

from craftplane_router.fast_view import ROUTES_PER_MESSAGE, FastView
from craftplane_router.routes import State
from craftplane_router.table import RouteTable
from tests.unit.router.factories import entry, route

pytestmark = pytest.mark.unit

RUNNING = entry(route("survival", host="10.96.0.10"), "survival.example.com", "play.example.org")


def _table_with_view() -> tuple[RouteTable, FastView, list[dict[str, object]]]:
    table = RouteTable(namespaces={"tenant-acme"})
    view = FastView()
    sent: list[dict[str, object]] = []
    table.on_change(lambda hostnames: sent.extend(view.changes(table, hostnames)))
    return table, view, sent


def test_a_running_server_is_sent_with_each_hostname() -> None:
    table, _, sent = _table_with_view()
    table.put(RUNNING)
    wanted = {"server": "tenant-acme/survival", "address": "10.96.0.10:25565", "proxy": False}
    assert sent == [
        {"routes": {"play.example.org": wanted, "survival.example.com": wanted}, "removed": []}
    ]


def test_a_status_write_that_changes_no_route_sends_nothing() -> None:
    table, _, sent = _table_with_view()
    table.put(RUNNING)
    sent.clear()
    table.put(replace(RUNNING, route=replace(RUNNING.route, players_online=7)))
    assert sent == []


@pytest.mark.parametrize("state", [s for s in State if s is not State.RUNNING])
def test_a_server_that_stops_running_is_removed(state: State) -> None:
    table, view, sent = _table_with_view()
    table.put(RUNNING)
    sent.clear()
    table.put(replace(RUNNING, route=replace(RUNNING.route, state=state)))
    assert sent == [{"routes": {}, "removed": ["play.example.org", "survival.example.com"]}]
    assert len(view) == 0


def test_a_namespace_no_longer_a_tenants_removes_its_servers() -> None:
    table, _, sent = _table_with_view()
    table.put(RUNNING)
    sent.clear()
    table.remove_namespace("tenant-acme")
    assert sent == [{"routes": {}, "removed": ["play.example.org", "survival.example.com"]}]


def test_a_hostname_lost_to_an_older_claim_moves_to_its_holder() -> None:
    table, _, sent = _table_with_view()
    table.put(RUNNING)
    sent.clear()
    older = entry(
        route("lobby", host="10.96.0.11"), "play.example.org", created="2024-01-01T00:00:00Z"
    )
    table.put(older)
    moved = {"server": "tenant-acme/lobby", "address": "10.96.0.11:25565", "proxy": False}
    assert sent == [{"routes": {"play.example.org": moved}, "removed": []}]


def test_ipv6_addresses_are_bracketed_and_a_proxy_route_says_so() -> None:
    table, _, sent = _table_with_view()
    table.put(entry(route("v6", host="fd00::10", proxy_protocol=True), "v6.example.com"))
    assert sent[0]["routes"] == {
        "v6.example.com": {"server": "tenant-acme/v6", "address": "[fd00::10]:25565", "proxy": True}
    }


def test_a_full_relist_is_sent_in_bounded_messages_and_after_a_reset_again() -> None:
    table, view, sent = _table_with_view()
    entries = [
        entry(route(f"s{i}", host="10.96.1.1"), f"s{i}.example.com")
        for i in range(ROUTES_PER_MESSAGE * 2 + 1)
    ]
    table.replace_all(entries)
    assert [len(m["routes"]) for m in sent] == [ROUTES_PER_MESSAGE, ROUTES_PER_MESSAGE, 1]  # type: ignore[arg-type]
    view.reset()
    assert sum(len(m["routes"]) for m in view.changes(table, None)) == len(entries)
    assert view.changes(table, None) == []
