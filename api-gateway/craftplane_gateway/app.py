"""The gateway application: `create_app()` and the lifespan that owns every client."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from craftplane import logs
from craftplane.kube import KubeClient
from craftplane.loopwatch import LoopWatch
from craftplane_gateway import problems
from craftplane_gateway.backup_watch import BackupWatch
from craftplane_gateway.hub import Hub
from craftplane_gateway.live import CatchUp, LiveFeed
from craftplane_gateway.natsconn import NatsLink
from craftplane_gateway.projector import Projector
from craftplane_gateway.ratelimit import TokenBuckets
from craftplane_gateway.reconcile import ClusterSync
from craftplane_gateway.revocations import Revocations
from craftplane_gateway.routes import health, table
from craftplane_gateway.settings import GatewaySettings
from craftplane_gateway.state import Database, GatewayState
from craftplane_gateway.tenants import TenantNamespaces

log = logs.get_logger(__name__)

DEFAULT_DASHBOARD = Path(__file__).resolve().parents[2] / "dashboard" / "dist"


def _routes(settings: GatewaySettings) -> list[BaseRoute]:
    routes = table.routes()
    dashboard = Path(settings.dashboard_dir) if settings.dashboard_dir else DEFAULT_DASHBOARD
    if (dashboard / "index.html").exists():
        routes.append(Mount("/", app=StaticFiles(directory=dashboard, html=True), name="dashboard"))
    else:
        routes.append(Route("/", health.no_dashboard))
    return routes


def create_app(
    settings: GatewaySettings | None = None, *, kube: KubeClient | None = None
) -> Starlette:
    settings = settings or GatewaySettings()
    if not settings.token_key:
        raise SystemExit("CRAFTPLANE_TOKEN_KEY must be set: it signs and checks tenant tokens")

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[dict[str, Any]]:
        client = kube or await KubeClient.connect()
        db = Database(settings.database_url, settings.pool_min, settings.pool_max)
        state = GatewayState(
            settings=settings,
            db=db,
            nats=NatsLink(settings.nats_url),
            kube=client,
            hub=Hub(settings.client_queue, settings.ws_stall_seconds),
            console_limit=TokenBuckets(settings.console_rate, settings.console_burst),
            write_limit=TokenBuckets(settings.write_rate, settings.write_burst),
            revocations=Revocations(db.get, every=settings.revocation_refresh_seconds),
            tenants=TenantNamespaces(client, ttl=settings.tenant_cache_seconds),
        )
        projector = Projector(
            state.nats, state.db.get, durable=settings.consumer_name, batch=settings.batch_size
        )
        live = LiveFeed(state.nats, state.hub)
        catch_up = CatchUp(state.db.get, state.hub, every=settings.poll_seconds)
        sync = ClusterSync(
            client,
            state.db.get,
            state.nats,
            state.hub,
            drift_seconds=settings.drift_seconds,
            poll_seconds=settings.poll_seconds,
        )
        backups = BackupWatch(
            client, state.hub, state.tenants, interval=settings.backup_frame_seconds
        )
        watch = LoopWatch("gateway")
        watch.start()
        state.db.start()
        if not await state.revocations.prime(timeout=15):
            log.warning("token deny list not loaded yet: authenticated requests get 503")
        state.revocations.start()
        state.nats.start()
        projector.start()
        live.start()
        catch_up.start()
        sync.start()
        backups.start()
        log.info("gateway started", extra={"nats": settings.nats_url})
        try:
            yield {"gw": state}
        finally:
            for part in (backups, sync, catch_up, live, projector, state.revocations):
                await part.stop()
            await state.nats.close()
            await state.db.close()
            if kube is None:
                await client.close()
            watch.stop()

    return Starlette(
        routes=_routes(settings),
        lifespan=lifespan,
        middleware=[
            Middleware(
                CORSMiddleware,
                allow_origins=settings.allowed_origins,
                allow_methods=["GET", "POST", "PATCH", "DELETE"],
                allow_headers=["Authorization", "Content-Type"],
                allow_credentials=True,
            )
        ],
        exception_handlers={
            problems.Problem: problems.handle_problem,
            HTTPException: problems.handle_http_exception,
            Exception: problems.handle_unexpected,
        },
    )
