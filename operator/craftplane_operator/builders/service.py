"""The Service exposing the game port."""

from __future__ import annotations

from typing import Any

from craftplane.contracts import names
from craftplane_operator.builders.context import ServerContext
from craftplane_operator.builders.meta import object_meta
from craftplane_operator.builders.naming import GAME_PORT, GAME_PORT_NAME, service_name


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
        "metadata": object_meta(server, service_name(server.name), spec.annotations),
        "spec": {
            "type": spec.type.value,
            "selector": names.selector_labels(server.name),
            # publishNotReadyAddresses stays at its default (false): players must not be routed
            # to a server still generating its world. Setting it explicitly would be dropped by
            # the API server and look like drift on every reconcile.
            "ports": [port],
        },
    }
