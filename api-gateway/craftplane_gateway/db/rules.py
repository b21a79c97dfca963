"""The projection rule, pure: whether an event wins over a row, and the row it leaves.

Events are of the contracts' three kinds (``EventType.kind``), with server.deleted set apart
from the other spec events because for a row it is final:

- **state** (``k8s.*``, ``server.status.changed``): the phase the operator derived and what
  goes with it (address and how far it reaches, hostnames, players, reason). Ordered by the CR ``resourceVersion`` they were
  recorded at (``revision``), then by event time; when either side has no numeric revision,
  by time alone.
- **spec** (``server.created``, ``server.updated``): the generation and what the spec says
  (type, version). Ordered by generation; they never touch the phase state.
- **delete** (``server.deleted``): the CR is gone. Terminal: a uid is never reused, so
  nothing that arrives later for the same uid brings the row back.
- **sync** (``sync.*``): requests between gateway and operator; not server state.

A duplicate (same event id) is caught before this rule by the timeline's unique event id.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Final

from craftplane.contracts.events import (
    AnyEvent,
    Event,
    EventKind,
    EventType,
    SyncEvent,
    event_phase,
)
from craftplane.contracts.phases import ServerState, projected_status
from craftplane_gateway.db.models import ServerRow, stored_hostnames

MAX_BIGINT: Final = 2**63 - 1


class Kind(StrEnum):
    STATE = "state"
    SPEC = "spec"
    DELETE = "delete"
    SYNC = "sync"


_KINDS: Final = {
    EventKind.STATUS: Kind.STATE,
    EventKind.SPEC: Kind.SPEC,
    EventKind.SYNC: Kind.SYNC,
}


def kind_of(event_type: EventType) -> Kind:
    """The contract's kind, with server.deleted apart: for a row it is final."""
    if event_type is EventType.SERVER_DELETED:
        return Kind.DELETE
    return _KINDS[event_type.kind]


class Verdict(StrEnum):
    APPLY = "apply"
    """The event is newer than the row (or there is no row): apply it."""
    STALE = "stale"
    """The row already shows newer state: timeline only."""
    DELETED = "deleted"
    """The row is deleted, which is final: timeline only."""
    NOT_STATE = "not_state"
    """Not about a server's state (sync.*): no row, no timeline."""


@dataclass(frozen=True)
class RowVersion:
    """What of a row the rule compares an event with."""

    deleted: bool = False
    revision: int | None = None
    event_time: datetime | None = None
    spec_generation: int | None = None

    @classmethod
    def of(cls, row: ServerRow) -> RowVersion:
        return cls(
            deleted=row.deleted,
            revision=row.last_revision,
            event_time=row.last_event_time,
            spec_generation=row.spec_generation,
        )


def parse_revision(value: str | None) -> int | None:
    """A resourceVersion as a number, when it is one (etcd's are; the API does not promise it)."""
    if value is None or not value.isascii() or not value.isdecimal():
        return None
    number = int(value)
    return number if number <= MAX_BIGINT else None


def decide(row: RowVersion | None, event: AnyEvent) -> Verdict:
    """Whether ``event`` wins over a row at version ``row`` (None: there is no row yet)."""
    if isinstance(event, SyncEvent):
        return Verdict.NOT_STATE
    kind = kind_of(event.type)
    if row is None:
        return Verdict.APPLY
    if row.deleted:
        return Verdict.DELETED
    if kind is Kind.DELETE:
        return Verdict.APPLY
    if kind is Kind.SPEC:
        if event.generation is None:
            return Verdict.APPLY if row.spec_generation is None else Verdict.STALE
        if row.spec_generation is None or event.generation >= row.spec_generation:
            return Verdict.APPLY
        return Verdict.STALE
    revision = parse_revision(event.revision)
    if revision is not None and row.revision is not None and revision != row.revision:
        return Verdict.APPLY if revision > row.revision else Verdict.STALE
    if row.event_time is None or event.time > row.event_time:
        return Verdict.APPLY
    return Verdict.STALE


def event_status(event: Event) -> str | None:
    """The status an event announces, as recorded in the timeline (None for spec events)."""
    kind = kind_of(event.type)
    if kind is Kind.DELETE:
        return ServerState.DELETED.value
    phase = event_phase(event)
    if kind is Kind.STATE and phase is not None:
        return projected_status(phase).value
    return None


