"""A MinecraftServer as the router sees it (pure): its hostnames and a Route to act on.

Read from the CR as plain JSON, field by field and tolerantly: a server the router cannot
read fully is still answered for (as ``unknown``), never a reason to drop the whole table.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any, Final

from craftplane.contracts.hostnames import Claim, normalize
from craftplane.contracts.status import Phase

Key = tuple[str, str]  # namespace, name

# status.reason (or a condition's reason) on a Stopped server that the platform put to sleep
# and can wake again: hibernation and its colder form. The operator's hibernation task names
# them; they live here alone, so changing the marker is a one-line change.
SLEEP_REASONS: Final = frozenset({"Hibernating", "Archived"})


class State(StrEnum):
    RUNNING = "running"
    STARTING = "starting"
    STOPPED = "stopped"
    SLEEPING = "sleeping"
    ERROR = "error"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class Route:
    namespace: str
    name: str
    host: str  # status.internalAddress: the Service's ClusterIP
    port: int
    state: State
    proxy_protocol: bool = False
    version: str = ""
    players_online: int = 0
    players_max: int = 0
    message: str = ""

    @property
    def server(self) -> str:
        """``namespace/name``, as every log line names a server."""
        return f"{self.namespace}/{self.name}"

    @property
    def dialable(self) -> bool:
        return bool(self.host) and 0 < self.port < 65536


@dataclass(frozen=True)
class Entry:
    """One server's part of the routing table."""

    claim_time: str  # metadata.creationTimestamp: the older server keeps a contested name
    route: Route
    hostnames: frozenset[str]

    @property
    def key(self) -> Key:
        return self.route.namespace, self.route.name

    def claim(self, hostname: str) -> Claim:
        return Claim(self.claim_time, self.route.namespace, self.route.name, hostname)


def _dict(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _sleeping(status: Mapping[str, Any]) -> bool:
    if status.get("reason") in SLEEP_REASONS:
        return True
    conditions = status.get("conditions")
    return isinstance(conditions, list) and any(
        _dict(c).get("reason") in SLEEP_REASONS for c in conditions
    )


def state_of(obj: Mapping[str, Any]) -> State:
    """What the router does for a server, from its status (and deletion)."""
    status = _dict(obj.get("status"))
    if _dict(obj.get("metadata")).get("deletionTimestamp"):
        return State.STOPPED
    phase = status.get("phase")
    if phase == Phase.RUNNING:
        return State.RUNNING
    if phase == Phase.STARTING:
        return State.STARTING
    if phase == Phase.STOPPED:
        return State.SLEEPING if _sleeping(status) else State.STOPPED
    if phase == Phase.TERMINATING:
        return State.STOPPED
    if phase == Phase.ERROR:
        return State.ERROR
    return State.UNKNOWN


def route_of(obj: Mapping[str, Any]) -> Route:
    meta, spec, status = (_dict(obj.get(part)) for part in ("metadata", "spec", "status"))
    address = _dict(status.get("internalAddress"))
    players = _dict(status.get("players"))
    state = state_of(obj)
    host, port = str(address.get("host") or ""), _int(address.get("port"))
    route = Route(
        namespace=str(meta.get("namespace") or ""),
        name=str(meta.get("name") or ""),
        host=host,
        port=port,
        state=state,
        proxy_protocol=_dict(spec.get("service")).get("proxyProtocol") is True,
        version=str(spec.get("version") or ""),
        players_online=_int(players.get("online")),
        players_max=_int(players.get("max")),
        message=str(status.get("message") or ""),
    )
    if state is State.RUNNING and not route.dialable:
        # Running before the operator published where: nothing to dial yet.
        return replace(route, state=State.STARTING, message="no internal address yet")
    return route


def entry_of(obj: Mapping[str, Any]) -> Entry:
    meta, status = _dict(obj.get("metadata")), _dict(obj.get("status"))
    names = status.get("hostnames")
    listed = names if isinstance(names, list) else []
    keys = frozenset(
        key for key in (normalize(str(n)) for n in listed if isinstance(n, str)) if key
    )
    return Entry(str(meta.get("creationTimestamp") or ""), route_of(obj), keys)
