"""Which JetStream events a MinecraftServer's state calls for (pure: no I/O)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from craftplane.contracts.events import Event, EventType, ServerRef, phase_event_type
from craftplane.contracts.status import Phase


def server_ref(body: Mapping[str, Any], tenant: str | None) -> ServerRef:
    meta = body["metadata"]
    return ServerRef(uid=meta["uid"], namespace=meta["namespace"], name=meta["name"], tenant=tenant)


def phase_event(body: Mapping[str, Any], tenant: str | None) -> Event | None:
    """The event announcing the server's current phase, from its status; None before it has one."""
    status = body.get("status") or {}
    raw_phase = status.get("phase")
    if not raw_phase:
        return None
    phase = Phase(raw_phase)
    address = status.get("address") or {}
    players = status.get("players") or {}
    conditions: list[dict[str, Any]] = status.get("conditions") or []
    ready: dict[str, Any] = next((c for c in conditions if c.get("type") == "Ready"), {})
    return Event(
        type=phase_event_type(phase),
        server=server_ref(body, tenant),
        phase=phase,
        generation=status.get("observedGeneration") or body["metadata"].get("generation"),
        address=address.get("host"),
        port=address.get("port"),
        players_online=players.get("online"),
        players_max=players.get("max"),
        reason=ready.get("reason"),
        message=status.get("message"),
        revision=body["metadata"].get("resourceVersion"),
    )


def spec_event(kind: EventType, body: Mapping[str, Any], tenant: str | None) -> Event:
    """server.created / server.updated / server.deleted for the CR as it is now."""
    spec = body.get("spec") or {}
    return Event(
        type=kind,
        server=server_ref(body, tenant),
        generation=body["metadata"].get("generation"),
        phase=Phase.TERMINATING if kind is EventType.SERVER_DELETED else None,
        players_max=(spec.get("properties") or {}).get("maxPlayers"),
        message=f"{spec.get('type', 'VANILLA')} {spec.get('version', 'LATEST')}",
    )
