"""The gateway fixtures live in craftplane.testing.plugin (shared with the e2e and dashboard
suites); the client helpers in craftplane.testing.gateway."""

from craftplane.testing.gateway import Tenant, WsClient, connect_ws, status_of

__all__ = ["Tenant", "WsClient", "connect_ws", "status_of"]
