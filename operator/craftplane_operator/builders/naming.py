"""Names of the children of a MinecraftServer, and the ports and keys they share.

The reconciler, the phase derivation and the builders all find a child by
these functions, so a rename cannot leave one of them looking in the wrong place.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

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
# Where the headless Service sits among the children gathered for a reconcile, which are
# otherwise keyed by kind (the game Service keeps the key "Service").
PODS_SERVICE_SLOT: Final = "Service/pods"


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


def slot_kind(slot: str) -> str:
    """The kind of the child in a slot ("Service/pods" holds a Service)."""
    return slot.split("/", 1)[0]


def child_slot(child: Mapping[str, Any], server_name: str) -> str:
    """The slot a child of `server_name` is gathered in: its kind, or PODS_SERVICE_SLOT."""
    kind = str(child.get("kind", ""))
    name = (child.get("metadata") or {}).get("name")
    if kind == "Service" and name == headless_service_name(server_name):
        return PODS_SERVICE_SLOT
    return kind
