"""The routing table: one server's change at a time, the oldest claim holds a contested name,
only tenant namespaces are routed."""

from __future__ import annotations

import pytest

from craftplane_router.routes import State
from craftplane_router.table import RouteTable
from tests.unit.router.factories import entry, route

pytestmark = pytest.mark.unit

TENANTS = ["tenant-acme", "tenant-bolt"]


def test_a_hostname_routes_to_its_server() -> None:
    table = RouteTable([entry(route("a"), "a.example.com", "alias.example.com")], TENANTS)
    assert table.lookup("a.example.com") == route("a")
    assert table.lookup("alias.example.com") == route("a")
    assert table.lookup("b.example.com") is None
    assert len(table) == 1


@pytest.mark.parametrize(
    ("first", "second", "winner"),
    [
        # (created, namespace, name) of two servers listing the same hostname.
        (
            ("2025-01-01T00:00:00Z", "tenant-bolt", "x"),
            ("2025-02-01T00:00:00Z", "tenant-acme", "a"),
            "x",
        ),
        (
            ("2025-03-01T00:00:00Z", "tenant-bolt", "x"),
            ("2025-02-01T00:00:00Z", "tenant-acme", "a"),
            "a",
        ),
        # The same second: namespace, then name.
        (
            ("2025-01-01T00:00:00Z", "tenant-bolt", "a"),
            ("2025-01-01T00:00:00Z", "tenant-acme", "z"),
            "z",
        ),
        (
            ("2025-01-01T00:00:00Z", "tenant-acme", "b"),
            ("2025-01-01T00:00:00Z", "tenant-acme", "a"),
            "a",
        ),
    ],
)
def test_the_oldest_claim_holds_a_contested_hostname(
    first: tuple[str, str, str], second: tuple[str, str, str], winner: str
) -> None:
    for order in ((first, second), (second, first)):
        table = RouteTable(namespaces=TENANTS)
        for created, namespace, name in order:
            table.put(
                entry(route(name, namespace=namespace), "shared.example.com", created=created)
            )
        found = table.lookup("shared.example.com")
        assert found is not None and found.name == winner


def test_the_loser_takes_over_when_the_holder_goes() -> None:
    table = RouteTable(namespaces=TENANTS)
    table.put(entry(route("old"), "shared.example.com", created="2025-01-01T00:00:00Z"))
    table.put(entry(route("new"), "shared.example.com", created="2025-06-01T00:00:00Z"))
    table.remove(("tenant-acme", "old"))
    found = table.lookup("shared.example.com")
    assert found is not None and found.name == "new"
    table.remove(("tenant-acme", "new"))
    assert table.lookup("shared.example.com") is None
    assert table.hostnames() == {}
    table.remove(("tenant-acme", "gone"))  # removing an unknown server is nothing


def test_an_update_replaces_the_servers_hostnames_and_route() -> None:
    table = RouteTable([entry(route("a"), "a.example.com")], TENANTS)
    table.put(entry(route("a", State.STOPPED), "b.example.com"))
    assert table.lookup("a.example.com") is None
    found = table.lookup("b.example.com")
    assert found is not None and found.state is State.STOPPED


def test_only_tenant_namespaces_are_routed() -> None:
    table = RouteTable([entry(route("a", namespace="kube-system"), "a.example.com")], TENANTS)
    assert table.lookup("a.example.com") is None
    table.add_namespace("kube-system")
    assert table.lookup("a.example.com") is not None
    table.remove_namespace("kube-system")
    assert table.lookup("a.example.com") is None


def test_a_hidden_holder_does_not_block_a_visible_claimant() -> None:
    table = RouteTable(namespaces=["tenant-acme"])
    table.put(
        entry(route("x", namespace="tenant-gone"), "s.example.com", created="2020-01-01T00:00:00Z")
    )
    table.put(entry(route("a"), "s.example.com", created="2025-01-01T00:00:00Z"))
    found = table.lookup("s.example.com")
    assert found is not None and found.name == "a"


def test_a_relist_replaces_everything() -> None:
    table = RouteTable([entry(route("a"), "a.example.com")], TENANTS)
    table.replace_all([entry(route("b"), "b.example.com")])
    assert set(table.hostnames()) == {"b.example.com"}
    table.set_namespaces([])
    assert table.hostnames() == {}
