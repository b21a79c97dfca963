"""The MinecraftServer spec: validation for the REST API and the schema of the CRD.

Each constraint that JSON schema cannot express (a rule spanning fields, a
minimum on a quantity) is a pydantic validator with a CEL rule beside it, so
both entry points refuse the same objects with an error naming the field.
The values fields may take live in `spec_values` and are re-exported here.
"""

from __future__ import annotations

from pydantic import (
    ConfigDict,
    Field,
    field_validator,
)

from craftplane.contracts.backup import BackupPolicy, RestoreFrom
from craftplane.contracts.base import ApiModel, cel_rule, cel_rules
from craftplane.contracts.env import EnvVar
from craftplane.contracts.hibernation import Hibernation
from craftplane.contracts.lifecycle import AllowlistMode, Jvm, Lifecycle, RestartSchedule
from craftplane.contracts.policy import ProfileName
from craftplane.contracts.properties import Properties
from craftplane.contracts.quantity import (
    MIN_HEAP_MB,
    MIN_MEMORY,
    NON_HEAP_FLOOR_MB,
    cel_quantity_guard,
)
from craftplane.contracts.scheduling import Affinity, Scheduling, Toleration
from craftplane.contracts.service import ServiceSpec
from craftplane.contracts.spec_values import (
    DEFAULT_IMAGE,
    DEFAULT_VERSION,
    ENV_NAME_PATTERN,
    EULA_MESSAGE,
    MAX_LIST_ITEMS,
    NODE_PORT_MAX,
    NODE_PORT_MIN,
    PROPERTY_KEY_PATTERN,
    RESERVED_ENV_NAMES,
    RESERVED_ENV_PREFIXES,
    USERNAME_PATTERN,
    VERSION_PATTERN,
    Cpu,
    Difficulty,
    GameMode,
    Memory,
    PropertyKey,
    ServerType,
    ServiceType,
    Size,
    Username,
    is_reserved_env_name,
)

__all__ = [
    "DEFAULT_IMAGE",
    "DEFAULT_VERSION",
    "ENV_NAME_PATTERN",
    "EULA_MESSAGE",
    "MAX_LIST_ITEMS",
    "NODE_PORT_MAX",
    "NODE_PORT_MIN",
    "PROPERTY_KEY_PATTERN",
    "RESERVED_ENV_NAMES",
    "RESERVED_ENV_PREFIXES",
    "USERNAME_PATTERN",
    "VERSION_PATTERN",
    "Affinity",
    "AllowlistMode",
    "Cpu",
    "Difficulty",
    "EnvVar",
    "GameMode",
    "Hibernation",
    "Jvm",
    "Lifecycle",
    "Memory",
    "MinecraftServerSpec",
    "Properties",
    "PropertyKey",
    "Rcon",
    "Resources",
    "RestartSchedule",
    "Scheduling",
    "ServerType",
    "ServiceSpec",
    "ServiceType",
    "Size",
    "Storage",
    "Toleration",
    "Username",
    "is_reserved_env_name",
]

# it, and a CEL evaluation error would only repeat it less clearly.


