"""The versioned event envelope published on NATS JetStream.

Server events (spec and status kinds) are :class:`Event` and always name their server; sync
requests are :class:`SyncEvent` and may name only a namespace, or nothing. Subjects are laid
out in :mod:`craftplane.contracts.subjects` (re-exported here).
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Annotated, Any, Final, Literal, Self, TypeAlias

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    TypeAdapter,
    ValidationError,
    model_validator,
)

from craftplane.clock import utcnow
from craftplane.contracts.event_types import (
    EventKind,
    EventType,
    phase_event_type,
    type_phase,
)
from craftplane.contracts.status import Phase
from craftplane.contracts.subjects import (
    ALL_TOKEN,
    DUPLICATE_WINDOW_SECONDS,
    STREAM_MAX_AGE_SECONDS,
    STREAM_NAME,
    STREAM_SUBJECTS,
    SUBJECT_PREFIX,
    subject,
    subject_filter,
)

__all__ = [
    "ALL_TOKEN",
    "DUPLICATE_WINDOW_SECONDS",
    "SCHEMA_VERSION",
    "STREAM_MAX_AGE_SECONDS",
    "STREAM_NAME",
    "STREAM_SUBJECTS",
    "SUBJECT_PREFIX",
    "AnyEvent",
    "Event",
    "EventKind",
    "EventType",
    "InvalidEvent",
    "ServerRef",
    "SyncEvent",
    "SyncScope",
    "decode",
    "encode",
    "event_phase",
    "msg_id",
    "phase_event_type",
    "state_key",
    "subject",
    "subject_filter",
    "subject_for",
    "type_phase",
]

SCHEMA_VERSION: Final = 2
"""2: spec events carry ``server_type`` / ``version`` as fields (1 had them in ``message``)."""


class InvalidEvent(ValueError):
    """Bytes that are not a valid event of a schema version this code understands."""


class ServerRef(BaseModel):
    """The server a server event is about."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    uid: str = Field(default="", description="metadata.uid.")
    namespace: str = Field(min_length=1, description="Namespace of the server.")
    name: str = Field(min_length=1, description="Name of the MinecraftServer.")
    tenant: str | None = Field(
        default=None, description="Value of the namespace's craftplane.io/tenant label."
    )


