"""The one mapping from a MinecraftServer object to the events that announce it.

The operator publishes these events; the gateway builds the same ones from what it polls, so
that a state seen both ways has one event id and is projected once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Self

from craftplane.contracts.event_types import EventKind, EventType, phase_event_type
from craftplane.contracts.events import Event, ServerRef
from craftplane.contracts.status import Phase

DEFAULT_TYPE = "VANILLA"
DEFAULT_VERSION = "LATEST"


def read_phase(value: Any) -> Phase | None:
    """A phase, or None for anything else (the readers here never raise)."""
    try:
        return Phase(value) if value else None
    except ValueError:
        return None


def read_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdecimal():
        return int(value)
    return None


def read_str(value: Any) -> str | None:
    # Kept as is (even ""), so that both sides compute the same event id.
    return value if isinstance(value, str) else None


def read_strings(value: Any) -> tuple[str, ...] | None:
    """A list of strings as a tuple; None for anything else (a non-string item included)."""
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        return None
    return tuple(value)


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


@dataclass(frozen=True)
class ObservedServer:
    """A MinecraftServer as its object says, read leniently (a field of the wrong type is
    absent rather than an error)."""

    uid: str
    tenant: str | None
    namespace: str
    name: str
    phase: Phase | None = None
    generation: int | None = None
    """status.observedGeneration, else metadata.generation."""
    address: str | None = None
    port: int | None = None
    reach: str | None = None
    """status.address.reach."""
    hostnames: tuple[str, ...] | None = None
    """status.hostnames; None when the status has no such list."""
    players_online: int | None = None
    players_max: int | None = None
    """status.players.max: what the last ping said."""
    reason: str | None = None
    """The Ready condition's reason."""
    message: str | None = None
    revision: str | None = None
    """metadata.resourceVersion."""
    spec_generation: int | None = None
    """metadata.generation."""
    server_type: str | None = None
    version: str | None = None
    max_players: int | None = None
    """spec.properties.maxPlayers: what the spec asks for."""

    @classmethod
    def from_cr(cls, body: Mapping[str, Any], tenant: str | None) -> Self:
        meta = body["metadata"]
        spec = _mapping(body.get("spec"))
        status = _mapping(body.get("status"))
        address = _mapping(status.get("address"))
        players = _mapping(status.get("players"))
        conditions = status.get("conditions") or []
        ready = next(
            (c for c in conditions if isinstance(c, Mapping) and c.get("type") == "Ready"), {}
        )
        return cls(
            uid=meta["uid"],
            tenant=tenant,
            namespace=meta["namespace"],
            name=meta["name"],
            phase=read_phase(status.get("phase")),
            generation=read_int(status.get("observedGeneration") or meta.get("generation")),
            address=read_str(address.get("host")),
            port=read_int(address.get("port")),
            reach=read_str(address.get("reach")),
            hostnames=read_strings(status.get("hostnames")),
            players_online=read_int(players.get("online")),
            players_max=read_int(players.get("max")),
            reason=read_str(ready.get("reason")),
            message=read_str(status.get("message")),
            revision=read_str(meta.get("resourceVersion")),
            spec_generation=read_int(meta.get("generation")),
            server_type=read_str(spec.get("type", DEFAULT_TYPE)),
            version=read_str(spec.get("version", DEFAULT_VERSION)),
            max_players=read_int(_mapping(spec.get("properties")).get("maxPlayers")),
        )

    @property
    def ref(self) -> ServerRef:
        return ServerRef(uid=self.uid, namespace=self.namespace, name=self.name, tenant=self.tenant)

    def phase_event(self, *, time: datetime | None = None) -> Event | None:
        """The event announcing the server's current phase; None before it has one."""
        if self.phase is None:
            return None
        return Event(
            type=phase_event_type(self.phase),
            server=self.ref,
            phase=self.phase,
            generation=self.generation,
            address=self.address,
            port=self.port,
            reach=self.reach,
            hostnames=list(self.hostnames) if self.hostnames is not None else None,
            players_online=self.players_online,
            players_max=self.players_max,
            reason=self.reason,
            message=self.message,
            revision=self.revision,
            time=time or datetime.now(UTC),
        )

    def spec_event(self, event_type: EventType, *, time: datetime | None = None) -> Event:
        """server.created / server.updated / server.deleted for the spec as it is now."""
        if event_type.kind is not EventKind.SPEC:
            raise ValueError(f"{event_type} is not a spec event")
        return Event(
            type=event_type,
            server=self.ref,
            generation=self.spec_generation,
            phase=Phase.TERMINATING if event_type is EventType.SERVER_DELETED else None,
            players_max=self.max_players,
            server_type=self.server_type,
            version=self.version,
            # For people reading the timeline; consumers read server_type and version.
            message=(
                f"{self.server_type} {self.version}" if self.server_type and self.version else None
            ),
            time=time or datetime.now(UTC),
        )


def phase_event(body: Mapping[str, Any], tenant: str | None) -> Event | None:
    """The event announcing the server's current phase, from its status; None before it has one."""
    return ObservedServer.from_cr(body, tenant).phase_event()


def spec_event(event_type: EventType, body: Mapping[str, Any], tenant: str | None) -> Event:
    """server.created / server.updated / server.deleted for the CR as it is now."""
    return ObservedServer.from_cr(body, tenant).spec_event(event_type)