class Resources(ApiModel):
    """CPU and memory of the server container (request = limit, so it is never throttled
    into lag by a noisy neighbour nor evicted first)."""

    model_config = ConfigDict(
        json_schema_extra=cel_rules(
            cel_rule(
                f"{cel_quantity_guard('self.memory')} || "
                f"quantity(self.memory).compareTo(quantity('{MIN_MEMORY}')) >= 0",
                f"memory must be at least {MIN_MEMORY}; a smaller server cannot start",
                field_path=".memory",
            ),
            cel_rule(
                f"{cel_quantity_guard('self.cpu')} || "
                "quantity(self.cpu).isGreaterThan(quantity('0'))",
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
            f"Memory limit (and request) of the container, as a Kubernetes quantity (e.g. "
            f"2Gi, 4Gi; at least {MIN_MEMORY}). Unless jvm.heap says otherwise, the JVM heap "
            f"(MEMORY, -Xms/-Xmx) is derived from it: 75% of the limit, but leaving at least "
            f"{NON_HEAP_FLOOR_MB}Mi for the JVM's own memory (metaspace, threads, network "
            f"buffers) and never below {MIN_HEAP_MB}Mi; e.g. 2Gi gives a 1536M heap, 1Gi "
            f"768M, 512Mi 256M. A server killed for exceeding the limit (OOMKilled) reports "
            f"the size to ask for instead."
        ),
    )
    jvm: Jvm = Field(default=Jvm(), description="JVM heap and flags, when the defaults do not fit.")


class Storage(ApiModel):
    """The persistent volume holding the world, plugins and configuration (/data)."""

    model_config = ConfigDict(
        json_schema_extra=cel_rules(
            cel_rule(
                f"{cel_quantity_guard('self.size')} || "
                "quantity(self.size).isGreaterThan(quantity('0'))",
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
        pattern=r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$",
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


class Rcon(ApiModel):
    """Remote console (RCON) on a cluster-internal port, never exposed outside the cluster."""

    enabled: bool = Field(
        default=True,
        description=(
            "Enable RCON. The operator uses it to apply allowlist and ops changes live, to "
            "announce and save before stops and restarts, and the API's console runs commands "
            "through it. Its password is generated into a Secret, mounted as a file, and never "
            "leaves the cluster. Without RCON those changes wait for the next restart and the "
            "console is unavailable."
        ),
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
        # No whitespace nor control characters: the image reference is one token.
        pattern=r"^[^\s\x00-\x1F\x7F]+$",
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
            "allowlist (whitelist) is enforced. Applied live over RCON (adds and removes), "
            "without a restart."
        ),
    )
    allowlist_mode: AllowlistMode = Field(
        default=AllowlistMode.ENFORCE,
        description=(
            "enforce: allowlist and ops are the whole truth; names added in game are reported "
            "(condition AllowlistSynced) and removed at the next reconcile. merge: names added "
            "in game are reported and kept."
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
            "start it again on the same volume. The owner's: the operator never writes it "
            "(hibernation is recorded in status instead)."
        ),
    )
    hibernation: Hibernation | None = Field(
        default=None,
        description=(
            "Sleep when empty and wake on join: the operator stops the server after "
            "afterEmptyMinutes without players (phase Stopped, reason Hibernating, in status "
            "only: spec.stopped stays false) and a player joining through the router starts "
            "it again. Absent: never."
        ),
    )
    rcon: Rcon = Field(default=Rcon(), description="Remote console settings.")
    lifecycle: Lifecycle = Field(
        default=Lifecycle(), description="Stops, restarts and scheduled maintenance."
    )
    backups: BackupPolicy = Field(
        default=BackupPolicy(),
        description="Scheduled backups to the tenant's repository, their retention and verification.",
    )
    restore_from: RestoreFrom | None = Field(
        default=None,
        description=(
            "Start this new server from a backup: its world is restored before the first start "
            "(ignored once the server has run)."
        ),
    )
    env: list[EnvVar] = Field(
        default=[],
        max_length=MAX_LIST_ITEMS,
        description=(
            "Extra environment variables for the image (see the itzg/minecraft-server "
            "documentation). Names set from typed fields are refused."
        ),
    )
    placement: ProfileName | None = Field(
        default=None,
        description=(
            "A placement profile of the tenant's CraftplanePolicy (its placements): where the "
            "server runs, as the cluster admin defined it. The policy's defaultPlacement when "
            "omitted."
        ),
    )
    scheduling: Scheduling = Field(
        default=Scheduling(),
        description=(
            "Where the server pod may run, as raw Pod fields; only where the tenant's "
            "CraftplanePolicy allows rawScheduling (use placement otherwise)."
        ),
    )

    @field_validator("eula")
    @classmethod
    def _eula_accepted(cls, eula: bool) -> bool:
        if not eula:
            raise ValueError(EULA_MESSAGE)
        return eula
