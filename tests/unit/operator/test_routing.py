"""Which hostnames a server is granted and the address players join by (pure, no cluster)."""

from __future__ import annotations

from typing import Any

import pytest

from craftplane.contracts.hostnames import Claim
from craftplane.contracts.status import Address, AddressReach
from craftplane_operator.routing import (
    RouterConfig,
    canonical_hostname,
    claims_of,
    domain_error,
    grant,
    holders,
    joinable,
    parse_public_address,
    route_server,
    router_config,
)
from tests.unit.operator.factories import NAME, NAMESPACE, pod, server, service

pytestmark = pytest.mark.unit

DOMAIN = "mc.example.com"
ROUTED = RouterConfig(domain=DOMAIN, public_host="play.example.net", public_port=25565)
NO_ROUTER = RouterConfig(domain=DOMAIN)
BARE = RouterConfig()
OLD = "2026-01-01T00:00:00Z"
NEW = "2026-02-01T00:00:00Z"


def mine(hostname: str, created: str = OLD) -> Claim:
    return Claim(created, NAMESPACE, NAME, hostname)


def theirs(hostname: str, created: str = OLD) -> Claim:
    return Claim(created, "team-b", "hub", hostname)


# --- settings ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("play.example.net", ("play.example.net", 25565)),
        ("Play.Example.NET.", ("play.example.net", 25565)),
        ("play.example.net:30000", ("play.example.net", 30000)),
        ("203.0.113.7", ("203.0.113.7", 25565)),
        ("203.0.113.7:25566", ("203.0.113.7", 25566)),
        ("[2001:db8::7]:25565", ("2001:db8::7", 25565)),
        ("  play.example.net  ", ("play.example.net", 25565)),
    ],
)
def test_the_router_address_is_host_or_host_and_port(value: str, expected: tuple[str, int]) -> None:
    assert parse_public_address(value) == expected


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("play.example.net:99999", "not host or host:port"),
        ("play.example.net:http", "not host or host:port"),
        ("play.example.net:0", "1-65535"),
        ("nats://play.example.net", "not host or host:port"),
        ("play.example.net/path", "not host or host:port"),
        ("under_score.example.net", "neither a hostname nor an IP"),
        ("localhost", "neither a hostname nor an IP"),
        (":25565", "not host or host:port"),
        ("user@play.example.net", "not host or host:port"),
    ],
)
def test_a_bad_router_address_is_explained(value: str, words: str) -> None:
    with pytest.raises(ValueError, match=words):
        parse_public_address(value)


def test_the_settings_become_a_router_config() -> None:
    assert router_config("", "") == BARE
    assert not BARE.has_router
    config = router_config("MC.Example.com.", "play.example.net:30000")
    assert config == RouterConfig(DOMAIN, "play.example.net", 30000)
    assert config.has_router


@pytest.mark.parametrize(
    ("domain", "bad"),
    [("", False), ("mc.example.com", False), ("MC.example.com.", False), ("mc", True)],
)
def test_the_game_domain_must_be_a_dns_name(domain: str, bad: bool) -> None:
    assert (domain_error(domain) is not None) is bad


# --- claims ------------------------------------------------------------------


def body(
    hostnames: Any, *, created: str = OLD, deleting: bool = False, name: str = NAME
) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "namespace": NAMESPACE, "creationTimestamp": created}
    if deleting:
        meta["deletionTimestamp"] = NEW
    return {"metadata": meta, "spec": {"service": {"hostnames": hostnames}}}


@pytest.mark.parametrize(
    ("cr", "claimed"),
    [
        (body(["a.example.com", "b.example.com"]), ["a.example.com", "b.example.com"]),
        (body(["a.example.com", "a.example.com"]), ["a.example.com"]),
        (body(["Bad.example.com", "*.example.com", 7, "ok.example.com"]), ["ok.example.com"]),
        (body("a.example.com"), []),
        (body(["a.example.com"], deleting=True), []),
        ({"metadata": {"name": NAME}, "spec": {}}, []),
    ],
)
def test_the_claims_of_a_server(cr: dict[str, Any], claimed: list[str]) -> None:
    claims = claims_of(cr)
    assert [c.hostname for c in claims] == claimed
    assert all((c.created, c.namespace, c.name) == (OLD, NAMESPACE, NAME) for c in claims)


def test_the_routers_own_host_and_the_domain_are_held_by_nobody() -> None:
    claims = [
        theirs("play.example.net"),
        theirs(f"x.team-a.{DOMAIN}"),
        theirs("shop.example.com", NEW),
        mine("shop.example.com", OLD),
    ]
    assert holders(claims, ROUTED) == {"shop.example.com": mine("shop.example.com")}


