"""Names of the MinecraftServer API and the labels/annotations on what it owns."""

from __future__ import annotations

from typing import Final

GROUP: Final = "craftplane.io"
VERSION: Final = "v1alpha1"
API_VERSION: Final = f"{GROUP}/{VERSION}"
KIND: Final = "MinecraftServer"
PLURAL: Final = "minecraftservers"
SINGULAR: Final = "minecraftserver"
SHORT_NAMES: Final = ("mcs",)
CATEGORIES: Final = ("craftplane",)
CRD_NAME: Final = f"{PLURAL}.{GROUP}"

FINALIZER: Final = "craftplane.io/finalizer"

LABEL_NAME: Final = "app.kubernetes.io/name"
LABEL_INSTANCE: Final = "app.kubernetes.io/instance"
LABEL_MANAGED_BY: Final = "app.kubernetes.io/managed-by"
LABEL_PART_OF: Final = "app.kubernetes.io/part-of"
LABEL_SERVER: Final = "craftplane.io/server"

APP_NAME: Final = "minecraft-server"
MANAGER_NAME: Final = "craftplane-operator"
PART_OF: Final = "craftplane"

# Set on a namespace; the operator copies it into events so the gateway can
# authorise per tenant without reading namespaces itself.
TENANT_LABEL: Final = "craftplane.io/tenant"

# "host:port" to ping for the player count instead of the Service address.
# Needed when the operator runs outside the cluster network (the sandbox),
# where the Service address is not reachable.
PING_TARGET_ANNOTATION: Final = "craftplane.io/ping-target"


def selector_labels(server_name: str) -> dict[str, str]:
    """Labels that identify one server's pods; immutable once a StatefulSet uses them."""
    return {
        LABEL_NAME: APP_NAME,
        LABEL_INSTANCE: server_name,
        LABEL_SERVER: server_name,
    }


def standard_labels(server_name: str) -> dict[str, str]:
    """All labels put on every child of a MinecraftServer."""
    return {
        **selector_labels(server_name),
        LABEL_MANAGED_BY: MANAGER_NAME,
        LABEL_PART_OF: PART_OF,
    }


# Names of a server's children that components other than the operator reach for (the
# gateway's console and logs): one place, so a rename cannot leave one looking elsewhere.
RCON_PORT: Final = 25575
RCON_PASSWORD_KEY: Final = "rcon-password"
SERVER_CONTAINER: Final = "minecraft"


def rcon_secret_name(server_name: str) -> str:
    return f"{server_name}-rcon"


def pods_service_name(server_name: str) -> str:
    """The headless Service governing the StatefulSet: DNS names for its pod."""
    return f"{server_name}-pods"


def server_pod_name(server_name: str) -> str:
    """The only pod of the server's StatefulSet (ordinal 0)."""
    return f"{server_name}-0"


def server_pod_host(server_name: str, namespace: str) -> str:
    """The pod's stable DNS name through the headless Service (inside the cluster)."""
    return f"{server_pod_name(server_name)}.{pods_service_name(server_name)}.{namespace}.svc"
