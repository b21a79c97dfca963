"""MinecraftServer objects as the operator writes them, for the router's tests."""

from __future__ import annotations

from typing import Any

from craftplane_router.routes import Entry, Route, State


def server(
    name: str = "survival",
    namespace: str = "tenant-acme",
    *,
    phase: str | None = "Running",
    hostnames: list[str] | None = None,
    host: str = "10.96.0.10",
    port: int = 25565,
    created: str = "2025-01-01T00:00:00Z",
    proxy_protocol: bool | None = None,
    **status: Any,
) -> dict[str, Any]:
    spec: dict[str, Any] = {"version": "1.21.4"}
    if proxy_protocol is not None:
        spec["service"] = {"proxyProtocol": proxy_protocol}
    body: dict[str, Any] = {
        "hostnames": [f"{name}.acme.play.example.com"] if hostnames is None else hostnames,
        "internalAddress": {"host": host, "port": port},
        **status,
    }
    if phase is not None:
        body["phase"] = phase
    return {
        "apiVersion": "craftplane.io/v1alpha1",
        "kind": "MinecraftServer",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "creationTimestamp": created,
            "resourceVersion": "1",
        },
        "spec": spec,
        "status": body,
    }


def route(
    name: str = "survival",
    state: State = State.RUNNING,
    *,
    host: str = "127.0.0.1",
    port: int = 25565,
    namespace: str = "tenant-acme",
    proxy_protocol: bool = False,
    players_max: int = 20,
) -> Route:
    return Route(
        namespace,
        name,
        host,
        port,
        state,
        proxy_protocol=proxy_protocol,
        version="1.21.4",
        players_max=players_max,
    )


def entry(route: Route, *hostnames: str, created: str = "2025-01-01T00:00:00Z") -> Entry:
    return Entry(created, route, frozenset(hostnames))
