"""Who claims which custom hostname, cluster-wide, kept from the MinecraftServer watch.

Whether a server gets a custom hostname depends on every other server that asks for it (the
oldest claim holds it), so a change to one server's claims can change another's result: the
loser becomes the holder when the holder is deleted or lets the name go. `update` answers
which servers those are, so the handler queues them; a reconcile reads the holders of its
own names here instead of listing every server (at a thousand servers a full resync would
otherwise cost a million comparisons).

Filled from the watch as the ObjectStore is, and once from a list before the first reconcile
(`prime`): a server reconciled before an older claimant was seen would otherwise be granted
that claimant's name for a moment, and the router would route it there.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from craftplane.contracts.hostnames import Claim
from craftplane_operator.routing import RouterConfig, claims_of, holders

Key = str  # "namespace/name"


def _key(claim: Claim) -> Key:
    return f"{claim.namespace}/{claim.name}"


class HostnameIndex:
    def __init__(self, config: RouterConfig) -> None:
        self._config = config
        self._claims: dict[Key, tuple[Claim, ...]] = {}
        self._by_hostname: dict[str, set[Claim]] = {}

    def __len__(self) -> int:
        return len(self._claims)

    @property
    def config(self) -> RouterConfig:
        return self._config

    def holders_of(self, names: Iterable[str]) -> dict[str, Claim]:
        """The claim holding each of ``names`` (those held by nobody are absent)."""
        wanted = set(names)
        claims = (c for name in wanted for c in self._by_hostname.get(name, ()))
        return holders(claims, self._config)

    def prime(self, bodies: Iterable[Mapping[str, Any]]) -> None:
        for body in bodies:
            self.update(body)

    def update(self, body: Mapping[str, Any]) -> set[Key]:
        """Take in a server's object (as a watch event carries it); the other servers whose
        result may have changed."""
        meta: Mapping[str, Any] = body.get("metadata") or {}
        key = f"{meta.get('namespace') or ''}/{meta.get('name') or ''}"
        return self._replace(key, claims_of(body))

    def follow(self, event: Mapping[str, Any]) -> set[Key]:
        """Take in a watch event of a MinecraftServer (DELETED or not); the other servers whose
        result may have changed, to be reconciled again."""
        body: Mapping[str, Any] = event.get("object") or {}
        if event.get("type") == "DELETED":
            meta: Mapping[str, Any] = body.get("metadata") or {}
            return self.remove(meta.get("namespace") or "", meta.get("name") or "")
        return self.update(body)

    def remove(self, namespace: str, name: str) -> set[Key]:
        """A server is gone; the servers whose result may have changed."""
        return self._replace(f"{namespace}/{name}", ())

    def _replace(self, key: Key, claims: tuple[Claim, ...]) -> set[Key]:
        before = self._claims.get(key, ())
        if before == claims:
            return set()
        touched = {c.hostname for c in before} | {c.hostname for c in claims}
        old = self.holders_of(touched)
        for claim in before:
            self._by_hostname[claim.hostname].discard(claim)
            if not self._by_hostname[claim.hostname]:
                del self._by_hostname[claim.hostname]
        for claim in claims:
            self._by_hostname.setdefault(claim.hostname, set()).add(claim)
        if claims:
            self._claims[key] = claims
        else:
            self._claims.pop(key, None)
        return changed_holders(old, self.holders_of(touched)) - {key}


def changed_holders(before: Mapping[str, Claim], after: Mapping[str, Claim]) -> set[Key]:
    """The servers that lost or gained a hostname between two holder maps (pure)."""
    changed: set[Key] = set()
    for name in before.keys() | after.keys():
        old, new = before.get(name), after.get(name)
        if old == new:
            continue
        changed.update(_key(claim) for claim in (old, new) if claim is not None)
    return changed
