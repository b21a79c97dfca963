"""The WebSocket frames of ``/api/v1/ws``, as models: what a client may send and what the
gateway sends (see routes/ws.py for the protocol)."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Final, Literal

from pydantic import BaseModel, Field, TypeAdapter, field_validator

from craftplane.contracts.events import EventType
from craftplane.contracts.phases import ServerState
from craftplane.contracts.spec import ServerType
from craftplane.contracts.status import AddressReach, Phase
from craftplane_gateway.audit import RequestType
from craftplane_gateway.backup_models import BackupOut, RestoreOut
from craftplane_gateway.schemas import ServerName, ServerOut, Timestamp, WireModel

MAX_SUBSCRIBED_SERVERS: Final = 1000


class AuthFrame(WireModel):
    """client -> server, first message when no header/cookie token was sent."""

    type: Literal["auth"] = "auth"
    token: str = Field(max_length=4096)


class SubscribeFrame(WireModel):
    """client -> server: the servers to follow, replacing any earlier subscription."""

    type: Literal["subscribe"] = "subscribe"
    servers: (
        Annotated[list[ServerName], Field(max_length=MAX_SUBSCRIBED_SERVERS)] | Literal["all"]
    ) = Field(
        default="all",
        description=f'"all", or at most {MAX_SUBSCRIBED_SERVERS} names; null means "all".',
    )

    @field_validator("servers", mode="before")
    @classmethod
    def _null_is_all(cls, value: Any) -> Any:
        return "all" if value is None else value


class PingFrame(WireModel):
    """client -> server keep-alive; answered with a pong echoing ``id``."""

    type: Literal["ping"] = "ping"
    id: str | None = Field(default=None, max_length=64)


class ConsoleOpenFrame(WireModel):
    """client -> server: follow a server's log (replacing the console open before)."""

    type: Literal["console.open"] = "console.open"
    server: ServerName
    tail: int = Field(default=100, ge=1, le=5000, description="Past lines to start with.")


class ConsoleCloseFrame(WireModel):
    """client -> server: stop following the server's log."""

    type: Literal["console.close"] = "console.close"
    server: ServerName


class ConsoleCommandFrame(WireModel):
    """client -> server: run one console command (same checks and limit as REST)."""

    type: Literal["console.command"] = "console.command"
    server: ServerName
    command: str = Field(max_length=4096, description="Checked like the REST console's.")
    id: str | None = Field(default=None, max_length=64, description="Echoed in the answer.")


AnyClientFrame = (
    AuthFrame | SubscribeFrame | PingFrame | ConsoleOpenFrame | ConsoleCloseFrame
    | ConsoleCommandFrame
)  # fmt: skip
ClientFrame = Annotated[AnyClientFrame, Field(discriminator="type")]
CLIENT_FRAME: Final[TypeAdapter[AnyClientFrame]] = TypeAdapter(ClientFrame)


def parse_client_frame(data: str | bytes) -> AnyClientFrame:
    """A client frame from JSON text; ValidationError if it is none."""
    return CLIENT_FRAME.validate_json(data, by_alias=True, by_name=False)


class ConsoleLineFrame(WireModel):
    """server -> client: one line of the open console's log."""

    type: Literal["console.line"] = "console.line"
    server: str
    line: str


class ConsoleOutputFrame(WireModel):
    """server -> client: the RCON reply to a console.command."""

    type: Literal["console.output"] = "console.output"
    server: str
    id: str | None = None
    command: str
    output: str


class ConsoleErrorFrame(WireModel):
    """server -> client: a console.command (or console.open) that could not run; ``status``
    as the REST console would answer, ``retryAfter`` seconds for 429 (else null)."""

    type: Literal["console.error"] = "console.error"
    server: str
    id: str | None = None
    status: int = Field(ge=400, le=599)
    detail: str
    retry_after: int | None = None

    def to_json(self) -> dict[str, Any]:
        """With ``retryAfter`` (and ``id``) present when null, as the protocol spells it."""
        return self.model_dump(mode="json", by_alias=True)


class ReadyFrame(WireModel):
    """server -> client once authenticated: whose servers this socket will show."""

    type: Literal["ready"] = "ready"
    tenant: str


class SnapshotFrame(WireModel):
    """server -> client after (re)subscribing: the subscribed servers as they are now."""

    type: Literal["snapshot"] = "snapshot"
    servers: list[ServerOut]