# --- grant -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tenant", "config", "asked", "held", "granted", "refused"),
    [
        pytest.param("acme", NO_ROUTER, [], {}, [f"{NAME}.acme.{DOMAIN}"], [], id="canonical only"),
        pytest.param(None, NO_ROUTER, [], {}, [], [], id="no tenant, no canonical"),
        pytest.param("acme", BARE, [], {}, [], [], id="no domain, no canonical"),
        pytest.param("Acme_Corp", NO_ROUTER, [], {}, [], [], id="a tenant no label can hold"),
        pytest.param(
            "acme",
            NO_ROUTER,
            ["b.example.com", "a.example.com"],
            {"b.example.com": mine("b.example.com"), "a.example.com": mine("a.example.com")},
            [f"{NAME}.acme.{DOMAIN}", "b.example.com", "a.example.com"],
            [],
            id="held names in spec order after the canonical one",
        ),
        pytest.param(
            "acme",
            NO_ROUTER,
            ["a.example.com"],
            {},
            [f"{NAME}.acme.{DOMAIN}", "a.example.com"],
            [],
            id="held by nobody yet",
        ),
        pytest.param(
            "acme",
            NO_ROUTER,
            ["a.example.com"],
            {"a.example.com": theirs("a.example.com")},
            [f"{NAME}.acme.{DOMAIN}"],
            [("a.example.com", "Taken")],
            id="an older server holds it",
        ),
        pytest.param(
            "acme",
            NO_ROUTER,
            [f"hub.team-b.{DOMAIN}", DOMAIN],
            {},
            [f"{NAME}.acme.{DOMAIN}"],
            [(f"hub.team-b.{DOMAIN}", "Reserved"), (DOMAIN, "Reserved")],
            id="another tenant's canonical name and the domain itself",
        ),
        pytest.param(
            "acme",
            ROUTED,
            ["play.example.net"],
            {},
            [f"{NAME}.acme.{DOMAIN}"],
            [("play.example.net", "Reserved")],
            id="the router's own host",
        ),
        pytest.param(
            None,
            BARE,
            ["a.example.com", "b.example.com"],
            {"a.example.com": theirs("a.example.com"), "b.example.com": mine("b.example.com")},
            ["b.example.com"],
            [("a.example.com", "Taken")],
            id="no domain: custom names only",
        ),
    ],
)
def test_grant(
    tenant: str | None,
    config: RouterConfig,
    asked: list[str],
    held: dict[str, Claim],
    granted: list[str],
    refused: list[tuple[str, str]],
) -> None:
    result = grant(NAME, NAMESPACE, tenant, asked, config, held)
    assert list(result.hostnames) == granted
    assert [(r.hostname, r.reason) for r in result.refusals] == refused
    assert all(r.hostname in r.message for r in result.refusals)


def test_the_canonical_name() -> None:
    assert canonical_hostname(NAME, "acme", NO_ROUTER) == f"{NAME}.acme.{DOMAIN}"
    assert canonical_hostname(NAME, "", NO_ROUTER) is None


# --- the address players join by -------------------------------------------------

CLUSTER = Address(host="10.96.0.10", port=25565, reach=AddressReach.CLUSTER)
BALANCER = Address(host="203.0.113.9", port=25565, reach=AddressReach.LOAD_BALANCER)
NODE = Address(host="10.0.0.7", port=30565, reach=AddressReach.NODE_PORT)
VIA_ROUTER = Address(host=f"{NAME}.acme.{DOMAIN}", port=25565, reach=AddressReach.ROUTER)


@pytest.mark.parametrize(
    ("from_service", "granted", "config", "expected"),
    [
        pytest.param(CLUSTER, [VIA_ROUTER.host], ROUTED, VIA_ROUTER, id="router"),
        pytest.param(
            CLUSTER,
            [VIA_ROUTER.host],
            RouterConfig(DOMAIN, "play.example.net", 30000),
            Address(host=VIA_ROUTER.host, port=30000, reach=AddressReach.ROUTER),
            id="router on its own port",
        ),
        pytest.param(
            CLUSTER,
            ["shop.example.com"],
            RouterConfig(public_host="play.example.net"),
            Address(host="shop.example.com", port=25565, reach=AddressReach.ROUTER),
            id="router, a custom hostname only",
        ),
        pytest.param(CLUSTER, [], ROUTED, CLUSTER, id="router but no hostname"),
        pytest.param(CLUSTER, [VIA_ROUTER.host], NO_ROUTER, CLUSTER, id="no router"),
        pytest.param(BALANCER, [VIA_ROUTER.host], ROUTED, BALANCER, id="load balancer"),
        pytest.param(NODE, [VIA_ROUTER.host], ROUTED, NODE, id="node port"),
        pytest.param(None, [VIA_ROUTER.host], ROUTED, None, id="no service yet"),
    ],
)
def test_the_joinable_address(
    from_service: Address | None,
    granted: list[str],
    config: RouterConfig,
    expected: Address | None,
) -> None:
    assert joinable(from_service, granted, config) == expected


@pytest.mark.parametrize(
    ("svc", "address", "internal"),
    [
        pytest.param(service(), VIA_ROUTER, CLUSTER, id="cluster ip through the router"),
        pytest.param(
            service("LoadBalancer", ingress=[{"ip": "203.0.113.9"}]),
            BALANCER,
            CLUSTER,
            id="a load balancer keeps its address; the router dials the cluster ip",
        ),
        pytest.param(service(cluster_ip=""), None, None, id="no cluster ip yet"),
        pytest.param(None, None, None, id="no service"),
    ],
)
def test_route_server(
    svc: dict[str, Any] | None, address: Address | None, internal: Address | None
) -> None:
    spec = {"service": {"hostnames": ["shop.example.com"]}}
    if svc is not None and svc["spec"]["type"] == "LoadBalancer":
        spec["service"]["type"] = "LoadBalancer"
    routes = route_server(server(spec), "acme", ROUTED, {}, svc, pod(ready=True))
    assert routes.hostnames == (VIA_ROUTER.host, "shop.example.com")
    assert (routes.address, routes.internal, routes.asked) == (address, internal, 1)
