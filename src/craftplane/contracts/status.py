"""The MinecraftServer status written by the operator."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Final, Self

from pydantic import AfterValidator, AwareDatetime, Field, PlainSerializer, model_validator

from craftplane.contracts.base import ApiModel
from craftplane.contracts.hostnames import MAX_CUSTOM_HOSTNAMES
from craftplane.contracts.service import Hostname

MAX_PLAYER_SAMPLE: Final = 50


def _to_utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


# Kubernetes writes times as RFC 3339 in UTC with whole seconds (metav1.Time);
# writing the same form keeps status comparisons stable across round trips.
K8sTime = Annotated[
    AwareDatetime,
    AfterValidator(_to_utc),
    PlainSerializer(
        lambda t: t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        return_type=str,
        when_used="json",
    ),
]


class Phase(StrEnum):
    """Lifecycle phase of a server, derived by the operator from what it observes."""

    STARTING = "Starting"
    RUNNING = "Running"
    STOPPED = "Stopped"
    ERROR = "Error"
    TERMINATING = "Terminating"


class ConditionType(StrEnum):
    """Kinds of condition the operator reports."""

    READY = "Ready"
    PROGRESSING = "Progressing"
    DEGRADED = "Degraded"
    # Whether the running server's allowlist and ops match the spec (over RCON).
    ALLOWLIST_SYNCED = "AllowlistSynced"
    # Whether every custom hostname of spec.service.hostnames is routed to the server.
    HOSTNAMES_ACCEPTED = "HostnamesAccepted"
    # Whether a player joining wakes the hibernating server (only with spec.hibernation).
    WAKE_ON_JOIN = "WakeOnJoin"


class ConditionStatus(StrEnum):
    """Status of a condition, as strings like every Kubernetes condition."""

    TRUE = "True"
    FALSE = "False"
    UNKNOWN = "Unknown"


class Condition(ApiModel):
    """One aspect of the server's state, in the standard Kubernetes condition shape."""

    type: ConditionType = Field(
        description=(
            "Ready, Progressing, Degraded, AllowlistSynced, HostnamesAccepted or WakeOnJoin."
        )
    )
    status: ConditionStatus = Field(description="True, False or Unknown.")
    reason: str = Field(
        default="",
        max_length=1024,
        pattern=r"^([A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?)?$",
        description="Machine-readable CamelCase reason for the last transition, e.g. CrashLoop.",
    )
    message: str = Field(
        default="",
        max_length=32768,
        description="Human-readable detail of the last transition.",
    )
    last_transition_time: K8sTime = Field(
        description="When the status of this condition last changed."
    )
    observed_generation: int | None = Field(
        default=None,
        ge=0,
        description="metadata.generation of the spec this condition was computed from.",
    )


class AddressReach(StrEnum):
    """From where an address can be reached."""

    # Anywhere the router's public address is: its hostname, the router's public port.
    ROUTER = "router"
    LOAD_BALANCER = "loadBalancer"
    NODE_PORT = "nodePort"
    # Only inside the cluster (the Service's ClusterIP): no router, no load balancer.
    CLUSTER = "cluster"


class Address(ApiModel):
    """Where players connect."""

    host: str = Field(max_length=253, description="Host name or IP address players connect to.")
    port: int = Field(ge=1, le=65535, description="Port players connect to.")
    reach: AddressReach | None = Field(
        default=None,
        description=(
            "From where players can use this address: router (the server's hostname on the "
            "platform's router), loadBalancer, nodePort, or cluster (the Service's ClusterIP: "
            "inside the cluster only, not an address a player can join from outside)."
        ),
    )
    display: str = Field(
        default="",
        description="host:port for `kubectl get`; derived from host and port, not settable.",
    )

    @model_validator(mode="after")
    def _derive_display(self) -> Self:
        # Derived on every validation so it can never disagree with host/port.
        host = f"[{self.host}]" if ":" in self.host else self.host
        self.display = f"{host}:{self.port}"
        return self


class Players(ApiModel):
    """Players online, from the last Server List Ping."""

    online: int = Field(ge=0, description="Players online.")
    max: int = Field(ge=0, description="Most players the server accepts.")
    sample: list[str] = Field(
        default=[],
        max_length=MAX_PLAYER_SAMPLE,
        description=(
            f"Names of some online players, when the server reports them (at most "
            f"{MAX_PLAYER_SAMPLE})."
        ),
    )
    summary: str = Field(
        default="",
        description="online/max for `kubectl get`; derived from online and max, not settable.",
    )

    @model_validator(mode="after")
    def _derive_summary(self) -> Self:
        self.summary = f"{self.online}/{self.max}"
        return self


class LastRestart(ApiModel):
    """The last restart the operator carried out."""

    requested_at: str = Field(
        max_length=64,
        description=(
            "The restart-requested-at annotation's value it answered, or the schedule's slot "
            "(RFC 3339)."
        ),
    )
    by: str = Field(default="", max_length=253, description="Who asked: a subject or 'schedule'.")
    done_at: K8sTime | None = Field(default=None, description="When the pod was replaced.")


class HibernationState(StrEnum):
    """Where a server with spec.hibernation is in its sleep."""

    AWAKE = "Awake"
    ASLEEP = "Asleep"  # stopped by the operator (phase Stopped, reason Hibernating)
    WAKING = "Waking"  # woken, not Running yet (phase Starting, reason Waking)


