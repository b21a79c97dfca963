"""Hostnames and the address players join by (pure).

The platform's router listens on one public address and routes each connection by the
hostname of the Java handshake to a server's ClusterIP; what it routes is what the operator
writes in ``status.hostnames`` (and, for an itzg/mc-router, in the Service's annotation).
Here is decided, from the settings, the server's tenant, and who holds which custom hostname
cluster-wide (`hostname_index`):

* the hostnames granted: the canonical ``<server>.<tenant>.<domain>`` first, then each custom
  one the server holds, in spec order; the refused ones with their reason;
* ``status.address``: through the router (the first granted hostname, the router's public
  port) for a ClusterIP Service when the platform has a router, else what the Service gives.

The router's own public host is reserved like the game domain: it is the platform's name, and
a tenant claiming it would receive every player who types the bare address.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urlsplit

from craftplane.contracts import hostnames
from craftplane.contracts.hostnames import Claim, Refusal
from craftplane.contracts.status import Address, AddressReach
from craftplane_operator.addresses import internal_address, service_address
from craftplane_operator.builders.context import ServerContext

DEFAULT_ROUTER_PORT: Final = 25565
REASON_RESERVED: Final = "Reserved"


@dataclass(frozen=True)
class RouterConfig:
    """The platform's game domain and router, from the operator's settings."""

    domain: str = ""  # normalized; "" = no canonical hostnames
    public_host: str = ""  # normalized; "" = no router
    public_port: int = DEFAULT_ROUTER_PORT

    @property
    def has_router(self) -> bool:
        return bool(self.public_host)


def parse_public_address(value: str) -> tuple[str, int]:
    """``host`` or ``host:port`` (an IPv6 address in brackets) as (host, port); ValueError
    saying what is wrong. The host is a hostname or an IP address, the port 1-65535."""
    text = value.strip()
    try:
        parts = urlsplit(f"//{text}")
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"{text!r} is not host or host:port ({exc})") from exc
    host = hostnames.normalize(parts.hostname or "")
    if not host or parts.path or parts.query or parts.fragment or parts.username:
        raise ValueError(f"{text!r} is not host or host:port")
    if not hostnames.valid_hostname(host) and not _is_ip(host):
        raise ValueError(f"{host!r} is neither a hostname nor an IP address")
    if port == 0:
        raise ValueError("the port must be 1-65535")
    return host, DEFAULT_ROUTER_PORT if port is None else port


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def router_config(domain: str, public_address: str) -> RouterConfig:
    """The settings as a RouterConfig (they were checked at start-up: ValueError otherwise)."""
    host, port = parse_public_address(public_address) if public_address.strip() else ("", 0)
    return RouterConfig(
        domain=hostnames.normalize(domain),
        public_host=host,
        public_port=port or DEFAULT_ROUTER_PORT,
    )


def domain_error(domain: str) -> str | None:
    """Why ``domain`` cannot be the game domain, or None (the empty string is no domain)."""
    name = hostnames.normalize(domain)
    if not name or hostnames.valid_hostname(name):
        return None
    return f"{domain!r} is not a DNS name of two or more labels"


def claims_of(body: Mapping[str, Any]) -> tuple[Claim, ...]:
    """The custom hostnames a MinecraftServer object asks for, as claims (oldest first when
    sorted). None while it is being deleted: a server on its way out holds nothing, so the
    next claimant gets the name without waiting for the finalizer. Names the contracts refuse
    are left out (the API server should have refused them)."""
    meta: Mapping[str, Any] = body.get("metadata") or {}
    if meta.get("deletionTimestamp") or not meta.get("name"):
        return ()
    service = (body.get("spec") or {}).get("service") or {}
    asked = service.get("hostnames") if isinstance(service, Mapping) else None
    if not isinstance(asked, list):
        return ()
    created = str(meta.get("creationTimestamp") or "")
    valid = [n for n in asked if isinstance(n, str) and hostnames.valid_hostname(n)]
    return tuple(
        Claim(created, str(meta.get("namespace") or ""), str(meta["name"]), name)
        for name in dict.fromkeys(valid)
    )


def holders(claims: Iterable[Claim], config: RouterConfig) -> dict[str, Claim]:
    """For each claimed hostname that may be claimed, the claim that holds it (the oldest)."""
    open_claims = (c for c in claims if c.hostname != config.public_host)
    return hostnames.owners(open_claims, config.domain)


def _refusal(claim: Claim, config: RouterConfig, holder: Claim | None) -> Refusal | None:
    if config.public_host and claim.hostname == config.public_host:
        return Refusal(
            claim.hostname,
            REASON_RESERVED,
            f"{claim.hostname} is the router's own address; it routes no server",
        )
    return hostnames.refusal_of(claim, config.domain, holder)


def canonical_hostname(name: str, tenant: str | None, config: RouterConfig) -> str | None:
    """``<server>.<tenant>.<domain>``; None without a domain or a tenant, or when the result
    is no valid hostname (a tenant name no DNS label can hold)."""
    if not tenant or not config.domain:
        return None
    found = hostnames.canonical(name, tenant, config.domain)
    return found if hostnames.valid_hostname(found) else None


@dataclass(frozen=True)
class Granted:
    hostnames: tuple[str, ...]  # status.hostnames: canonical first, then the custom ones held
    refusals: tuple[Refusal, ...]  # the custom ones refused, in spec order


def grant(
    name: str,
    namespace: str,
    tenant: str | None,
    asked: Sequence[str],
    config: RouterConfig,
    held: Mapping[str, Claim],
) -> Granted:
    """Which hostnames the server gets; ``held`` maps its custom hostnames to their holders."""
    canonical = canonical_hostname(name, tenant, config)
    names = [canonical] if canonical else []
    refusals = []
    for hostname in asked:
        # The claim's time plays no part in a refusal: the holder was chosen by age already.
        refusal = _refusal(Claim("", namespace, name, hostname), config, held.get(hostname))
        if refusal is not None:
            refusals.append(refusal)
        elif hostname not in names:
            names.append(hostname)
    return Granted(tuple(names), tuple(refusals))


def joinable(
    service: Address | None, granted: Sequence[str], config: RouterConfig
) -> Address | None:
    """``status.address``: through the router for a ClusterIP Service (when the platform has a
    router and the server a hostname), else where the Service itself lets players in."""
    if (
        config.has_router
        and service is not None
        and service.reach is AddressReach.CLUSTER
        and granted
    ):
        return Address(host=granted[0], port=config.public_port, reach=AddressReach.ROUTER)
    return service


@dataclass(frozen=True)
class Routes:
    """What a reconcile reports about hostnames and addresses."""

    hostnames: tuple[str, ...] = ()
    refusals: tuple[Refusal, ...] = ()
    asked: int = 0  # how many custom hostnames the spec lists
    address: Address | None = None  # status.address
    internal: Address | None = None  # status.internalAddress


def routes(
    granted: Granted,
    asked: int,
    service: Address | None,
    internal: Address | None,
    config: RouterConfig,
) -> Routes:
    return Routes(
        hostnames=granted.hostnames,
        refusals=granted.refusals,
        asked=asked,
        address=joinable(service, granted.hostnames, config),
        internal=internal,
    )


def route_server(
    server: ServerContext,
    tenant: str | None,
    config: RouterConfig,
    held: Mapping[str, Claim],
    service: Mapping[str, Any] | None,
    pod: Mapping[str, Any] | None,
) -> Routes:
    """Everything routing reports for a valid server, from its live Service (and pod)."""
    asked = server.spec.service.hostnames
    granted = grant(server.name, server.namespace, tenant, asked, config, held)
    return routes(
        granted,
        len(asked),
        service_address(service, pod),
        internal_address(service),
        config,
    )
