"""A MinecraftServer as the router sees it (pure): its hostnames and a Route to act on.

Read from the CR as plain JSON, field by field and tolerantly: a server the router cannot
read fully is still answered for (as ``unknown``), never a reason to drop the whole table.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any, Final

from craftplane.contracts.hibernation import SLEEP_REASONS, WAKE_FAILED_REASON, WAKING_REASON
from craftplane.contracts.hostnames import Claim, normalize
from craftplane.contracts.status import ArchiveState, ConditionStatus, ConditionType, Phase

Key = tuple[str, str]  # namespace, name

# A condition's reason on a Stopped server that the platform put to sleep and can wake again
# (SLEEP_REASONS), or on a Starting one it is waking (WAKING_REASON): the operator writes them
# as its Ready condition's reason, from the same names in craftplane.contracts.hibernation.
_WAKING: Final = frozenset({WAKING_REASON})
_ARCHIVE_HELD: Final = frozenset({ArchiveState.ARCHIVED.value, ArchiveState.RESTORING.value})


class State(StrEnum):
    RUNNING = "running"
    STARTING = "starting"
    WAKING = "waking"  # woken (by a join or its owner), not Running yet
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
    # How long its last wake took (status.hibernation.lastStartSeconds); None: not known.
    start_seconds: int | None = None
    # False once failed wakes stopped joins from waking it (condition WakeOnJoin False).
    wakeable: bool = True
    # Archived (status.archive Archived or Restoring): a wake restores its world first, which
    # takes longer than a Java client waits, so a joining player is never held.
    archived: bool = False

    @property
    def server(self) -> str:
        """``namespace/name``, as every log line names a server."""
        return f"{self.namespace}/{self.name}"

    @property
    def key(self) -> Key:
        return self.namespace, self.name

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


def _conditions(status: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    listed = status.get("conditions")
    return [_dict(c) for c in listed] if isinstance(listed, list) else []


def _has_reason(status: Mapping[str, Any], reasons: frozenset[str]) -> bool:
    if status.get("reason") in reasons:
        return True
    return any(c.get("reason") in reasons for c in _conditions(status))


def _wakeable(status: Mapping[str, Any]) -> bool:
    return not any(
        c.get("type") == ConditionType.WAKE_ON_JOIN
        and c.get("status") == ConditionStatus.FALSE
        and c.get("reason") == WAKE_FAILED_REASON
        for c in _conditions(status)
    )


def _start_seconds(status: Mapping[str, Any]) -> int | None:
    seconds = _dict(status.get("hibernation")).get("lastStartSeconds")
    if isinstance(seconds, int) and not isinstance(seconds, bool) and seconds >= 0:
        return seconds
    return None


def _archived(status: Mapping[str, Any]) -> bool:
    return _dict(status.get("archive")).get("state") in _ARCHIVE_HELD


def state_of(obj: Mapping[str, Any]) -> State:
    """What the router does for a server, from its status (and deletion)."""
    status = _dict(obj.get("status"))
    if _dict(obj.get("metadata")).get("deletionTimestamp"):
        return State.STOPPED
    phase = status.get("phase")
    if phase == Phase.RUNNING:
        return State.RUNNING
    if phase == Phase.STARTING:
        return State.WAKING if _has_reason(status, _WAKING) else State.STARTING
    if phase == Phase.STOPPED:
        return State.SLEEPING if _has_reason(status, SLEEP_REASONS) else State.STOPPED
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
        start_seconds=_start_seconds(status),
        wakeable=_wakeable(status),
        archived=_archived(status),
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
