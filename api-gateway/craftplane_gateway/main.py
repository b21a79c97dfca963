"""`craftplane-gateway`: serve the app with uvicorn."""

from __future__ import annotations

import uvicorn

from craftplane import logs
from craftplane.startup import load_or_exit
from craftplane_gateway.app import create_app
from craftplane_gateway.settings import GatewaySettings, startup_errors


def main() -> None:
    settings = load_or_exit("craftplane-gateway", GatewaySettings, startup_errors)
    logs.configure(settings.log_level)
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,
        ws_ping_interval=20,
        ws_ping_timeout=20,
        # Larger client messages are refused by uvicorn itself (close 1009) before the app
        # sees them; the app checks the same limit for servers that do not enforce one.
        ws_max_size=settings.ws_max_frame_bytes,
        lifespan="on",
    )


if __name__ == "__main__":
    main()
