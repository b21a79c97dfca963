"""The values a MinecraftServer spec field may take: defaults, patterns, enums and the
constrained string types the spec's models are built from."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Final

from pydantic import AfterValidator, StringConstraints

from craftplane.contracts.quantity import MIN_MEMORY, QUANTITY_PATTERN, parse_quantity

DEFAULT_IMAGE: Final = "itzg/minecraft-server:2025.10.2"
DEFAULT_VERSION: Final = "LATEST"

# Variables the operator sets on the itzg image from typed fields or for the pod's own
# wiring; letting `env` override them would make the spec lie about what runs. Compared
# case-insensitively: the image reads some of them in any case, and `Memory` next to
# `MEMORY` would be a trap either way.
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
    "JVM_XX_OPTS",
    "USE_AIKAR_FLAGS",
    "STOP_DURATION",
    "RCON_PASSWORD_FILE",
    "EXISTING_WHITELIST_FILE",
    "EXISTING_OPS_FILE",
    "CUSTOM_SERVER_PROPERTIES",
    "HOME",
)


def is_reserved_env_name(name: str) -> bool:
    """Whether `env` may not set this variable (case-insensitive, like the CEL rule)."""
    return name.upper() in RESERVED_ENV_NAMES


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
