"""Events and cluster views for the database tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from craftplane.contracts.events import Event, EventType, ServerRef, phase_event_type
from craftplane.contracts.status import Phase

T0 = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def ref(
    uid: str = "uid-1", name: str = "survival", namespace: str = "team-a", tenant: str | None = "a"
) -> ServerRef:
    return ServerRef(uid=uid, namespace=namespace, name=name, tenant=tenant)


def state(
    phase: Phase,
    *,
    rev: int | str | None = 10,
    t: float = 0,
    uid: str = "uid-1",
    name: str = "survival",
    namespace: str = "team-a",
    tenant: str | None = "a",
    **fields: Any,
) -> Event:
    """A phase event like the operator's (k8s.* / server.status.changed)."""
    defaults: dict[str, Any] = {"generation": 1}
    if phase is Phase.RUNNING:
        defaults |= {
            "address": f"{name}.{namespace}.svc",
            "port": 25565,
            "players_online": 0,
            "players_max": 20,
            "reason": "Ready",
        }
    return Event(
        type=phase_event_type(phase),
        server=ref(uid, name, namespace, tenant),
        phase=phase,
        revision=None if rev is None else str(rev),
        time=at(t),
        **(defaults | fields),
    )


def spec(
    kind: EventType = EventType.SERVER_CREATED,
    *,
    generation: int | None = 1,
    t: float = 0,
    uid: str = "uid-1",
    name: str = "survival",
    namespace: str = "team-a",
    tenant: str | None = "a",
    message: str | None = "PAPER 1.21.1",
    **fields: Any,
) -> Event:
    """server.created / server.updated like the operator's: type and version as fields, and
    in the message for people (taken from ``message`` unless given)."""
    return Event(
        type=kind,
        server=ref(uid, name, namespace, tenant),
        generation=generation,
        message=message,
        time=at(t),
        **(_type_and_version(message) | fields),
    )


def _type_and_version(message: str | None) -> dict[str, str]:
    parts = (message or "").split()
    return {"server_type": parts[0], "version": parts[1]} if len(parts) == 2 else {}


def deleted(
    *,
    t: float = 0,
    uid: str = "uid-1",
    name: str = "survival",
    namespace: str = "team-a",
    tenant: str | None = "a",
    generation: int = 1,
) -> Event:
    return Event(
        type=EventType.SERVER_DELETED,
        server=ref(uid, name, namespace, tenant),
        phase=Phase.TERMINATING,
        generation=generation,
        message="PAPER 1.21.1",
        server_type="PAPER",
        version="1.21.1",
        time=at(t),
    )


def cr(
    *,
    uid: str = "uid-1",
    name: str = "survival",
    namespace: str = "team-a",
    rev: int = 10,
    generation: int = 1,
    phase: Phase | None = Phase.RUNNING,
    players: int = 0,
) -> dict[str, Any]:
    """A MinecraftServer object as the API server returns it."""
    body: dict[str, Any] = {
        "apiVersion": "craftplane.io/v1alpha1",
        "kind": "MinecraftServer",
        "metadata": {
            "uid": uid,
            "name": name,
            "namespace": namespace,
            "generation": generation,
            "resourceVersion": str(rev),
        },
        "spec": {"type": "PAPER", "version": "1.21.1"},
    }
    if phase is not None:
        status: dict[str, Any] = {
            "phase": phase.value,
            "observedGeneration": generation,
            "message": f"the server is {phase.value.lower()}",
            "conditions": [
                {
                    "type": "Ready",
                    "status": "True" if phase is Phase.RUNNING else "False",
                    "reason": "Ready" if phase is Phase.RUNNING else "Waiting",
                    "lastTransitionTime": "2025-01-01T12:00:00Z",
                }
            ],
        }
        if phase is Phase.RUNNING:
            status["address"] = {"host": f"{name}.{namespace}.svc", "port": 25565}
            status["players"] = {"online": players, "max": 20}
        body["status"] = status
    return body
