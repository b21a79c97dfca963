"""A component's HTTP endpoint: /metrics for Prometheus, /healthz and /readyz for probes.

Shared by the operator and the router (the gateway answers these from its own app).
"""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest


async def serve(
    host: str, port: int, registry: CollectorRegistry, *, ready: Callable[[], bool]
) -> web.AppRunner:
    """Serve until the returned runner's ``cleanup()``: ``registry`` at /metrics, 200 at
    /healthz while the process answers, and at /readyz 200 or 503 as ``ready()`` says."""

    async def metrics(_: web.Request) -> web.Response:
        return web.Response(
            body=generate_latest(registry), headers={"Content-Type": CONTENT_TYPE_LATEST}
        )

    async def healthz(_: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def readyz(_: web.Request) -> web.Response:
        ok = ready()
        return web.json_response({"ready": ok}, status=200 if ok else 503)

    app = web.Application()
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    return runner
