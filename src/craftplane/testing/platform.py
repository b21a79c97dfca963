"""What a test run is pointed at: a cluster, NATS and PostgreSQL."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from craftplane.sandbox.config import SandboxConfig


@dataclass(frozen=True)
class Platform:
    kubeconfig: Path
    kubectl_binary: str
    nats_url: str
    database_url: str
    admin_database_url: str
    sandbox: SandboxConfig | None
