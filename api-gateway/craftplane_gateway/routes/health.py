"""/healthz, /readyz, /metrics, and the page shown where the dashboard is not built."""

from __future__ import annotations

import asyncio

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response

from craftplane.kube import KubeError
from craftplane_gateway import metrics
from craftplane_gateway.routes.common import state_of

VERSION = "0.1.0"


async def healthz(_: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> Response:
    gw = state_of(request)
    checks: dict[str, bool] = {"nats": gw.nats.is_connected, "database": False}
    pool = gw.db.get()
    if pool is not None:
        try:
            async with asyncio.timeout(2), pool.acquire() as conn:
                await conn.fetchval("SELECT 1")
            checks["database"] = True
        except Exception:  # noqa: BLE001 - any failure means not ready
            pass
    try:
        await gw.kube.request("GET", "/readyz", timeout=2)
        checks["kubernetes"] = True
    except KubeError:
        checks["kubernetes"] = False
    # Without the token deny list every authenticated request is a 503.
    checks["revocations"] = gw.revocations.deny is not None
    ready = all(checks.values())
    return JSONResponse(
        {"status": "ok" if ready else "unavailable", "checks": checks},
        status_code=200 if ready else 503,
    )


async def prometheus(_: Request) -> Response:
    return Response(
        generate_latest(metrics.REGISTRY), headers={"Content-Type": CONTENT_TYPE_LATEST}
    )


async def no_dashboard(_: Request) -> Response:
    return PlainTextResponse(
        "Craftplane gateway. The dashboard is not built: run `make up` (npm ci && npm run build "
        "in dashboard/). The API is at /api/v1 and described at /openapi.json.\n"
    )
