"""The gateway's wire models: REST bodies and responses (WebSocket frames: ws_frames.py).

JSON is camelCase throughout. Input models refuse unknown keys, and are
validated with :func:`validate_create` / :func:`validate_patch`, which accept
only the camelCase names (``by_name=False``), so ``max_players`` is an unknown
field exactly as it is for ``kubectl apply``. Output models serialize with
their aliases by default (``model_dump(mode="json")`` is the wire form).
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Annotated, Any, Final, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
)
from pydantic.alias_generators import to_camel

from craftplane.contracts.crd import MAX_NAME_LENGTH, NAME_PATTERN
from craftplane.contracts.events import EventType
from craftplane.contracts.hibernation import ARCHIVED_REASON, HIBERNATING_REASON, WAKING_REASON
from craftplane.contracts.phases import ServerState
from craftplane.contracts.spec import MinecraftServerSpec, ServerType
from craftplane.contracts.status import AddressReach, Phase
from craftplane_gateway.audit import RequestType

API_PREFIX: Final = "/api/v1"
MAX_PAGE_SIZE: Final = 200
DEFAULT_PAGE_SIZE: Final = 50

ServerName = Annotated[
    str,
    StringConstraints(pattern=NAME_PATTERN, min_length=1, max_length=MAX_NAME_LENGTH),
    Field(
        description=(
            f"Name of the server: a DNS label of at most {MAX_NAME_LENGTH} lowercase letters, "
            "digits and '-', starting with a letter."
        ),
        examples=["survival"],
    ),
]


def _utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


Timestamp = Annotated[AwareDatetime, AfterValidator(_utc)]


class WireModel(BaseModel):
    """camelCase JSON, unknown keys refused, aliases used when serializing."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        serialize_by_alias=True,
        extra="forbid",
    )


# --- REST input -----------------------------------------------------------------------


class ServerCreate(WireModel):
    """Body of ``POST /api/v1/servers``: a name and the same spec as the CR's."""

    name: ServerName
    spec: MinecraftServerSpec = Field(description="The MinecraftServer spec, as in the CR.")


class ServerPatch(WireModel):
    """Body of ``PATCH /api/v1/servers/{name}``: a JSON merge patch (RFC 7386) of the spec.

    Keys present replace the current values, nested objects merge, ``null``
    removes a key (restoring its default). Lists are replaced whole.
    """

    spec: dict[str, Any] = Field(
        description=(
            'JSON merge patch of the spec, e.g. {"properties": {"maxPlayers": 40}}; the '
            "merged spec is validated like a new one."
        ),
        examples=[{"properties": {"maxPlayers": 40}}],
    )


def validate_create(body: object) -> ServerCreate:
    """A create body, camelCase keys only; ValidationError with paths like ``spec.eula``."""
    return ServerCreate.model_validate(body, by_alias=True, by_name=False)


def validate_patch(body: object) -> ServerPatch:
    """A patch body (its spec is checked by :func:`merge_spec`)."""
    return ServerPatch.model_validate(body, by_alias=True, by_name=False)


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch; returns a new value, leaving both arguments untouched."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result: dict[str, Any] = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def merge_spec(current: dict[str, Any], patch: dict[str, Any]) -> MinecraftServerSpec:
    """The spec after applying ``patch`` to ``current`` (both camelCase JSON objects).

    Raises pydantic's ValidationError with paths relative to the spec
    (``resources.memory``); report it with
    ``problems.from_validation_error(exc, prefix="spec")``.
    """
    merged = merge_patch(current, patch)
    return MinecraftServerSpec.model_validate(merged, by_alias=True, by_name=False)


def spec_document(spec: MinecraftServerSpec) -> dict[str, Any]:
    """A validated spec as the camelCase JSON object to write into the CR.

    Only what the client set is written; the CRD's defaults fill the rest,
    so the CR stays as short as what the user asked for.
    """
    return spec.model_dump(mode="json", by_alias=True, exclude_unset=True)


# --- REST output ----------------------------------------------------------------------


class PlayerCount(WireModel):
    """Players online, from the last Server List Ping."""

    online: int = Field(ge=0)
    max: int = Field(ge=0)


class ServerLinks(WireModel):
    """Where to go from a server."""

    self_: str = Field(alias="self", description="This server.")
    events: str = Field(description="The server's event timeline.")
    start: str = Field(description="POST here to start the server.")
    stop: str = Field(description="POST here to stop the server.")

    @classmethod
    def for_server(cls, name: str, prefix: str = API_PREFIX) -> ServerLinks:
        base = f"{prefix}/servers/{name}"
        return cls(self_=base, events=f"{base}/events", start=f"{base}/start", stop=f"{base}/stop")


REASON_DESCRIPTION: Final = (
    "Why the server is in its phase (the Ready condition's reason), e.g. Running, CrashLoop, "
    f"OOMKilled. With status stopped, {HIBERNATING_REASON}: the platform put it to sleep for "
    "spec.hibernation (nobody was online) and a player joining wakes it; "
    f"{ARCHIVED_REASON}: asleep long enough to be archived (its world in a verified backup, "
    "its volume deleted), and a join restores it first; with status "
    f"deploying, {WAKING_REASON}: it was woken and is starting."
)