class HibernationStatus(ApiModel):
    """What the operator decided about sleeping and waking (spec.hibernation): its memory
    across restarts, so an operator restart neither resets the empty clock nor a wake."""

    state: HibernationState = Field(
        default=HibernationState.AWAKE, description="Awake, Asleep or Waking."
    )
    empty_since: K8sTime | None = Field(
        default=None,
        description="Since when the Running server has had no player online (the clock).",
    )
    hibernated_at: K8sTime | None = Field(
        default=None,
        description=(
            "When it last went to sleep. Asleep, a wake request (annotation "
            "craftplane.io/wake-requested-at) written at or after this wakes it."
        ),
    )
    woken_at: K8sTime | None = Field(default=None, description="When the last wake was answered.")
    woken_by: str = Field(
        default="",
        max_length=253,
        description="Who asked for the last wake: join:<player> (the router) or an owner.",
    )
    wake_request: str = Field(
        default="",
        max_length=64,
        description="The craftplane.io/wake-requested-at value answered last (each counts once).",
    )
    last_start_seconds: int | None = Field(
        default=None,
        ge=0,
        description=(
            "How long the last wake took to reach Running, in seconds: the router holds a "
            "joining player that long when it is short, else asks them to rejoin."
        ),
    )
    failed_wakes: int = Field(
        default=0, ge=0, description="Wakes in a row that did not reach Running."
    )
    failed_generation: int | None = Field(
        default=None,
        ge=0,
        description="metadata.generation the failed wakes were counted at (a new spec resets).",
    )
    last_failure: str = Field(
        default="", max_length=1024, description="Why the last failed wake failed."
    )


class ArchiveState(StrEnum):
    """Where a hibernating server with spec.hibernation.archiveAfterDays is in its archive."""

    ARCHIVING = "Archiving"  # backing up and verifying; the volume is still there
    ARCHIVED = "Archived"  # verified backup, volume deleted (phase Stopped, reason Archived)
    RESTORING = "Restoring"  # woken: its world comes back from the backup before it starts
    FAILED = "Failed"  # the archive backup or its verification failed: the volume is kept


class ArchiveStatus(ApiModel):
    """The server's archive, written by the operator's backup side (never by the reconciler,
    which only reads it: an Archived or Restoring server is planned as stopped, so its
    StatefulSet cannot make an empty volume and start on it)."""

    state: ArchiveState = Field(description="Archiving, Archived, Restoring or Failed.")
    backup: str = Field(
        max_length=253, description="The MinecraftBackup holding the world (verified)."
    )
    since: K8sTime | None = Field(
        default=None,
        description="status.hibernation.hibernatedAt of the sleep archived (a new sleep starts over).",
    )
    archived_at: K8sTime | None = Field(
        default=None, description="When the verified backup let the volume go."
    )
    restore: str = Field(
        default="",
        max_length=253,
        description="The MinecraftRestore bringing the world back (the last one tried).",
    )
    message: str = Field(default="", max_length=1024, description="What happened last.")


class ServerStatus(ApiModel):
    """Observed state of a Minecraft server, written by the operator."""

    phase: Phase | None = Field(
        default=None,
        description=(
            "Starting (pod not ready yet), Running (accepting players), Stopped (intentionally, "
            "world kept; the Ready condition's reason Hibernating when the operator put it to "
            "sleep for spec.hibernation), Error (see message and the Degraded condition), "
            "Terminating."
        ),
    )
    conditions: list[Condition] = Field(
        default=[],
        description=(
            "Ready, Progressing, Degraded, AllowlistSynced, HostnamesAccepted and WakeOnJoin "
            "conditions, one of each at most."
        ),
        json_schema_extra={
            "x-kubernetes-list-type": "map",
            "x-kubernetes-list-map-keys": ["type"],
        },
    )
    observed_generation: int | None = Field(
        default=None,
        ge=0,
        description="metadata.generation of the last spec the operator acted on.",
    )
    address: Address | None = Field(
        default=None,
        description=(
            "Where a player can join: the server's hostname and the router's public port "
            "(a ClusterIP Service on a platform with a router), the load-balancer address, a "
            "node address and node port, or else the Service's ClusterIP, which only works "
            "inside the cluster; address.reach says which."
        ),
    )
    internal_address: Address | None = Field(
        default=None,
        description=(
            "The Service's ClusterIP and game port: what the platform's router connects to. "
            "Absent while the Service has no ClusterIP."
        ),
    )
    hostnames: list[Hostname] = Field(
        default=[],
        max_length=MAX_CUSTOM_HOSTNAMES + 1,
        description=(
            "The hostnames the router routes to this server: its canonical "
            "<server>.<tenant>.<game domain> first (when the platform has a game domain), then "
            "the custom ones of spec.service.hostnames it was granted, in spec order."
        ),
    )
    players: Players | None = Field(
        default=None, description="Players online; only while Running and reachable."
    )
    message: str | None = Field(
        default=None,
        max_length=32768,
        description="Human-readable explanation of the phase, e.g. why the server is in Error.",
    )
    next_restart: K8sTime | None = Field(
        default=None, description="The next slot of spec.lifecycle.restartSchedule."
    )
    last_restart: LastRestart | None = Field(
        default=None, description="The last restart carried out (by request or schedule)."
    )
    next_backup: K8sTime | None = Field(
        default=None, description="The next slot of spec.backups.schedule."
    )
    last_scheduled_backup: str | None = Field(
        default=None,
        max_length=64,
        description="The last slot of spec.backups.schedule acted on (backed up or skipped), RFC 3339.",
    )
    players_since_backup: bool | None = Field(
        default=None,
        description="A player was online since the last scheduled backup (for pauseWhenEmpty).",
    )
    hibernation: HibernationStatus | None = Field(
        default=None,
        description="Sleeping when empty and waking on join (only with spec.hibernation).",
    )
    restored_from: str | None = Field(
        default=None,
        max_length=253,
        description="The MinecraftBackup spec.restoreFrom was restored from (done once).",
    )
    archive: ArchiveStatus | None = Field(
        default=None,
        description="A hibernating server archived (spec.hibernation.archiveAfterDays).",
    )
