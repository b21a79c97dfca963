"""The versioned event envelope published on NATS JetStream, and its subjects.

Subjects are ``craftplane.<type>.<namespace>.<name>`` so that a consumer can
filter by kind of event, namespace or server with NATS wildcards, e.g.
``craftplane.k8s.*.team-a.>`` or ``craftplane.*.*.team-a.survival``.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Final, Literal, Self

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)

from craftplane.clock import utcnow
from craftplane.contracts.status import Phase

SCHEMA_VERSION: Final = 1
SUBJECT_PREFIX: Final = "craftplane"
STREAM_NAME: Final = "CRAFTPLANE"
STREAM_SUBJECTS: Final = [f"{SUBJECT_PREFIX}.>"]
STREAM_MAX_AGE_SECONDS: Final = 86400
DUPLICATE_WINDOW_SECONDS: Final = 120
# Stands for "every namespace" / "every server" in sync subjects; cannot clash
# with a Kubernetes name, which starts with an alphanumeric character.
ALL_TOKEN: Final = "_all"


class InvalidEvent(ValueError):
    """Bytes that are not a valid event of a schema version this code understands."""


class EventType(StrEnum):
    """What happened; the second and third subject tokens."""

    SERVER_CREATED = "server.created"
    SERVER_UPDATED = "server.updated"
    SERVER_DELETED = "server.deleted"
    SERVER_STATUS_CHANGED = "server.status.changed"
    K8S_STARTING = "k8s.starting"
    K8S_RUNNING = "k8s.running"
    K8S_STOPPED = "k8s.stopped"
    K8S_ERROR = "k8s.error"
    SYNC_REQUIRED = "sync.required"
    SYNC_COMPLETE = "sync.complete"

    @property
    def is_sync(self) -> bool:
        return self in (EventType.SYNC_REQUIRED, EventType.SYNC_COMPLETE)


_PHASE_EVENT_TYPES: Final = {
    Phase.STARTING: EventType.K8S_STARTING,
    Phase.RUNNING: EventType.K8S_RUNNING,
    Phase.STOPPED: EventType.K8S_STOPPED,
    Phase.ERROR: EventType.K8S_ERROR,
    # The reference architecture has no k8s.terminating; server.deleted follows.
    Phase.TERMINATING: EventType.SERVER_STATUS_CHANGED,
}


def phase_event_type(phase: Phase) -> EventType:
    """The event type announcing that a server entered ``phase``."""
    return _PHASE_EVENT_TYPES[phase]


class ServerRef(BaseModel):
    """Which server an event is about.

    A sync request may name only a namespace, or nothing (every server), and
    carries no uid; every other event names one server by namespace and name.
    """

    model_config = ConfigDict(extra="ignore", frozen=True)

    uid: str = Field(default="", description="metadata.uid; empty in sync requests.")
    namespace: str | None = Field(default=None, description="Namespace of the server.")
    name: str | None = Field(default=None, description="Name of the MinecraftServer.")
    tenant: str | None = Field(
        default=None, description="Value of the namespace's craftplane.io/tenant label."
    )


def _to_utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


class Event(BaseModel):
    """One event. Field names are the JSON keys.

    Unknown keys are ignored so that a consumer keeps working when a producer
    adds a field; incompatible changes bump ``schema_version`` instead, which
    a consumer refuses with InvalidEvent.
    """

    model_config = ConfigDict(extra="ignore")

    schema_version: Literal[1] = SCHEMA_VERSION
    id: str = Field(default="", description="msg_id() of the event; filled in when empty.")
    type: EventType
    server: ServerRef | None = None
    phase: Phase | None = None
    generation: int | None = Field(default=None, ge=0)
    address: str | None = Field(default=None, description="Host players connect to.")
    port: int | None = Field(default=None, ge=1, le=65535)
    players_online: int | None = Field(default=None, ge=0)
    players_max: int | None = Field(default=None, ge=0)
    reason: str | None = None
    message: str | None = None
    revision: str | None = Field(
        default=None,
        description=(
            "metadata.resourceVersion of the MinecraftServer when this state was recorded. Part "
            "of the id, so a state that recurs later (players 0 -> 1 -> 0) is a new event while "
            "re-publishing the same recorded state is still a duplicate."
        ),
    )
    correlation_id: str | None = Field(
        default=None, description="On sync.complete: the id of the sync.required it answers."
    )
    time: Annotated[AwareDatetime, AfterValidator(_to_utc)] = Field(default_factory=utcnow)

    @model_validator(mode="after")
    def _check_and_identify(self) -> Self:
        if not self.type.is_sync and (
            self.server is None or not self.server.namespace or not self.server.name
        ):
            raise ValueError(f"a {self.type} event needs server.namespace and server.name")
        if not self.id:
            self.id = msg_id(self)
        return self


def _token(value: str | None) -> str:
    # "." separates subject tokens; Kubernetes names may contain dots but
    # never "_", so the replacement is unambiguous.
    return ALL_TOKEN if not value else value.replace(".", "_")


def subject_for(event: Event) -> str:
    """``craftplane.<type>.<namespace>.<name>``; ``_all`` for what a sync event leaves open."""
    ref = event.server or ServerRef()
    return f"{SUBJECT_PREFIX}.{event.type}.{_token(ref.namespace)}.{_token(ref.name)}"


def state_key(event: Event) -> str:
    """What the event says about the server, without when it was recorded: a producer compares
    these to decide whether anything changed since its last publication."""
    return msg_id(event.model_copy(update={"revision": None}))


def msg_id(event: Event) -> str:
    """A deterministic Nats-Msg-Id: the same state gives the same id, so a
    re-publication inside the duplicate window is dropped by JetStream.

    The time and the id itself are left out on purpose. Sync events are
    requests, not states: two requests are distinct even when identical, so
    their time is included.
    """
    ref = event.server or ServerRef()
    parts: list[object] = [
        event.type.value,
        ref.uid,
        event.generation,
        event.phase.value if event.phase else None,
        event.address,
        event.port,
        event.players_online,
        event.players_max,
        event.reason,
    ]
    if event.revision is not None:
        parts.append(event.revision)
    if event.type.is_sync:
        parts += [ref.namespace, ref.name, event.correlation_id, event.time.isoformat()]
    digest = hashlib.sha256(json.dumps(parts, separators=(",", ":")).encode())
    return digest.hexdigest()


def encode(event: Event) -> bytes:
    """The JSON bytes published on NATS."""
    return event.model_dump_json().encode()


def decode(data: bytes) -> Event:
    """Parse published bytes; InvalidEvent for anything that is not a valid event."""
    try:
        return Event.model_validate_json(data)
    except ValidationError as exc:
        raise InvalidEvent(f"not a valid event: {exc}") from exc