class LastRestartOut(WireModel):
    """The last restart the operator carried out, by request or by schedule."""

    requested_at: str = Field(
        max_length=64, description="The request's (or the schedule slot's) time, RFC 3339."
    )
    by: str = Field(default="", description="Who asked: a token subject, or 'schedule'.")
    done_at: Timestamp | None = Field(default=None, description="When the pod was replaced.")


class ServerOut(WireModel):
    """A server as the REST API and the WebSocket show it: its projected state."""

    name: str = Field(max_length=253)
    namespace: str = Field(max_length=63)
    tenant: str
    uid: str = Field(default="", description="metadata.uid of the MinecraftServer.")
    status: ServerState
    phase: Phase | None = Field(default=None, description="The CR's status.phase.")
    address: str | None = Field(
        default=None,
        description=(
            "Host players join by (status.address.host): the server's hostname on the "
            "platform's router, a load-balancer or node address, or, with reach cluster, a "
            "cluster-internal IP no player outside can join."
        ),
    )
    port: int | None = Field(default=None, ge=1, le=65535, description="Port to join on.")
    reach: AddressReach | None = Field(
        default=None,
        description=(
            "From where the address works (status.address.reach): router, loadBalancer, "
            "nodePort, or cluster (inside the cluster only). Null when not known yet."
        ),
    )
    hostnames: list[str] = Field(
        default=[],
        description=(
            "The hostnames the router routes to the server (status.hostnames): its own "
            "<server>.<tenant>.<game domain> first, then the custom ones it was granted."
        ),
    )
    players: PlayerCount | None = None
    type: ServerType | None = None
    version: str | None = None
    reason: str | None = Field(default=None, description=REASON_DESCRIPTION)
    message: str | None = None
    created_at: Timestamp | None = None
    updated_at: Timestamp | None = None
    spec: dict[str, Any] | None = Field(
        default=None,
        description="The CR's spec (camelCase, as in the cluster), on GET of one server only.",
    )
    next_restart: Timestamp | None = Field(
        default=None,
        description="The next scheduled restart (status.nextRestart), on GET of one server only.",
    )
    next_backup: Timestamp | None = Field(
        default=None,
        description="The next scheduled backup (status.nextBackup), on GET of one server only.",
    )
    last_restart: LastRestartOut | None = Field(
        default=None,
        description="The last restart carried out (status.lastRestart), on GET of one server only.",
    )
    links: ServerLinks


class ServerPage(WireModel):
    """One page of servers; pass ``nextCursor`` as ``cursor`` for the next one."""

    items: list[ServerOut]
    next_cursor: str | None = Field(default=None, description="Absent on the last page.")


class TimelineEntry(WireModel):
    """One event in a server's history."""

    id: str = Field(description="Event id (its Nats-Msg-Id, or the gateway's for request.*).")
    type: EventType | RequestType = Field(
        description="An event of the operator's, or request.*: a write the gateway made."
    )
    time: Timestamp
    actor: str | None = Field(
        default=None,
        description="For request.*: who asked (the token's subject, or the tenant).",
    )
    status: ServerState | None = None
    phase: Phase | None = None
    generation: int | None = Field(default=None, ge=0)
    address: str | None = None
    port: int | None = Field(default=None, ge=1, le=65535)
    players: PlayerCount | None = None
    reason: str | None = Field(default=None, description=REASON_DESCRIPTION)
    message: str | None = None


class TimelinePage(WireModel):
    """Events newest first; pass ``nextCursor`` as ``before`` for older ones."""

    items: list[TimelineEntry]
    next_cursor: str | None = Field(default=None, description="Absent on the last page.")


class Accepted(WireModel):
    """202: the CR was written; watch the server (WebSocket or GET) to see it converge."""

    name: str
    status: Literal["accepted"] = "accepted"
    location: str = Field(description="URL of the server.")


class Health(WireModel):
    """``/healthz``: the process is alive."""

    status: Literal["ok"] = "ok"


class Readiness(WireModel):
    """``/readyz``: 200 when every dependency answers, 503 (same body) otherwise."""

    status: Literal["ok", "unavailable"]
    checks: dict[str, bool] = Field(
        description="Each dependency (nats, database, kubernetes) and whether it answered."
    )


class FieldErrorOut(WireModel):
    """One invalid field."""

    field: str = Field(description="Dotted camelCase path, e.g. spec.resources.memory.")
    message: str


class ProblemDetails(BaseModel):
    """RFC 9457 problem details (application/problem+json)."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(description="URI identifying the kind of problem.")
    title: str
    status: int = Field(ge=400, le=599)
    detail: str | None = None
    instance: str | None = None
    errors: list[FieldErrorOut] | None = Field(
        default=None, description="The invalid fields (422, some 400)."
    )
