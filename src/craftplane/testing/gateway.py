"""A gateway process under test, with a database and durable consumer of its own."""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path

from craftplane.testing.platform import Platform
from craftplane.testing.processes import ManagedProcess, console_script, free_port

ROOT = Path(__file__).resolve().parents[2]


def gateway_process(
    platform: Platform,
    *,
    index: int,
    database_url: str,
    token_key: str,
    consumer: str,
    port: int | None = None,
    extra: dict[str, str] | None = None,
) -> ManagedProcess:
    port = port or free_port()
    origin = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "KUBECONFIG": str(platform.kubeconfig),
        "NATS_URL": platform.nats_url,
        "DATABASE_URL": database_url,
        "CRAFTPLANE_TOKEN_KEY": token_key,
        "CRAFTPLANE_ALLOWED_ORIGINS": json.dumps([origin, f"http://localhost:{port}"]),
        "CRAFTPLANE_GATEWAY_PORT": str(port),
        "CRAFTPLANE_GATEWAY_HOST": "127.0.0.1",
        "CRAFTPLANE_GATEWAY_CONSUMER_NAME": consumer,
        "CRAFTPLANE_GATEWAY_POLL_SECONDS": "2",
        "CRAFTPLANE_GATEWAY_DRIFT_SECONDS": "10",
        "CRAFTPLANE_GATEWAY_METRICS_FRAME_SECONDS": "5",
        "CRAFTPLANE_GATEWAY_DASHBOARD_DIR": str(ROOT / "dashboard" / "dist"),
        **(extra or {}),
    }
    return ManagedProcess(
        name=f"gateway-{index}",
        argv=[console_script("craftplane-gateway")],
        env=env,
        log_path=ROOT / "test-artifacts" / f"gateway-{index}.log",
        http_port=port,
    )


def unique_consumer() -> str:
    return f"test-projection-{secrets.token_hex(4)}"
