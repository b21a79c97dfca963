"""What the database layer hands out: small frozen dataclasses with JSON-friendly fields."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from datetime import datetime
from typing import Any, Protocol, Self

from craftplane.contracts.cr_events import (
    ObservedServer,
    read_int,
    read_phase,
    read_str,
    read_strings,
)
from craftplane.contracts.phases import LIVE_STATES, ServerState


class Record(Protocol):
    """An asyncpg.Record, or a dict: what from_record() reads columns from."""

    def __getitem__(self, key: str, /) -> Any: ...


LIVE_STATUSES: tuple[str, ...] = tuple(s.value for s in LIVE_STATES)


def _jsonable(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


@dataclass(frozen=True)
class ServerRow:
    """One row of ``servers``: a server as the projection knows it."""

    uid: str
    tenant: str | None
    namespace: str
    name: str
    status: str
    phase: str | None
    generation: int | None
    spec_generation: int | None
    address: str | None
    port: int | None
    players_online: int | None
    players_max: int | None
    reason: str | None
    message: str | None
    server_type: str | None
    version: str | None
    created_at: datetime
    updated_at: datetime
    deleted_at: datetime | None
    last_event_id: str | None
    last_event_time: datetime | None
    last_revision: int | None
    last_stream_seq: int | None
    reach: str | None = None
    """status.address.reach: router, loadBalancer, nodePort or cluster; None: not said."""
    hostnames: str | None = None
    """status.hostnames, comma-separated as stored (see hostname_list); None: not said."""

    @classmethod
    def from_record(cls, record: Record) -> Self:
        return cls(**{f.name: record[f.name] for f in fields(cls)})

    @property
    def deleted(self) -> bool:
        return self.status == ServerState.DELETED

    def visible(self) -> tuple[Any, ...]:
        """What a client can see; bookkeeping columns (last_*) left out."""
        return (
            self.tenant, self.status, self.phase, self.generation, self.address, self.port,
            self.players_online, self.players_max, self.reason, self.message,
            self.server_type, self.version, self.deleted_at, self.reach, self.hostnames,
        )  # fmt: skip

    def to_json(self) -> dict[str, Any]:
        """Every column, datetimes as ISO 8601 strings."""
        return {key: _jsonable(value) for key, value in asdict(self).items()}


COLUMNS: tuple[str, ...] = tuple(f.name for f in fields(ServerRow))


def stored_hostnames(names: Sequence[str] | None) -> str | None:
    """Hostnames as the ``hostnames`` column holds them (a hostname has no comma)."""
    return None if names is None else ",".join(names)


def hostname_list(stored: str | Sequence[str] | None) -> list[str]:
    """The column's hostnames as a list (none when it says nothing)."""
    if stored is None:
        return []
    if isinstance(stored, str):
        return [name for name in stored.split(",") if name]
    return [str(name) for name in stored]


@dataclass(frozen=True)
class TimelineEntry:
    """One row of ``server_events``."""

    seq: int
    stream_seq: int | None
    event_id: str
    uid: str
    tenant: str | None
    namespace: str
    name: str
    type: str
    phase: str | None
    status: str | None
    generation: int | None
    revision: str | None
    players_online: int | None
    players_max: int | None
    address: str | None
    port: int | None
    reason: str | None
    message: str | None
    event_time: datetime
    recorded_at: datetime
    actor: str | None = None
    """Who asked, for the gateway's own writes (request.*); None for the operator's events."""

    @classmethod
    def from_record(cls, record: Record) -> Self:
        return cls(**{f.name: record[f.name] for f in fields(cls)})

    def to_json(self) -> dict[str, Any]:
        return {key: _jsonable(value) for key, value in asdict(self).items()}


@dataclass(frozen=True)
class ProjectedChange:
    """How one server's row changed in one batch, for pushing to clients."""

    server: ServerRow
    """The row after the batch."""
    previous_status: str | None
    """The status before the batch; None when the batch created the row."""
    statuses: tuple[str, ...]
    """The statuses the row took in this batch, in order (last is ``server.status``)."""
    event_ids: tuple[str, ...]
    """The events that changed the row, in order."""

    @property
    def uid(self) -> str:
        return self.server.uid

    @property
    def tenant(self) -> str | None:
        return self.server.tenant

    @property
    def name(self) -> str:
        return self.server.name

    @property
    def status(self) -> str:
        return self.server.status

    @property
    def created(self) -> bool:
        return self.previous_status is None

    def to_json(self) -> dict[str, Any]:
        return {
            "server": self.server.to_json(),
            "previous_status": self.previous_status,
            "statuses": list(self.statuses),
            "event_ids": list(self.event_ids),
        }


@dataclass(frozen=True)
class PlayerCount:
    namespace: str
    name: str
    uid: str
    online: int
    max: int | None


@dataclass(frozen=True)
class DeadLetter:
    id: int
    stream_seq: int | None
    subject: str
    payload: bytes
    error: str
    recorded_at: datetime


@dataclass(frozen=True)
class ClusterServer(ObservedServer):
    """A MinecraftServer as the cluster shows it (for drift reconciliation / polling): read
    from the CR with the contracts' mapping (``from_cr``), so that its events are the
    operator's."""

    @classmethod
    def coerce(cls, value: ObservedServer | Mapping[str, Any]) -> ClusterServer:
        """A ClusterServer, or a dict with its field names (``server_version`` for version;
        ``revision`` may be an int)."""
        if isinstance(value, ClusterServer):
            return value
        if isinstance(value, ObservedServer):
            return cls(**{f.name: getattr(value, f.name) for f in fields(ObservedServer)})
        revision = value.get("revision")
        return cls(
            uid=str(value["uid"]),
            tenant=value.get("tenant"),
            namespace=str(value["namespace"]),
            name=str(value["name"]),
            phase=read_phase(value.get("phase")),
            generation=read_int(value.get("generation")),
            address=read_str(value.get("address")),
            port=read_int(value.get("port")),
            reach=read_str(value.get("reach")),
            hostnames=_hostnames(value.get("hostnames")),
            players_online=read_int(value.get("players_online")),
            players_max=read_int(value.get("players_max")),
            reason=read_str(value.get("reason")),
            message=read_str(value.get("message")),
            revision=str(revision) if revision is not None else None,
            spec_generation=read_int(value.get("spec_generation", value.get("generation"))),
            server_type=read_str(value.get("server_type")),
            version=read_str(value.get("version", value.get("server_version"))),
            max_players=read_int(value.get("max_players")),
        )


def _hostnames(value: Any) -> tuple[str, ...] | None:
    """A list of hostnames, or the column's comma-separated text (as rows hand them over)."""
    if isinstance(value, str):
        return tuple(hostname_list(value))
    return read_strings(value)
