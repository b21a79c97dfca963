"""What the database layer hands out: small frozen dataclasses with JSON-friendly fields."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol, Self

from craftplane.contracts.status import Phase


class Record(Protocol):
    """An asyncpg.Record, or a dict: what from_record() reads columns from."""

    def __getitem__(self, key: str, /) -> Any: ...


class ServerStatus(StrEnum):
    """A row's ``status``: the projected statuses plus ``deleted`` (the CR is gone)."""

    DEPLOYING = "deploying"
    RUNNING = "running"
    STOPPED = "stopped"
    FAILED = "failed"
    TERMINATING = "terminating"
    DELETED = "deleted"


LIVE_STATUSES: tuple[str, ...] = tuple(
    s.value for s in ServerStatus if s is not ServerStatus.DELETED
)


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

    @classmethod
    def from_record(cls, record: Record) -> Self:
        return cls(**{f.name: record[f.name] for f in fields(cls)})

    @property
    def deleted(self) -> bool:
        return self.status == ServerStatus.DELETED

    def visible(self) -> tuple[Any, ...]:
        """What a client can see; bookkeeping columns (last_*) left out."""
        return (
            self.tenant, self.status, self.phase, self.generation, self.address, self.port,
            self.players_online, self.players_max, self.reason, self.message,
            self.server_type, self.version, self.deleted_at,
        )  # fmt: skip

    def to_json(self) -> dict[str, Any]:
        """Every column, datetimes as ISO 8601 strings."""
        return {key: _jsonable(value) for key, value in asdict(self).items()}


COLUMNS: tuple[str, ...] = tuple(f.name for f in fields(ServerRow))


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


def _phase(value: Any) -> Phase | None:
    try:
        return Phase(value) if value else None
    except ValueError:
        return None


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdecimal():
        return int(value)
    return None


def _str(value: Any) -> str | None:
    # Kept as is (even ""), like the operator does, so that event ids match.
    return value if isinstance(value, str) else None


@dataclass(frozen=True)
class ClusterServer:
    """A MinecraftServer as the cluster shows it (for drift reconciliation / polling)."""

    uid: str
    tenant: str | None
    namespace: str
    name: str
    phase: Phase | None = None
    generation: int | None = None
    """status.observedGeneration, else metadata.generation (as in the operator's events)."""
    address: str | None = None
    port: int | None = None
    players_online: int | None = None
    players_max: int | None = None
    reason: str | None = None
    """The Ready condition's reason."""
    message: str | None = None
    revision: str | None = None
    """metadata.resourceVersion."""
    spec_generation: int | None = None
    """metadata.generation."""
    server_type: str | None = None
    version: str | None = None

    @classmethod
    def coerce(cls, value: ClusterServer | Mapping[str, Any]) -> ClusterServer:
        """A ClusterServer, or a dict with its field names (``server_version`` for version;
        ``revision`` may be an int)."""
        if isinstance(value, ClusterServer):
            return value
        revision = value.get("revision")
        return cls(
            uid=str(value["uid"]),
            tenant=value.get("tenant"),
            namespace=str(value["namespace"]),
            name=str(value["name"]),
            phase=_phase(value.get("phase")),
            generation=_int(value.get("generation")),
            address=_str(value.get("address")),
            port=_int(value.get("port")),
            players_online=_int(value.get("players_online")),
            players_max=_int(value.get("players_max")),
            reason=_str(value.get("reason")),
            message=_str(value.get("message")),
            revision=str(revision) if revision is not None else None,
            spec_generation=_int(value.get("spec_generation", value.get("generation"))),
            server_type=_str(value.get("server_type")),
            version=_str(value.get("version", value.get("server_version"))),
        )

    @classmethod
    def from_cr(cls, body: Mapping[str, Any], tenant: str | None) -> Self:
        """Read a MinecraftServer object the way the operator builds its phase events, so that
        a state seen by polling has the same event id as the operator's event for it."""
        meta = body["metadata"]
        spec = body.get("spec") or {}
        status = body.get("status") or {}
        address = status.get("address") or {}
        players = status.get("players") or {}
        conditions = status.get("conditions") or []
        ready = next(
            (c for c in conditions if isinstance(c, Mapping) and c.get("type") == "Ready"), {}
        )
        return cls(
            uid=meta["uid"],
            tenant=tenant,
            namespace=meta["namespace"],
            name=meta["name"],
            phase=_phase(status.get("phase")),
            generation=_int(status.get("observedGeneration") or meta.get("generation")),
            address=_str(address.get("host")),
            port=_int(address.get("port")),
            players_online=_int(players.get("online")),
            players_max=_int(players.get("max")),
            reason=_str(ready.get("reason")),
            message=_str(status.get("message")),
            revision=_str(meta.get("resourceVersion")),
            spec_generation=_int(meta.get("generation")),
            server_type=_str(spec.get("type", "VANILLA")),
            version=_str(spec.get("version", "LATEST")),
        )
