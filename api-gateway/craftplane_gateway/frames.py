"""What WebSocket clients are sent, built from events and projection rows (pure)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from craftplane.contracts.events import AnyEvent, Event, EventKind, EventType, SyncEvent
from craftplane.contracts.phases import ServerState, projected_status
from craftplane_gateway.db.models import hostname_list

FINAL_REVISION = 2**62


@dataclass(frozen=True)
class Delta:
    """One change for the clients of one tenant, with the order it must not go back behind."""

    tenant: str
    name: str
    uid: str
    order: tuple[int, float]
    frame: dict[str, Any]


def order_of(revision: str | int | None, moment: datetime | str | None) -> tuple[int, float]:
    try:
        rev = int(revision) if revision is not None else -1
    except ValueError:
        rev = -1
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    return rev, moment.timestamp() if moment else 0.0


def server_view(event: Event) -> dict[str, Any]:
    """The server as this event describes it; keys the event does not speak about are absent."""
    ref = event.server
    view: dict[str, Any] = {"name": ref.name, "namespace": ref.namespace, "uid": ref.uid}
    if event.type is EventType.SERVER_DELETED:
        view["status"] = ServerState.DELETED.value
    elif event.phase is not None:
        view["status"] = projected_status(event.phase).value
        view["phase"] = event.phase.value
    # Every status event, Terminating's server.status.changed too: the projection takes
    # these fields from each of them, so a delta without them would differ from the row.
    if event.type.kind is EventKind.STATUS:
        view["address"] = event.address
        view["port"] = event.port
        view["reach"] = event.reach
        if event.hostnames is not None:  # absent: the projection keeps the row's
            view["hostnames"] = list(event.hostnames)
        view["players"] = (
            {"online": event.players_online, "max": event.players_max}
            if event.players_online is not None
            else None
        )
        view["reason"] = event.reason
        view["message"] = event.message
    if event.generation is not None:
        view["generation"] = event.generation
    if event.type is EventType.SERVER_CREATED:
        view.setdefault("status", ServerState.DEPLOYING.value)
    return view


def delta_from_event(event: AnyEvent) -> Delta | None:
    if isinstance(event, SyncEvent):
        return None
    ref = event.server
    if not ref.tenant:
        return None
    frame = {
        "type": "event",
        "event": {
            "id": event.id,
            "type": event.type.value,
            "time": event.time.isoformat(),
            "reason": event.reason,
            "message": event.message,
        },
        "server": server_view(event),
    }
    order = order_of(event.revision, event.time)
    if event.type is EventType.SERVER_DELETED:
        # Final for this uid (as in the projection): nothing may come after it, and it has no
        # revision of its own to compare.
        order = (FINAL_REVISION, order[1])
    return Delta(tenant=ref.tenant, name=ref.name, uid=ref.uid, order=order, frame=frame)


def delta_from_row(row: Mapping[str, Any], *, reason: str = "cluster") -> Delta:
    """A change found by polling the cluster (NATS down) or by drift reconciliation."""
    server = public_server(row)
    frame = {
        "type": "event",
        "event": {
            "id": None,
            "type": f"{reason}.observed",
            "time": None,
            "reason": reason,
            "message": None,
        },
        "server": server,
    }
    return Delta(
        tenant=str(row["tenant"]),
        name=str(row["name"]),
        uid=str(row["uid"]),
        order=order_of(row.get("last_revision"), row.get("last_event_time")),
        frame=frame,
    )


def _iso(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def public_server(row: Mapping[str, Any]) -> dict[str, Any]:
    """A projection row as the API shows it (camelCase, players nested, hostnames a list)."""
    online = row.get("players_online")
    return {
        "name": row.get("name"),
        "namespace": row.get("namespace"),
        "tenant": row.get("tenant"),
        "uid": row.get("uid"),
        "status": row.get("status"),
        "phase": row.get("phase"),
        "address": row.get("address"),
        "port": row.get("port"),
        "reach": row.get("reach"),
        "hostnames": hostname_list(row.get("hostnames")),
        "players": None if online is None else {"online": online, "max": row.get("players_max")},
        "type": row.get("server_type"),
        "version": row.get("version"),
        "generation": row.get("generation"),
        "reason": row.get("reason"),
        "message": row.get("message"),
        "createdAt": _iso(row.get("created_at")),
        "updatedAt": _iso(row.get("updated_at")),
    }
