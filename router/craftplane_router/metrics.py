"""The router's Prometheus metrics, in a registry of their own (one per Router, so a test's
router counts only its own connections).

Labels are bounded: namespace and server come from the routing table, never from what a client
wrote (an unknown hostname is counted with empty ones), and results and reasons are fixed words.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge

from craftplane_router.routes import Route


class RouterMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.connections = Counter(
            "craftplane_router_connections_total",
            "Connections by the server they asked for and what the router did with them",
            ["namespace", "server", "result"],
            registry=self.registry,
        )
        self.active = Gauge(
            "craftplane_router_active_connections",
            "Connections open now (being read, answered or spliced)",
            registry=self.registry,
        )
        self.bytes = Counter(
            "craftplane_router_bytes_total",
            "Bytes spliced, by server and direction (to_server, to_client)",
            ["namespace", "server", "direction"],
            registry=self.registry,
        )
        self.handshake_errors = Counter(
            "craftplane_router_handshake_errors_total",
            "Connections closed before a valid handshake, by reason",
            ["reason"],
            registry=self.registry,
        )
        self.wake_requests = Counter(
            "craftplane_router_wake_requests_total",
            "Logins to a sleeping or waking server handed to the waker, by what it did: "
            "requested (asked the operator for a wake), already_waking (nothing to ask), "
            "failed (the API server refused or did not answer)",
            ["namespace", "server", "result"],
            registry=self.registry,
        )

    def connection(self, route: Route | None, result: str) -> None:
        namespace, name = (route.namespace, route.name) if route else ("", "")
        self.connections.labels(namespace=namespace, server=name, result=result).inc()

    def wake(self, route: Route, result: str) -> None:
        self.wake_requests.labels(namespace=route.namespace, server=route.name, result=result).inc()

    def moved(self, route: Route, direction: str, count: int) -> None:
        self.bytes.labels(namespace=route.namespace, server=route.name, direction=direction).inc(
            count
        )

    def value(self, name: str, labels: dict[str, str] | None = None) -> float:
        """A sample's value (0 when absent), for tests and the error summary."""
        found = self.registry.get_sample_value(name, labels or {})
        return found or 0.0
