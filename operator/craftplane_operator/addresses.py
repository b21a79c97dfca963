"""Addresses read from a server's Service as it is (not as the spec wants it), pure.

``service_address`` is where the Service itself lets players in, with how far that reaches;
``internal_address`` is its ClusterIP, which the platform's router connects to. Whether a
player joins through the router instead is decided in `routing`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from craftplane.contracts.spec import ServiceType
from craftplane.contracts.status import Address, AddressReach
from craftplane_operator.builders.naming import GAME_PORT, GAME_PORT_NAME

Object = Mapping[str, Any]

_REACH = {
    ServiceType.LOAD_BALANCER.value: AddressReach.LOAD_BALANCER,
    ServiceType.NODE_PORT.value: AddressReach.NODE_PORT,
    ServiceType.CLUSTER_IP.value: AddressReach.CLUSTER,
}


def _get(obj: Object | None, *path: str) -> Any:
    current: Any = obj
    for key in path:
        if not isinstance(current, Mapping):
            return None
        current = current.get(key)
    return current


def game_port(service: Object) -> Object:
    """The Service's game port entry (by name, else its first port; {} when it has none)."""
    ports = _get(service, "spec", "ports") or []
    named = [p for p in ports if isinstance(p, Mapping) and p.get("name") == GAME_PORT_NAME]
    found = (named or ports or [{}])[0]
    return found if isinstance(found, Mapping) else {}


def _address(host: Any, port: Any, reach: AddressReach) -> Address | None:
    if not host or not port:
        return None
    try:
        return Address(host=str(host), port=int(port), reach=reach)
    except (ValidationError, ValueError, TypeError):
        return None


def cluster_ip(service: Object | None) -> str | None:
    """The Service's virtual IP; None for a headless Service or before one is allocated."""
    host = _get(service, "spec", "clusterIP")
    return str(host) if host and host != "None" else None


def internal_address(service: Object | None) -> Address | None:
    """The ClusterIP and game port (what the router dials); None without a ClusterIP."""
    if service is None:
        return None
    return _address(
        cluster_ip(service), game_port(service).get("port", GAME_PORT), AddressReach.CLUSTER
    )


def service_address(service: Object | None, pod: Object | None) -> Address | None:
    """Where the Service lets players in: the load balancer's ingress, a node's address and
    the node port, or the ClusterIP (inside the cluster only)."""
    if service is None:
        return None
    port = game_port(service)
    service_type = _get(service, "spec", "type") or ServiceType.CLUSTER_IP.value
    reach = _REACH.get(service_type, AddressReach.CLUSTER)
    if reach is AddressReach.LOAD_BALANCER:
        ingress = _get(service, "status", "loadBalancer", "ingress") or []
        first: Object = ingress[0] if ingress and isinstance(ingress[0], Mapping) else {}
        return _address(
            first.get("ip") or first.get("hostname"), port.get("port", GAME_PORT), reach
        )
    if reach is AddressReach.NODE_PORT:
        return _address(_get(pod, "status", "hostIP"), port.get("nodePort"), reach)
    return internal_address(service)