class PlayersSeen(WireModel):
    """Players online in a delta: the maximum may not be known yet."""

    online: int = Field(ge=0)
    max: int | None = Field(default=None, ge=0)


class ServerDelta(WireModel):
    """The server in an event frame: only what this change speaks about. An absent key is
    unchanged; a null one is cleared (e.g. no address any more)."""

    name: str
    namespace: str
    uid: str
    tenant: str | None = None
    status: ServerState | None = None
    phase: Phase | None = None
    address: str | None = None
    port: int | None = Field(default=None, ge=1, le=65535)
    reach: AddressReach | None = Field(
        default=None, description="How far the address reaches (see ServerOut.reach)."
    )
    hostnames: list[str] | None = Field(
        default=None, description="The hostnames routed to the server (see ServerOut.hostnames)."
    )
    players: PlayersSeen | None = None
    type: ServerType | None = None
    version: str | None = None
    generation: int | None = Field(default=None, ge=0)
    reason: str | None = None
    message: str | None = None
    created_at: Timestamp | None = None
    updated_at: Timestamp | None = None


class EventInfo(WireModel):
    """What happened, in an event frame."""

    id: str | None = Field(description="The event's id; null for a change found by polling.")
    type: EventType | RequestType | Literal["cluster.observed", "projection.observed"] = Field(
        description=(
            "The event's type, a write the gateway made (request.*), or how the change was "
            "found without one: polling the cluster (NATS down, drift) or catching up from "
            "the projection."
        )
    )
    time: Timestamp | None
    actor: str | None = Field(default=None, description="For request.*: who asked.")
    reason: str | None = None
    message: str | None = None


class EventFrame(WireModel):
    """server -> client: a server changed; ``server`` holds what changed (see ServerDelta)."""

    type: Literal["event"] = "event"
    server: ServerDelta
    event: EventInfo
    coalesced: int | None = Field(
        default=None,
        ge=2,
        description=(
            "Absent for one change. Sent to a client that was behind: how many changes of the "
            "server this frame merges (``server`` holds every field they changed, ``event`` the "
            "newest); the timeline entries of the others are in GET /servers/{name}/events."
        ),
    )


class Change(StrEnum):
    """How a watched object changed (in backup and restore frames)."""

    ADDED = "added"
    MODIFIED = "modified"
    DELETED = "deleted"


class BackupFrame(WireModel):
    """server -> client: a MinecraftBackup of a subscribed server changed (created, a phase or
    its progress moved, deleted): the backup as GET /api/v1/backups/{backup} shows it. At most
    about two per second per backup; the latest state is always sent."""

    type: Literal["backup"] = "backup"
    server: str = Field(description="The server the backup copies.")
    change: Change
    backup: BackupOut


class RestoreFrame(WireModel):
    """server -> client: a MinecraftRestore into a subscribed server changed, as
    GET /api/v1/restores/{restore} shows it; throttled like backup frames."""

    type: Literal["restore"] = "restore"
    server: str = Field(description="The server whose world is replaced.")
    change: Change
    restore: RestoreOut


class MetricsFrame(WireModel):
    """server -> client every 30 s, over the subscribed servers."""

    type: Literal["metrics"] = "metrics"
    players_by_server: dict[str, int]
    servers_by_status: dict[ServerState, int]


class ErrorFrame(WireModel):
    """server -> client: something the client sent was refused (the socket may stay open)."""

    type: Literal["error"] = "error"
    code: str = Field(description="Machine-readable, e.g. unauthorized, not_found, bad_frame.")
    message: str


class PongFrame(WireModel):
    """server -> client: answer to a ping."""

    type: Literal["pong"] = "pong"
    id: str | None = None


AnyServerFrame = (
    ReadyFrame | SnapshotFrame | EventFrame | MetricsFrame | ErrorFrame | PongFrame
    | ConsoleLineFrame | ConsoleOutputFrame | ConsoleErrorFrame | BackupFrame | RestoreFrame
)  # fmt: skip
ServerFrame = Annotated[AnyServerFrame, Field(discriminator="type")]
SERVER_FRAME: Final[TypeAdapter[AnyServerFrame]] = TypeAdapter(ServerFrame)


def frame_json(frame: BaseModel) -> str:
    """A frame as the JSON text to send; what is unset is absent rather than null."""
    return frame.model_dump_json(by_alias=True, exclude_none=True)
