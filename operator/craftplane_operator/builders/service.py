"""The Services: the game port for players, and the headless one governing the pod."""

from __future__ import annotations

from typing import Any

from craftplane.contracts import names
from craftplane.contracts.service import MC_ROUTER_HOSTNAMES
from craftplane_operator.builders.context import ServerContext
from craftplane_operator.builders.meta import object_meta
from craftplane_operator.builders.naming import (
    GAME_PORT,
    GAME_PORT_NAME,
    RCON_PORT,
    RCON_PORT_NAME,
    headless_service_name,
    service_name,
)


def service_annotations(server: ServerContext) -> dict[str, str]:
    """The spec's annotations, and mc-router's list of the granted hostnames, which wins (the
    spec cannot name it: the contracts refuse the prefix). Always written, empty when there
    are none: mc-router routes nothing for an empty list, and an annotation left out would
    keep its last value (a Service that already says everything else is not re-applied)."""
    return {**server.spec.service.annotations, MC_ROUTER_HOSTNAMES: ",".join(server.hostnames)}


def build_service(server: ServerContext) -> dict[str, Any]:
    """Service ``<name>`` with the game port only.

    RCON is deliberately absent: anything on a Service is reachable by the
    whole cluster (and beyond for NodePort/LoadBalancer), while the operator
    reaches RCON on the pod IP.
    """
    spec = server.spec.service
    port: dict[str, Any] = {
        "name": GAME_PORT_NAME,
        "port": GAME_PORT,
        "targetPort": GAME_PORT_NAME,
        "protocol": "TCP",
    }
    if spec.node_port is not None:
        port["nodePort"] = spec.node_port
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": object_meta(server, service_name(server.name), service_annotations(server)),
        "spec": {
            "type": spec.type.value,
            "selector": names.selector_labels(server.name),
            # publishNotReadyAddresses stays at its default (false): players must not be routed
            # to a server still generating its world. Setting it explicitly would be dropped by
            # the API server and look like drift on every reconcile.
            "ports": [port],
        },
    }


def _port(name: str, number: int) -> dict[str, Any]:
    return {"name": name, "port": number, "targetPort": name, "protocol": "TCP"}


def build_headless_service(server: ServerContext) -> dict[str, Any]:
    """Service ``<name>-pods``, the StatefulSet's governing Service: no virtual IP, only the
    pod's DNS name (``<name>-0.<name>-pods``).

    Published before the pod is Ready, so RCON (on its DNS name) and DNS itself reach a
    server that is still starting. Being headless it balances nothing and opens nothing
    beyond what the pod IP already does; the network policies decide who may connect.
    """
    ports = [_port(GAME_PORT_NAME, GAME_PORT)]
    if server.spec.rcon.enabled:
        ports.append(_port(RCON_PORT_NAME, RCON_PORT))
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": object_meta(server, headless_service_name(server.name)),
        "spec": {
            "clusterIP": "None",
            "publishNotReadyAddresses": True,
            "selector": names.selector_labels(server.name),
            "ports": ports,
        },
    }
