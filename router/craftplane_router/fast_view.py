"""What the compiled fast path is told (pure): the hostnames of running servers and where
each goes, mirrored from the routing table as changes of the hostnames a change touched.

The fast path forwards only what is in this view and hands every other connection to the
Python router, so the view holds exactly the hostnames ``decide`` would forward at once (a
Running route); a server starting, sleeping or unknown is absent and stays the Python
router's. A player count changing (a status write every ping interval) changes no entry,
so it sends nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Final

from craftplane_router.routes import Route, State
from craftplane_router.table import RouteTable

# Routes and removals per control message: a SOCK_SEQPACKET message must fit the socket's
# send buffer (about 200 KiB by default); a route is under 500 bytes of JSON (a 253-byte
# hostname and a server's name).
ROUTES_PER_MESSAGE: Final = 256


@dataclass(frozen=True)
class FastRoute:
    server: str  # namespace/name: the metrics' labels
    address: str  # host:port, as Go's net.Dial takes it
    proxy: bool

    def wire(self) -> dict[str, Any]:
        return {"server": self.server, "address": self.address, "proxy": self.proxy}


def fast_route(route: Route | None) -> FastRoute | None:
    if route is None or route.state is not State.RUNNING or not route.host:
        return None
    host = f"[{route.host}]" if ":" in route.host else route.host
    return FastRoute(route.server, f"{host}:{route.port}", route.proxy_protocol)


class FastView:
    """The view last sent; ``changes`` says what to send next."""

    def __init__(self) -> None:
        self._sent: dict[str, FastRoute] = {}

    def __len__(self) -> int:
        return len(self._sent)

    def reset(self) -> None:
        """Nothing sent yet (a fast path process just started)."""
        self._sent.clear()

    def changes(self, table: RouteTable, hostnames: Iterable[str] | None) -> list[dict[str, Any]]:
        """Control messages bringing the fast path to the table, for a change that touched
        ``hostnames`` (None: any hostname may have changed)."""
        if hostnames is None:
            wanted = {host: fast_route(route) for host, route in table.hostnames().items()}
            candidates: Iterable[str] = set(wanted) | set(self._sent)
        else:
            wanted = {host: fast_route(table.lookup(host)) for host in hostnames}
            candidates = wanted
        routes: dict[str, FastRoute] = {}
        removed: list[str] = []
        for host in candidates:
            now = wanted.get(host)
            if now == self._sent.get(host):
                continue
            if now is None:
                removed.append(host)
                del self._sent[host]
            else:
                routes[host] = self._sent[host] = now
        return _messages(routes, sorted(removed))


def _messages(routes: dict[str, FastRoute], removed: list[str]) -> list[dict[str, Any]]:
    """At most ``ROUTES_PER_MESSAGE`` routes and removals together per message."""
    entries: list[tuple[str, FastRoute | None]] = [(host, None) for host in removed]
    entries += sorted(routes.items())
    messages: list[dict[str, Any]] = []
    for start in range(0, len(entries), ROUTES_PER_MESSAGE):
        part = entries[start : start + ROUTES_PER_MESSAGE]
        messages.append(
            {
                "routes": {host: route.wire() for host, route in part if route is not None},
                "removed": [host for host, route in part if route is None],
            }
        )
    return messages
