"""The values a MinecraftServer spec field may take: defaults, patterns, enums and the
constrained string types the spec's models are built from."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Final

from pydantic import AfterValidator, StringConstraints

from craftplane.contracts.quantity import MIN_MEMORY, QUANTITY_PATTERN, parse_quantity

DEFAULT_IMAGE: Final = "itzg/minecraft-server:2025.10.2"
DEFAULT_VERSION: Final = "LATEST"

# Variables `env` may not set, compared case-insensitively (the image reads some of them in
# any case, and `Memory` next to `MEMORY` would be a trap either way). Three kinds:
# - set by the operator from typed fields or for the pod's own wiring: overriding them would
#   make the spec lie about what runs;
# - settings channels of the itzg image that bypass typed fields (whole server.properties or
#   allowlist/ops files, skipping the rewrite of server.properties);
# - channels that defeat the platform's controls: RCON and its command hooks (which can turn
#   the allowlist off or op anyone), extra ports (query, JMX), the process wiring the graceful
#   stop relies on (EXEC_DIRECTLY, UID/GID, autostop), and JVM or loader injection
#   (JAVA_TOOL_OPTIONS, LD_PRELOAD), which would run code the typed jvm.flags refuse.
# Everything else (mod and plugin downloads such as MODRINTH_PROJECTS, PACKWIZ_URL, MODPACK,
# SPIGET_RESOURCES, TZ, PROXY for downloads, the other USE_*_FLAGS) is the user's to set.
RESERVED_ENV_NAMES: Final = (
    "EULA",
    "TYPE",
    "VERSION",
    "MEMORY",
    "INIT_MEMORY",
    "MAX_MEMORY",
    "ENABLE_RCON",
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
    "OPS_FILE",
    "OVERRIDE_OPS",
    "WHITELIST",
    "WHITELIST_FILE",
    "ENABLE_WHITELIST",
    "ENFORCE_WHITELIST",
    "OVERRIDE_WHITELIST",
    "EXISTING_WHITELIST_FILE",
    "EXISTING_OPS_FILE",
    "USE_AIKAR_FLAGS",
    "STOP_DURATION",
    "STOP_SERVER_ANNOUNCE_DELAY",
    "CUSTOM_SERVER_PROPERTIES",
    "OVERRIDE_SERVER_PROPERTIES",
    "SKIP_SERVER_PROPERTIES",
    "ENABLE_QUERY",
    "QUERY_PORT",
    "ENABLE_JMX",
    "ENABLE_AUTOPAUSE",
    "ENABLE_AUTOSTOP",
    "EXEC_DIRECTLY",
    "SETUP_ONLY",
    "UID",
    "GID",
    "HOME",
    "PATH",
    "JAVA_HOME",
    "JAVA_TOOL_OPTIONS",
    "_JAVA_OPTIONS",
    "JDK_JAVA_OPTIONS",
)
# Whole families: RCON_PASSWORD, RCON_PASSWORD_FILE, RCON_PORT, RCON_CMDS_*; JVM_OPTS,
# JVM_XX_OPTS, JVM_DD_OPTS (jvm.flags is the typed way); JMX_*; AUTOPAUSE_*/AUTOSTOP_*;
# LD_PRELOAD, LD_LIBRARY_PATH, LD_AUDIT.
RESERVED_ENV_PREFIXES: Final = ("RCON_", "JVM_", "JMX_", "AUTOPAUSE_", "AUTOSTOP_", "LD_")


def is_reserved_env_name(name: str) -> bool:
    """Whether `env` may not set this variable (case-insensitive, like the CEL rule)."""
    upper = name.upper()
    return upper in RESERVED_ENV_NAMES or upper.startswith(RESERVED_ENV_PREFIXES)


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
