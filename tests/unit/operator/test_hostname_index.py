"""The cluster-wide index of hostname claims: who holds what, and whom a change concerns."""

from __future__ import annotations

from typing import Any

import pytest

from craftplane.contracts.hostnames import Claim
from craftplane_operator.hostname_index import HostnameIndex, changed_holders
from craftplane_operator.routing import RouterConfig

pytestmark = pytest.mark.unit

CONFIG = RouterConfig(domain="mc.example.com", public_host="play.example.net")
SHOP = "shop.example.com"


def server(key: str, created: str, *hostnames: str, deleting: bool = False) -> dict[str, Any]:
    namespace, name = key.split("/")
    meta: dict[str, Any] = {"namespace": namespace, "name": name, "creationTimestamp": created}
    if deleting:
        meta["deletionTimestamp"] = "2026-06-01T00:00:00Z"
    return {"metadata": meta, "spec": {"service": {"hostnames": list(hostnames)}}}


OLDEST = server("a/hub", "2026-01-01T00:00:00Z", SHOP, "hub.example.com")
MIDDLE = server("b/thief", "2026-02-01T00:00:00Z", SHOP)
NEWEST = server("c/late", "2026-03-01T00:00:00Z", SHOP)


def holder(index: HostnameIndex, hostname: str = SHOP) -> str | None:
    claim = index.holders_of([hostname]).get(hostname)
    return None if claim is None else f"{claim.namespace}/{claim.name}"


def primed(*bodies: dict[str, Any]) -> HostnameIndex:
    index = HostnameIndex(CONFIG)
    index.prime(bodies)
    return index


def test_the_oldest_claim_holds_whatever_order_the_servers_arrive_in() -> None:
    assert holder(primed(NEWEST, MIDDLE, OLDEST)) == "a/hub"
    assert holder(primed(OLDEST, MIDDLE, NEWEST)) == "a/hub"
    assert len(primed(OLDEST, MIDDLE)) == 2


def test_a_younger_claim_changes_nobody_elses_result() -> None:
    index = primed(OLDEST)
    assert index.update(MIDDLE) == set()
    assert holder(index) == "a/hub"


def test_when_the_holder_is_deleted_the_next_oldest_gets_the_name_and_is_told() -> None:
    index = primed(OLDEST, MIDDLE, NEWEST)
    assert index.remove("a", "hub") == {"b/thief"}
    assert holder(index) == "b/thief"
    assert holder(index, "hub.example.com") is None


def test_a_holder_being_deleted_lets_go_at_once() -> None:
    index = primed(OLDEST, MIDDLE)
    deleting = server("a/hub", "2026-01-01T00:00:00Z", SHOP, "hub.example.com", deleting=True)
    assert index.update(deleting) == {"b/thief"}
    assert holder(index) == "b/thief"


def test_a_holder_dropping_the_name_hands_it_on() -> None:
    index = primed(OLDEST, MIDDLE)
    assert index.update(server("a/hub", "2026-01-01T00:00:00Z", "hub.example.com")) == {"b/thief"}
    assert holder(index) == "b/thief"


def test_an_older_claim_arriving_late_takes_the_name_back_and_says_so() -> None:
    index = primed(MIDDLE)
    assert holder(index) == "b/thief"
    assert index.update(OLDEST) == {"b/thief"}
    assert holder(index) == "a/hub"


def test_an_unchanged_object_concerns_nobody() -> None:
    index = primed(OLDEST, MIDDLE)
    assert index.update(OLDEST) == set()
    assert index.remove("z", "never-seen") == set()


def test_reserved_names_are_held_by_nobody() -> None:
    index = primed(
        server("a/hub", "2026-01-01T00:00:00Z", "play.example.net", "x.t.mc.example.com")
    )
    assert index.holders_of(["play.example.net", "x.t.mc.example.com"]) == {}


A = Claim("2026-01-01T00:00:00Z", "a", "hub", SHOP)
B = Claim("2026-02-01T00:00:00Z", "b", "thief", SHOP)


@pytest.mark.parametrize(
    ("before", "after", "changed"),
    [
        ({}, {}, set()),
        ({SHOP: A}, {SHOP: A}, set()),
        ({SHOP: A}, {SHOP: B}, {"a/hub", "b/thief"}),
        ({SHOP: A}, {}, {"a/hub"}),
        ({}, {SHOP: B}, {"b/thief"}),
    ],
)
def test_changed_holders(
    before: dict[str, Claim], after: dict[str, Claim], changed: set[str]
) -> None:
    assert changed_holders(before, after) == changed


def test_watch_events_are_followed_and_a_deletion_hands_the_name_on() -> None:
    index = HostnameIndex(CONFIG)
    assert index.follow({"type": None, "object": MIDDLE}) == set()  # the initial listing
    assert index.follow({"type": "ADDED", "object": OLDEST}) == {"b/thief"}
    assert index.follow({"type": "MODIFIED", "object": NEWEST}) == set()
    assert index.follow({"type": "DELETED", "object": OLDEST}) == {"b/thief"}
    assert holder(index) == "b/thief"
