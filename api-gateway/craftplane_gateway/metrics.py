"""Prometheus metrics of the gateway."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

REGISTRY = CollectorRegistry()

PROJECTED = Counter(
    "craftplane_gateway_events_projected_total",
    "Events applied to the projection",
    registry=REGISTRY,
)
PROJECTION_LAG = Gauge(
    "craftplane_gateway_projection_lag_events",
    "Stream messages not yet projected by the shared consumer",
    registry=REGISTRY,
)
PROJECTION_BATCH_SECONDS = Histogram(
    "craftplane_gateway_projection_batch_seconds",
    "Time to project one fetched batch",
    registry=REGISTRY,
)
DEAD_LETTERS = Counter(
    "craftplane_gateway_dead_letters_total",
    "Messages that could not be decoded or applied",
    registry=REGISTRY,
)
NAKS = Counter(
    "craftplane_gateway_naks_total",
    "Batches handed back to JetStream after a database error",
    registry=REGISTRY,
)
WS_CLIENTS = Gauge(
    "craftplane_gateway_ws_clients", "Connected WebSocket clients", registry=REGISTRY
)
WS_DROPPED = Counter(
    "craftplane_gateway_ws_slow_clients_dropped_total",
    "Clients closed (4008) for not reading: a send stalled, or too many servers pending",
    registry=REGISTRY,
)
WS_COALESCED = Counter(
    "craftplane_gateway_ws_changes_coalesced_total",
    "Changes folded into a frame a client had pending instead of sent on their own",
    registry=REGISTRY,
)
WS_SENT = Counter(
    "craftplane_gateway_ws_frames_sent_total", "Frames sent to WebSocket clients", registry=REGISTRY
)
NATS_CONNECTED = Gauge(
    "craftplane_gateway_nats_connected", "1 when connected to NATS", registry=REGISTRY
)
FALLBACK_POLLING = Gauge(
    "craftplane_gateway_polling_fallback",
    "1 while NATS is down and the cluster is polled",
    registry=REGISTRY,
)
DRIFT_FOUND = Counter(
    "craftplane_gateway_drift_servers_total",
    "Servers found out of step with the cluster",
    registry=REGISTRY,
)
