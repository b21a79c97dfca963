"""The MinecraftServer spec: validation for the REST API and the schema of the CRD.

Each constraint that JSON schema cannot express (a rule spanning fields, a
minimum on a quantity) is a pydantic validator with a CEL rule beside it, so
both entry points refuse the same objects with an error naming the field.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Final, Self

from pydantic import (
    AfterValidator,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from craftplane.contracts.base import ApiModel, cel_rule, cel_rules
from craftplane.contracts.quantity import MIN_MEMORY, QUANTITY_PATTERN, parse_quantity

DEFAULT_IMAGE: Final = "itzg/minecraft-server:2025.10.2"
DEFAULT_VERSION: Final = "LATEST"

# Variables the operator sets on the itzg image from typed fields; letting
# `env` override them would make the spec lie about what runs.
RESERVED_ENV_NAMES: Final = (
    "EULA",
    "TYPE",
    "VERSION",
    "MEMORY",
    "INIT_MEMORY",
    "MAX_MEMORY",
    "RCON_PASSWORD",
    "ENABLE_RCON",
    "RCON_PORT",
    "SERVER_PORT",
    "MOTD",
    "MAX_PLAYERS",
    "DIFFICULTY",
    "MODE",
    "ONLINE_MODE",
    "PVP",
    "VIEW_DISTANCE",
    "SEED",
    "OPS",
    "WHITELIST",
    "ENABLE_WHITELIST",
    "JVM_OPTS",
)

VERSION_PATTERN: Final = (
    r"^(LATEST|SNAPSHOT|[0-9]+(\.[0-9]+){1,3}(-(pre|rc)[0-9]+)?|[0-9]{2}w[0-9]{2}[a-z])$"
)
USERNAME_PATTERN: Final = r"^[A-Za-z0-9_]{3,16}$"
ENV_NAME_PATTERN: Final = r"^[A-Za-z_][A-Za-z0-9_]*$"
PROPERTY_KEY_PATTERN: Final = r"^[a-z0-9.-]+$"
NODE_PORT_MIN: Final = 30000
NODE_PORT_MAX: Final = 32767
MAX_LIST_ITEMS: Final = 100

EULA_MESSAGE: Final = (
    "eula must be true: running a server means accepting the Minecraft EULA "
    "(https://aka.ms/MinecraftEULA)"
)


def _at_least_min_memory(value: str) -> str:
    if parse_quantity(value) < parse_quantity(MIN_MEMORY):
        raise ValueError(f"memory must be at least {MIN_MEMORY}; a smaller server cannot start")
    return value


def _positive(value: str) -> str:
    if parse_quantity(value) <= 0:
        raise ValueError("must be greater than zero")
    return value


_Quantity = Annotated[str, StringConstraints(pattern=QUANTITY_PATTERN, max_length=64)]
Cpu = Annotated[_Quantity, AfterValidator(_positive)]
Memory = Annotated[_Quantity, AfterValidator(_at_least_min_memory)]
Size = Annotated[_Quantity, AfterValidator(_positive)]
Username = Annotated[str, StringConstraints(pattern=USERNAME_PATTERN)]
PropertyKey = Annotated[str, StringConstraints(pattern=PROPERTY_KEY_PATTERN)]


class ServerType(StrEnum):
    """Server software; the itzg image downloads it on first start."""

    VANILLA = "VANILLA"
    PAPER = "PAPER"
    PURPUR = "PURPUR"
    FABRIC = "FABRIC"
    FORGE = "FORGE"
    NEOFORGE = "NEOFORGE"
    QUILT = "QUILT"
    SPIGOT = "SPIGOT"
    BUKKIT = "BUKKIT"
    FOLIA = "FOLIA"
    MOHIST = "MOHIST"


class Difficulty(StrEnum):
    """Game difficulty."""

    PEACEFUL = "peaceful"
    EASY = "easy"
    NORMAL = "normal"
    HARD = "hard"


class GameMode(StrEnum):
    """Game mode of players joining for the first time."""

    SURVIVAL = "survival"
    CREATIVE = "creative"
    ADVENTURE = "adventure"
    SPECTATOR = "spectator"


class ServiceType(StrEnum):
    """How the game port is exposed."""

    CLUSTER_IP = "ClusterIP"
    NODE_PORT = "NodePort"
    LOAD_BALANCER = "LoadBalancer"


# The quantity rules skip what is not a quantity: the pattern already reports
# it, and a CEL evaluation error would only repeat it less clearly.


class Resources(ApiModel):
    """CPU and memory of the server container (request = limit, so it is never throttled
    into lag by a noisy neighbour nor evicted first)."""

    model_config = ConfigDict(
        json_schema_extra=cel_rules(
            cel_rule(
                f"!isQuantity(self.memory) || "
                f"quantity(self.memory).compareTo(quantity('{MIN_MEMORY}')) >= 0",
                f"memory must be at least {MIN_MEMORY}; a smaller server cannot start",
                field_path=".memory",
            ),
            cel_rule(
                "!isQuantity(self.cpu) || quantity(self.cpu).isGreaterThan(quantity('0'))",
                "cpu must be greater than zero",
                field_path=".cpu",
            ),
        )
    )

    cpu: Cpu = Field(
        default="1",
        description=(
            "CPU for the server, as a Kubernetes quantity: '1' is one core, '500m' half a "
            "core. Minecraft's main loop is single-threaded; more than 2 helps only with "
            "chunk generation and plugins."
        ),
    )
    memory: Memory = Field(
        default="2Gi",
        description=(
            f"Memory limit of the container, as a Kubernetes quantity (e.g. 2Gi, 4Gi; at "
            f"least {MIN_MEMORY}). The JVM heap is derived from it: 75% of the limit, leaving "
            f"at least 256Mi for the JVM itself, so the pod is not OOM-killed."
        ),
    )


class Storage(ApiModel):
    """The persistent volume holding the world, plugins and configuration (/data)."""

    model_config = ConfigDict(
        json_schema_extra=cel_rules(
            cel_rule(
                "!isQuantity(self.size) || quantity(self.size).isGreaterThan(quantity('0'))",
                "size must be greater than zero",
                field_path=".size",
            ),
        )
    )

    size: Size = Field(
        default="10Gi",
        description=(
            "Size of the world volume, as a Kubernetes quantity (e.g. 10Gi). It can grow "
            "later when the storage class allows volume expansion; a volume never shrinks (a "
            "smaller size is reported on the Degraded condition, reason StorageNotApplied)."
        ),
    )
    storage_class_name: str | None = Field(
        default=None,
        max_length=253,
        description=(
            "StorageClass of the world volume; the cluster's default class when omitted. "
            "Cannot be changed once the volume exists (reported like a shrink)."
        ),
    )
    retain_on_delete: bool = Field(
        default=True,
        description=(
            "Keep the world volume when the MinecraftServer is deleted (true, the default), so "
            "a server re-created with the same name finds its world again. false deletes the "
            "world with the server."
        ),
    )


class Properties(ApiModel):
    """Settings written to server.properties."""

    motd: str = Field(
        default="A Craftplane server",
        max_length=150,
        description="Message of the day shown under the server name in the multiplayer list.",
    )
    max_players: int = Field(
        default=20,
        ge=1,
        le=1000,
        description="Most players online at once; further players are refused at login.",
    )
    difficulty: Difficulty = Field(
        default=Difficulty.EASY,
        description="Game difficulty: peaceful, easy, normal or hard.",
    )
    game_mode: GameMode = Field(
        default=GameMode.SURVIVAL,
        description=(
            "Game mode of players joining for the first time: survival, creative, adventure "
            "or spectator."
        ),
    )
    online_mode: bool = Field(
        default=True,
        description=(
            "Check players against Mojang's account servers. Turn off only behind a proxy "
            "(Velocity, BungeeCord) that authenticates players itself."
        ),
    )
    pvp: bool = Field(default=True, description="Whether players can damage each other.")
    view_distance: int = Field(
        default=10,
        ge=3,
        le=32,
        description=(
            "How many chunks around each player the server sends. Each step costs CPU and "
            "memory quadratically."
        ),
    )
    level_seed: str | None = Field(
        default=None,
        max_length=256,
        description=(
            "Seed of the world generator; random when omitted. Only used when the world is "
            "first created."
        ),
    )
    server_properties: dict[PropertyKey, Annotated[str, StringConstraints(max_length=1024)]] = (
        Field(
            default={},
            max_length=MAX_LIST_ITEMS,
            description=(
                "Any other server.properties entry, key as in the file (e.g. "
                "'spawn-protection': '0', 'allow-flight': 'true'). Values are strings. "
                "The typed fields above take precedence over an entry for the same key."
            ),
        )
    )


class ServiceSpec(ApiModel):
    """The Service exposing the game port (25565). RCON is never exposed outside the cluster."""

    model_config = ConfigDict(
        json_schema_extra=cel_rules(
            cel_rule(
                "!has(self.nodePort) || self.type == 'NodePort'",
                "nodePort may only be set when type is NodePort",
                field_path=".nodePort",
                reason="FieldValueForbidden",
            ),
        )
    )

    type: ServiceType = Field(
        default=ServiceType.CLUSTER_IP,
        description=(
            "ClusterIP: reachable inside the cluster only (e.g. behind a proxy). NodePort: on "
            "a port of every node. LoadBalancer: on an external IP from the cloud provider."
        ),
    )
    annotations: dict[str, str] = Field(
        default={},
        description=(
            "Annotations for the Service, e.g. to configure a cloud load balancer or external-dns."
        ),
    )
    node_port: int | None = Field(
        default=None,
        ge=NODE_PORT_MIN,
        le=NODE_PORT_MAX,
        description=(
            f"Fixed node port ({NODE_PORT_MIN}-{NODE_PORT_MAX}) for type NodePort; "
            f"Kubernetes picks one when omitted. Refused for other types."
        ),
    )

    @model_validator(mode="after")
    def _node_port_needs_node_port_type(self) -> Self:
        if self.node_port is not None and self.type is not ServiceType.NODE_PORT:
            raise ValueError("nodePort may only be set when type is NodePort")
        return self


class Rcon(ApiModel):
    """Remote console, used by the operator for graceful saves and commands."""

    enabled: bool = Field(
        default=True,
        description=(
            "Enable RCON on a cluster-internal port; its password is generated into a Secret "
            "and never shown in the spec."
        ),
    )


class EnvVar(ApiModel):
    """An extra environment variable for the itzg/minecraft-server image."""

    model_config = ConfigDict(
        json_schema_extra=cel_rules(
            cel_rule(
                "!(self.name in [" + ", ".join(f"'{n}'" for n in RESERVED_ENV_NAMES) + "])",
                "name is reserved: it is set from a typed field of the spec ("
                + ", ".join(RESERVED_ENV_NAMES)
                + ")",
                field_path=".name",
                reason="FieldValueForbidden",
            ),
        )
    )

    name: str = Field(
        pattern=ENV_NAME_PATTERN,
        max_length=128,
        description=(
            "Variable name, e.g. SPIGET_RESOURCES or OVERRIDE_SERVER_PROPERTIES. Names the "
            "operator sets from typed fields (EULA, TYPE, VERSION, MEMORY, MOTD, etc.) are refused."
        ),
    )
    value: str = Field(default="", max_length=32768, description="Variable value.")

    @field_validator("name")
    @classmethod
    def _not_reserved(cls, name: str) -> str:
        if name in RESERVED_ENV_NAMES:
            raise ValueError(f"{name} is reserved: it is set from a typed field of the spec")
        return name


class Scheduling(ApiModel):
    """Where the server pod may run."""

    node_selector: dict[str, str] = Field(
        default={},
        description="Node labels the pod's node must have, as in a Pod's nodeSelector.",
    )
    tolerations: list[dict[str, Any]] = Field(
        default=[],
        max_length=MAX_LIST_ITEMS,
        description="Tolerations of the pod, as in a Pod spec (key, operator, value, effect).",
    )
    affinity: dict[str, Any] = Field(
        default={},
        description="Affinity of the pod, as in a Pod spec (nodeAffinity, podAntiAffinity, etc.).",
    )


class MinecraftServerSpec(ApiModel):
    """Desired state of a Minecraft server: what to run, with what resources, how exposed."""

    eula: bool = Field(
        description=(
            "Acceptance of the Minecraft EULA (https://aka.ms/MinecraftEULA). Must be true; "
            "the server does not start otherwise."
        ),
        json_schema_extra=cel_rules(cel_rule("self == true", EULA_MESSAGE)),
    )
    type: ServerType = Field(
        default=ServerType.VANILLA,
        description=(
            "Server software: VANILLA, PAPER, PURPUR, FABRIC, FORGE, NEOFORGE, QUILT, SPIGOT, "
            "BUKKIT, FOLIA or MOHIST."
        ),
    )
    version: str = Field(
        default=DEFAULT_VERSION,
        pattern=VERSION_PATTERN,
        max_length=32,
        description=(
            "Minecraft version: LATEST (newest release, resolved at each start), SNAPSHOT, "
            "or a version such as 1.21.4."
        ),
    )
    image: str = Field(
        default=DEFAULT_IMAGE,
        min_length=1,
        max_length=512,
        pattern=r"^[^\s]+$",
        description=(
            "Container image; an itzg/minecraft-server compatible image. Pin a tag: the "
            "default is a tested release."
        ),
    )
    resources: Resources = Field(
        default=Resources(), description="CPU and memory of the server container."
    )
    storage: Storage = Field(
        default=Storage(), description="The persistent volume holding the world."
    )
    properties: Properties = Field(
        default=Properties(), description="Game settings written to server.properties."
    )
    allowlist: list[Username] = Field(
        default=[],
        max_length=MAX_LIST_ITEMS,
        description=(
            "Minecraft usernames allowed to join. Empty means anyone may join; otherwise the "
            "allowlist (whitelist) is enforced."
        ),
    )
    ops: list[Username] = Field(
        default=[],
        max_length=MAX_LIST_ITEMS,
        description="Minecraft usernames with operator (admin) rights in game.",
    )
    service: ServiceSpec = Field(default=ServiceSpec(), description="How the game port is exposed.")
    stopped: bool = Field(
        default=False,
        description=(
            "Stop the server (no pod runs) while keeping its world; set back to false to "
            "start it again on the same volume."
        ),
    )
    rcon: Rcon = Field(default=Rcon(), description="Remote console settings.")
    env: list[EnvVar] = Field(
        default=[],
        max_length=MAX_LIST_ITEMS,
        description=(
            "Extra environment variables for the image (see the itzg/minecraft-server "
            "documentation). Names set from typed fields are refused."
        ),
    )
    scheduling: Scheduling = Field(
        default=Scheduling(), description="Where the server pod may run."
    )

    @field_validator("eula")
    @classmethod
    def _eula_accepted(cls, eula: bool) -> bool:
        if not eula:
            raise ValueError(EULA_MESSAGE)
        return eula