class SyncScope(BaseModel):
    """Which servers a sync request is about: one, a namespace's (no name) or every one."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    # uid and tenant are always empty here; they keep the wire shape of ``server`` the same
    # in every event, so a reader that only filters by namespace needs no special case.
    uid: str = ""
    namespace: str | None = Field(default=None, description="None: every namespace.")
    name: str | None = Field(default=None, description="None: every server of the namespace.")
    tenant: str | None = None


def _to_utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


def _type_and_version(message: object) -> tuple[str, str] | None:
    """``"PAPER 1.21.1"``, the message of a version 1 spec event, as (type, version)."""
    parts = message.split() if isinstance(message, str) else []
    return (parts[0], parts[1]) if len(parts) == 2 else None


def _kind_of(raw: object) -> EventKind | None:
    try:
        return EventType(raw).kind if isinstance(raw, str) else None
    except ValueError:
        return None


def _read_v1(data: dict[str, Any]) -> dict[str, Any]:
    """A version 1 event as version 2, so that messages still in the stream project."""
    upgraded = {**data, "schema_version": SCHEMA_VERSION}
    kind = _kind_of(data.get("type"))
    parsed = _type_and_version(data.get("message"))
    if kind is EventKind.SPEC and parsed is not None and data.get("server_type") is None:
        upgraded["server_type"], upgraded["version"] = parsed
    return upgraded


class _Envelope(BaseModel):
    """What every event has. Unknown keys are ignored so that a consumer keeps working when a
    producer adds a field; incompatible changes bump ``schema_version``, which a consumer
    refuses with InvalidEvent unless it has a reader for that version."""

    model_config = ConfigDict(extra="ignore")

    schema_version: Literal[2] = SCHEMA_VERSION
    id: str = Field(default="", description="msg_id() of the event; filled in when empty.")
    type: EventType
    message: str | None = None
    time: Annotated[AwareDatetime, AfterValidator(_to_utc)] = Field(default_factory=utcnow)

    @model_validator(mode="before")
    @classmethod
    def _read_older_versions(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("schema_version") == 1:
            return _read_v1(data)
        return data


class Event(_Envelope):
    """A server event (spec or status kind). Field names are the JSON keys."""

    server: ServerRef
    phase: Phase | None = None
    generation: int | None = Field(default=None, ge=0)
    address: str | None = Field(
        default=None, description="Host players join by (status.address.host)."
    )
    port: int | None = Field(default=None, ge=1, le=65535)
    reach: str | None = Field(
        default=None,
        description=(
            "status.address.reach: router, loadBalancer, nodePort or cluster (inside the "
            "cluster only); None from an operator that did not say."
        ),
    )
    hostnames: list[str] | None = Field(
        default=None,
        description=(
            "status.hostnames, the hostnames the router routes to the server (canonical first); "
            "None when the status does not list them (an older operator)."
        ),
    )
    players_online: int | None = Field(default=None, ge=0)
    players_max: int | None = Field(default=None, ge=0)
    reason: str | None = None
    server_type: str | None = Field(default=None, description="spec.type, on spec events.")
    version: str | None = Field(default=None, description="spec.version, on spec events.")
    revision: str | None = Field(
        default=None,
        description=(
            "metadata.resourceVersion of the MinecraftServer when this state was recorded. Part "
            "of the id, so a state that recurs later (players 0 -> 1 -> 0) is a new event while "
            "re-publishing the same recorded state is still a duplicate."
        ),
    )

    @model_validator(mode="after")
    def _check_and_identify(self) -> Self:
        if self.type.is_sync:
            raise ValueError(f"a {self.type} event is a SyncEvent")
        if not self.id:
            self.id = msg_id(self)
        return self


class SyncEvent(_Envelope):
    """sync.required (gateway -> operator) or sync.complete (its answer)."""

    server: SyncScope = Field(default_factory=SyncScope)
    correlation_id: str | None = Field(
        default=None, description="On sync.complete: the id of the sync.required it answers."
    )

    @model_validator(mode="before")
    @classmethod
    def _no_scope_is_every_server(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("server", ...) is None:
            return {**data, "server": SyncScope()}
        return data

    @model_validator(mode="after")
    def _check_and_identify(self) -> Self:
        if not self.type.is_sync:
            raise ValueError(f"a {self.type} event is an Event")
        if not self.id:
            self.id = msg_id(self)
        return self


AnyEvent: TypeAlias = Event | SyncEvent


def _family(value: Any) -> str | None:
    raw = value.get("type") if isinstance(value, dict) else getattr(value, "type", None)
    kind = _kind_of(raw)
    if kind is None:
        return None  # not an event type: refused as such
    return "sync" if kind is EventKind.SYNC else "server"


_ANY_EVENT: Final[TypeAdapter[AnyEvent]] = TypeAdapter(
    Annotated[
        Annotated[Event, Tag("server")] | Annotated[SyncEvent, Tag("sync")],
        Discriminator(_family),
    ]
)


def subject_for(event: AnyEvent) -> str:
    """The subject ``event`` is published on (see :mod:`craftplane.contracts.subjects`)."""
    return subject(event.type, event.server.namespace, event.server.name)


def state_key(event: Event) -> str:
    """What the event says about the server, without when it was recorded: a producer compares
    these to decide whether anything changed since its last publication."""
    return msg_id(event.model_copy(update={"revision": None}))


def msg_id(event: AnyEvent) -> str:
    """A deterministic Nats-Msg-Id: the same state gives the same id, so a
    re-publication inside the duplicate window is dropped by JetStream.

    The time and the id itself are left out on purpose. Sync events are
    requests, not states: two requests are distinct even when identical, so
    their time is included.
    """
    if isinstance(event, SyncEvent):
        scope = event.server
        # The Nones hold the places of the state fields, keeping ids as version 1 made them.
        parts: list[object] = [event.type.value, scope.uid, *[None] * 7]
        parts += [scope.namespace, scope.name, event.correlation_id, event.time.isoformat()]
    else:
        parts = [
            event.type.value,
            event.server.uid,
            event.generation,
            event.phase.value if event.phase else None,
            event.address,
            event.port,
            event.players_online,
            event.players_max,
            event.reason,
        ]
        # Appended only when present, so the ids of states recorded before these fields
        # existed stay what they were.
        if event.reach is not None or event.hostnames is not None:
            parts += [event.reach, event.hostnames]
        if event.revision is not None:
            parts.append(event.revision)
    digest = hashlib.sha256(json.dumps(parts, separators=(",", ":")).encode())
    return digest.hexdigest()


def event_phase(event: Event) -> Phase | None:
    """The phase an event announces: its own, else the one its k8s.* type stands for."""
    return event.phase or type_phase(event.type)


def encode(event: AnyEvent) -> bytes:
    """The JSON bytes published on NATS."""
    return event.model_dump_json().encode()


def decode(data: bytes) -> AnyEvent:
    """Parse published bytes (version 1 or 2); InvalidEvent for anything that is not a valid
    event."""
    try:
        return _ANY_EVENT.validate_json(data)
    except ValidationError as exc:
        raise InvalidEvent(f"not a valid event: {exc}") from exc
