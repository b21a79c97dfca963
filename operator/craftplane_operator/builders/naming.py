"""Names of the children of a MinecraftServer, and the ports and keys they share.

The reconciler, the phase derivation and the builders all find a child by
these functions, so a rename cannot leave one of them looking in the wrong place.
"""

from __future__ import annotations

from typing import Final

from craftplane.contracts import names

GAME_PORT: Final = 25565
GAME_PORT_NAME: Final = "minecraft"
RCON_PORT: Final = names.RCON_PORT
RCON_PORT_NAME: Final = "rcon"

CONTAINER_NAME: Final = names.SERVER_CONTAINER
DATA_VOLUME: Final = "data"
DATA_MOUNT_PATH: Final = "/data"
RCON_PASSWORD_KEY: Final = names.RCON_PASSWORD_KEY
CONFIG_HASH_ANNOTATION: Final = "craftplane.io/config-hash"


def configmap_name(server_name: str) -> str:
    return f"{server_name}-config"


def secret_name(server_name: str) -> str:
    return names.rcon_secret_name(server_name)


def service_name(server_name: str) -> str:
    return server_name


def statefulset_name(server_name: str) -> str:
    return server_name


def headless_service_name(server_name: str) -> str:
    return names.pods_service_name(server_name)


def pod_name(server_name: str) -> str:
    """The only pod of the StatefulSet (ordinal 0)."""
    return names.server_pod_name(statefulset_name(server_name))


def pvc_name(server_name: str) -> str:
    """The world volume claim the StatefulSet creates from its "data" template."""
    return f"{DATA_VOLUME}-{pod_name(server_name)}"
