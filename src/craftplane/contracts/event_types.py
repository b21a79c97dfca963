"""What an event says happened (its type) and what kind of fact that is (its kind)."""

from __future__ import annotations

from enum import StrEnum
from typing import Final

from craftplane.contracts.status import Phase


class EventKind(StrEnum):
    """Every consumer decides what to do with an event from this, never from its name."""

    SPEC = "spec"
    """server.created / updated / deleted: what the CR asks for (type, version, generation)."""
    STATUS = "status"
    """k8s.* and server.status.changed: the phase the operator derived and what goes with it."""
    SYNC = "sync"
    """sync.*: requests between gateway and operator, about no one server's state."""


class EventType(StrEnum):
    """What happened: the reference architecture's event names."""

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
    def kind(self) -> EventKind:
        return _KINDS[self]

    @property
    def is_sync(self) -> bool:
        return self.kind is EventKind.SYNC

    @property
    def subject_tokens(self) -> tuple[str, str]:
        """The two subject tokens naming this type: ``server.status.changed`` is
        ``server`` + ``status_changed``, so every type takes the same number of tokens."""
        family, _, action = self.value.partition(".")
        return family, action.replace(".", "_")


_KINDS: Final = {
    EventType.SERVER_CREATED: EventKind.SPEC,
    EventType.SERVER_UPDATED: EventKind.SPEC,
    EventType.SERVER_DELETED: EventKind.SPEC,
    EventType.SERVER_STATUS_CHANGED: EventKind.STATUS,
    EventType.K8S_STARTING: EventKind.STATUS,
    EventType.K8S_RUNNING: EventKind.STATUS,
    EventType.K8S_STOPPED: EventKind.STATUS,
    EventType.K8S_ERROR: EventKind.STATUS,
    EventType.SYNC_REQUIRED: EventKind.SYNC,
    EventType.SYNC_COMPLETE: EventKind.SYNC,
}

_PHASE_EVENT_TYPES: Final = {
    Phase.STARTING: EventType.K8S_STARTING,
    Phase.RUNNING: EventType.K8S_RUNNING,
    Phase.STOPPED: EventType.K8S_STOPPED,
    Phase.ERROR: EventType.K8S_ERROR,
    # The reference architecture has no k8s.terminating; server.deleted follows.
    Phase.TERMINATING: EventType.SERVER_STATUS_CHANGED,
}

_EVENT_TYPE_PHASES: Final[dict[EventType, Phase]] = {
    event_type: phase
    for phase, event_type in _PHASE_EVENT_TYPES.items()
    if event_type is not EventType.SERVER_STATUS_CHANGED
}


def phase_event_type(phase: Phase) -> EventType:
    """The event type announcing that a server entered ``phase``."""
    return _PHASE_EVENT_TYPES[phase]


def type_phase(event_type: EventType) -> Phase | None:
    """The phase a k8s.* type stands for (for an event that does not carry one)."""
    return _EVENT_TYPE_PHASES.get(event_type)
