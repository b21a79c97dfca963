"""`craftplane-gateway`: serve the app with uvicorn."""

from __future__ import annotations

import uvicorn

from craftplane import logs
from craftplane_gateway.app import create_app
from craftplane_gateway.settings import GatewaySettings


def main() -> None:
    settings = GatewaySettings()
    logs.configure(settings.log_level)
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,
        ws_ping_interval=20,
        ws_ping_timeout=20,
        lifespan="on",
    )


if __name__ == "__main__":
    main()
