"""The operator's and the router's HTTP endpoint: /metrics, /healthz, /readyz (real socket)."""

from __future__ import annotations

import aiohttp
import pytest
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter

from craftplane.health_http import serve

pytestmark = pytest.mark.unit


async def test_metrics_health_and_readiness_as_told() -> None:
    registry = CollectorRegistry()
    Counter("craftplane_test_things_total", "Things", registry=registry).inc(3)
    ready = False
    runner = await serve("127.0.0.1", 0, registry, ready=lambda: ready)
    try:
        host, port = runner.addresses[0][:2]
        base = f"http://{host}:{port}"
        async with aiohttp.ClientSession() as session:
            async with session.get(f"{base}/healthz") as response:
                assert (response.status, await response.json()) == (200, {"status": "ok"})
            async with session.get(f"{base}/readyz") as response:
                assert (response.status, await response.json()) == (503, {"ready": False})
            ready = True
            async with session.get(f"{base}/readyz") as response:
                assert (response.status, await response.json()) == (200, {"ready": True})
            async with session.get(f"{base}/metrics") as response:
                assert response.status == 200
                assert response.headers["Content-Type"] == CONTENT_TYPE_LATEST
                assert "craftplane_test_things_total 3.0" in await response.text()
    finally:
        await runner.cleanup()
