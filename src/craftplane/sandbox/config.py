"""Where the sandbox keeps its state and which loopback ports it uses."""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


def _default_state_dir() -> Path:
    # PostgreSQL refuses to run as root, so as root its data must live where the
    # postgres user can reach it; /root is mode 0700.
    if os.geteuid() == 0:
        return Path("/var/lib/craftplane/sandbox")
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "craftplane" / "sandbox"


def _default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "craftplane"


class SandboxConfig(BaseSettings):
    """Sandbox settings, overridable with CRAFTPLANE_* environment variables."""

    model_config = SettingsConfigDict(env_prefix="CRAFTPLANE_", extra="ignore")

    state_dir: Path = Field(default_factory=_default_state_dir)
    cache: Path = Field(default_factory=_default_cache_dir)
    cluster_name: str = "craftplane"
    k8s_version: str = "v1.36.3"
    etcd_version: str = "v3.6.16"
    kwok_version: str = "v0.8.0"
    apiserver_port: int = 16443
    nats_port: int = 14222
    nats_monitor_port: int = 18222
    postgres_port: int = 15432
    gateway_port: int = 18080
    operator_metrics_port: int = 18090
    nodes: int = 3

    @property
    def bin_dir(self) -> Path:
        key = f"k8s-{self.k8s_version}-etcd-{self.etcd_version}-kwok-{self.kwok_version}"
        return self.cache / key / "bin"

    @property
    def kwok_dir(self) -> Path:
        return self.state_dir / "kwok"

    @property
    def kubeconfig(self) -> Path:
        return self.state_dir / "kubeconfig"

    @property
    def logs_dir(self) -> Path:
        return self.state_dir / "logs"

    @property
    def run_dir(self) -> Path:
        return self.state_dir / "run"

    @property
    def nats_url(self) -> str:
        return f"nats://127.0.0.1:{self.nats_port}"

    @property
    def database_url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.postgres_port}/craftplane"

    @property
    def admin_database_url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.postgres_port}/postgres"

    @property
    def gateway_url(self) -> str:
        return f"http://127.0.0.1:{self.gateway_port}"
