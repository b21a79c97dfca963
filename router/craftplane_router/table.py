"""The routing table (pure, in memory): hostname -> Route, fed one server at a time.

Updated incrementally: a status write (a player count every ping interval, for every server)
touches only that server's hostnames, so thousands of servers cost nothing per event. Two
servers listing the same hostname should not happen (the operator decides who owns one), but
if they do, the oldest claim holds (``hostnames.Claim`` order: creation time, then
namespace/name), the same rule the operator applies, so both agree on who gets the players.
Only servers in tenant namespaces are routed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from craftplane_router.routes import Entry, Key, Route

# Told which hostnames may route elsewhere after a change (None: any of them may).
Touched = Callable[[Iterable[str] | None], None]


class RouteTable:
    def __init__(self, entries: Iterable[Entry] = (), namespaces: Iterable[str] = ()) -> None:
        self._entries: dict[Key, Entry] = {}
        self._by_host: dict[str, set[Key]] = {}
        self._namespaces: set[str] = set(namespaces)
        self._touched: Touched = lambda hostnames: None
        for entry in entries:
            self.put(entry)

    def on_change(self, touched: Touched) -> None:
        """Call ``touched`` after every change (the fast path mirrors running routes)."""
        self._touched = touched

    def __len__(self) -> int:
        return len(self._entries)

    def put(self, entry: Entry) -> None:
        old = self._drop(entry.key)
        self._entries[entry.key] = entry
        for hostname in entry.hostnames:
            self._by_host.setdefault(hostname, set()).add(entry.key)
        self._touched(entry.hostnames | old)

    def remove(self, key: Key) -> None:
        self._touched(self._drop(key))

    def _drop(self, key: Key) -> frozenset[str]:
        """Forget one server; the hostnames it had."""
        old = self._entries.pop(key, None)
        if old is None:
            return frozenset()
        for hostname in old.hostnames:
            holders = self._by_host.get(hostname)
            if holders is not None:
                holders.discard(key)
                if not holders:
                    del self._by_host[hostname]
        return old.hostnames

    def replace_all(self, entries: Iterable[Entry]) -> None:
        """The table after a fresh list: exactly these servers."""
        touched, self._touched = self._touched, lambda hostnames: None
        try:
            self._entries.clear()
            self._by_host.clear()
            for entry in entries:
                self.put(entry)
        finally:
            self._touched = touched
        self._touched(None)

    def set_namespaces(self, namespaces: Iterable[str]) -> None:
        """The tenant namespaces: servers elsewhere are kept but not routed."""
        self._namespaces = set(namespaces)
        self._touched(None)

    def add_namespace(self, namespace: str) -> None:
        self._namespaces.add(namespace)
        self._touched(None)

    def remove_namespace(self, namespace: str) -> None:
        self._namespaces.discard(namespace)
        self._touched(None)

    @property
    def namespaces(self) -> frozenset[str]:
        return frozenset(self._namespaces)

    def lookup(self, key: str) -> Route | None:
        """The Route for a routing key (``hostnames.normalize`` of the handshake's address)."""
        holders = self._by_host.get(key)
        if not holders:
            return None
        claims = [
            self._entries[holder].claim(key) for holder in holders if holder[0] in self._namespaces
        ]
        if not claims:
            return None
        oldest = min(claims)
        return self._entries[oldest.namespace, oldest.name].route

    def route(self, key: Key) -> Route | None:
        """The Route of one server (namespace, name), if it is routed."""
        entry = self._entries.get(key)
        if entry is None or key[0] not in self._namespaces:
            return None
        return entry.route

    def hostnames(self) -> dict[str, Route]:
        """Every routed hostname and its Route (for tests and debugging; O(table))."""
        found = {host: self.lookup(host) for host in self._by_host}
        return {host: route for host, route in found.items() if route is not None}
