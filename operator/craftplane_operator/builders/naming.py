"""Names of the children of a MinecraftServer, and the ports and keys they share.

The reconciler, the phase derivation and the builders all find a child by
these functions, so a rename cannot leave one of them looking in the wrong place.
"""

from __future__ import annotations

from typing import Final

GAME_PORT: Final = 25565
GAME_PORT_NAME: Final = "minecraft"
RCON_PORT: Final = 25575
RCON_PORT_NAME: Final = "rcon"

CONTAINER_NAME: Final = "minecraft"
DATA_VOLUME: Final = "data"
DATA_MOUNT_PATH: Final = "/data"
RCON_PASSWORD_KEY: Final = "rcon-password"
CONFIG_HASH_ANNOTATION: Final = "craftplane.io/config-hash"


def configmap_name(server_name: str) -> str:
    return f"{server_name}-config"


def secret_name(server_name: str) -> str:
    return f"{server_name}-rcon"


def service_name(server_name: str) -> str:
    return server_name


def statefulset_name(server_name: str) -> str:
    return server_name


def pod_name(server_name: str) -> str:
    """The only pod of the StatefulSet (ordinal 0)."""
    return f"{statefulset_name(server_name)}-0"


def pvc_name(server_name: str) -> str:
    """The world volume claim the StatefulSet creates from its "data" template."""
    return f"{DATA_VOLUME}-{pod_name(server_name)}"