def unprojectable(event: AnyEvent) -> str | None:
    """Why a (valid) event cannot be stored, or None. Such events are dead-lettered."""
    if isinstance(event, SyncEvent):
        return None  # stored as a row of no server; nothing to refuse
    ref = event.server
    if not ref.uid:
        return "the event names no server uid"
    for number in (event.generation, event.players_online, event.players_max):
        if number is not None and number > MAX_BIGINT:
            return f"a number is out of range: {number}"
    texts = (
        event.id, ref.uid, ref.tenant, ref.namespace, ref.name, event.address,
        event.reason, event.message, event.revision, event.server_type, event.version,
        event.reach, *(event.hostnames or ()),
    )  # fmt: skip
    if any(text is not None and "\x00" in text for text in texts):
        return "a text field contains a NUL character"
    return None


def _later(a: datetime | None, b: datetime) -> datetime:
    return b if a is None or b > a else a


def _earlier(a: datetime | None, b: datetime) -> datetime:
    return b if a is None or b < a else a


def _highest(a: int | None, b: int | None) -> int | None:
    if a is None:
        return b
    return a if b is None else max(a, b)


def new_row(event: Event) -> ServerRow:
    """The row of a server seen for the first time, before ``event`` is folded in."""
    ref = event.server
    return ServerRow(
        uid=ref.uid, tenant=ref.tenant, namespace=ref.namespace, name=ref.name,
        status=ServerState.DEPLOYING.value, phase=None, generation=None, spec_generation=None,
        address=None, port=None, players_online=None, players_max=None, reason=None,
        message=None, server_type=None, version=None, created_at=event.time,
        updated_at=event.time, deleted_at=None, last_event_id=None, last_event_time=None,
        last_revision=None, last_stream_seq=None, reach=None, hostnames=None,
    )  # fmt: skip


def fold(row: ServerRow | None, event: AnyEvent, stream_seq: int | None) -> ServerRow:
    """The row after applying ``event`` (which decide() said should be applied)."""
    if isinstance(event, SyncEvent):
        raise ValueError("sync events are not folded into rows")
    kind = kind_of(event.type)
    base = row if row is not None else new_row(event)
    ref = event.server
    common = replace(
        base,
        tenant=ref.tenant or base.tenant,
        generation=_highest(base.generation, event.generation),
        created_at=_earlier(base.created_at, event.time),
        updated_at=_later(base.updated_at, event.time),
        last_event_id=event.id,
        last_stream_seq=stream_seq if stream_seq is not None else base.last_stream_seq,
    )
    if kind is Kind.DELETE:
        return replace(
            common,
            status=ServerState.DELETED.value,
            phase=event.phase.value if event.phase else base.phase,
            players_online=None,
            deleted_at=event.time,
            last_event_time=_later(base.last_event_time, event.time),
        )
    if kind is Kind.SPEC:
        return replace(
            common,
            spec_generation=(
                event.generation if event.generation is not None else base.spec_generation
            ),
            server_type=event.server_type or base.server_type,
            version=event.version or base.version,
            players_max=base.players_max if base.players_max is not None else event.players_max,
        )
    phase = event_phase(event)
    return replace(
        common,
        status=projected_status(phase).value if phase else base.status,
        phase=phase.value if phase else base.phase,
        address=event.address,
        port=event.port,
        reach=event.reach,
        # An event that does not list them (an older operator's) leaves them as they were.
        hostnames=stored_hostnames(event.hostnames)
        if event.hostnames is not None
        else (base.hostnames),
        players_online=event.players_online,
        players_max=event.players_max if event.players_max is not None else base.players_max,
        reason=event.reason,
        message=event.message,
        last_event_time=event.time,
        last_revision=parse_revision(event.revision),
    )


def project(
    row: ServerRow | None, event: Event, stream_seq: int | None
) -> tuple[Verdict, ServerRow | None]:
    """decide() then fold(): the verdict and the row afterwards (unchanged unless APPLY)."""
    verdict = decide(RowVersion.of(row) if row is not None else None, event)
    if verdict is Verdict.APPLY:
        return verdict, fold(row, event, stream_seq)
    return verdict, row
