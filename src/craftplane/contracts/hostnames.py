"""Hostnames players join a server by, through the router: the one contract the operator (which
decides and publishes them in ``status.hostnames``), the router (which routes them) and the
gateway (which shows them) share.

Every server has a canonical hostname ``<server>.<tenant>.<domain>`` when the platform has a
game domain. A server may ask for custom ones (``spec.service.hostnames``). On a shared
cluster a hostname is a thing tenants could fight over, so two rules hold:

* a custom hostname may not be inside the platform's domain (those names are the canonical
  ones, derived from who owns the server; a tenant cannot take ``x.othertenant.<domain>``);
* a custom hostname claimed by several servers belongs to the oldest claim (creation time,
  then namespace/name): a newer server cannot take over the name of a running one, and the
  loser is told so.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

MAX_CUSTOM_HOSTNAMES: Final = 8
MAX_HOSTNAME: Final = 253
# Lowercase RFC 1123 labels, at least two of them: a single label would never leave a LAN.
HOSTNAME_PATTERN: Final = (
    r"^(?=.{1,253}$)[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?(\.[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)+$"
)
_HOSTNAME: Final = re.compile(HOSTNAME_PATTERN)
# Forge/FML clients append "\0FML\0", "\0FML2\0" or "\0FML3\0" to the handshake's address.
_FORGE_MARK: Final = "\0"


def normalize(address: str) -> str:
    """A handshake's server address as a routing key: without a Forge marker, without the
    trailing dot of a fully qualified name, lowercase (DNS names are case-insensitive)."""
    return address.split(_FORGE_MARK, 1)[0].strip().rstrip(".").lower()


def valid_hostname(name: str) -> bool:
    return bool(_HOSTNAME.fullmatch(name))


def canonical(server: str, tenant: str, domain: str) -> str:
    """``<server>.<tenant>.<domain>``; the empty string when there is no game domain."""
    domain = normalize(domain)
    if not domain:
        return ""
    return f"{server}.{tenant}.{domain}"


def in_domain(hostname: str, domain: str) -> bool:
    """Whether ``hostname`` is the platform domain or a name under it (reserved)."""
    domain = normalize(domain)
    return bool(domain) and (hostname == domain or hostname.endswith("." + domain))


@dataclass(frozen=True, order=True)
class Claim:
    """A server asking for a custom hostname; ordered oldest first."""

    created: str  # metadata.creationTimestamp, RFC 3339 (sorts as text)
    namespace: str
    name: str
    hostname: str


@dataclass(frozen=True)
class Refusal:
    hostname: str
    reason: str  # "Reserved" or "Taken"
    message: str


def refusal_of(claim: Claim, domain: str, owner: Claim | None) -> Refusal | None:
    """Why ``claim`` does not get its hostname (``owner``: the claim that holds it), or None."""
    if in_domain(claim.hostname, domain):
        return Refusal(
            claim.hostname,
            "Reserved",
            f"{claim.hostname} is inside the platform's domain {domain}; its names are "
            "<server>.<tenant>.<domain> and given, not chosen",
        )
    if owner is not None and (owner.namespace, owner.name) != (claim.namespace, claim.name):
        return Refusal(
            claim.hostname,
            "Taken",
            f"{claim.hostname} already belongs to an older server; choose another hostname",
        )
    return None


def owners(claims: Iterable[Claim], domain: str) -> dict[str, Claim]:
    """For each claimed hostname that may be claimed at all, the claim that holds it."""
    held: dict[str, Claim] = {}
    for claim in sorted(claims):
        if in_domain(claim.hostname, domain):
            continue
        held.setdefault(claim.hostname, claim)
    return held
