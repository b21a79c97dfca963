"""Gateway settings from the environment."""

from __future__ import annotations

from datetime import timedelta

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from craftplane import tokens
from craftplane.rcon import Reach
from craftplane.startup import DATABASE_SCHEMES, NATS_SCHEMES, url_errors
from craftplane_gateway.hub import QUEUE_SIZE, STALL_SECONDS


class GatewaySettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CRAFTPLANE_GATEWAY_", extra="ignore")

    database_url: str = Field(
        default="postgresql://postgres@127.0.0.1:5432/craftplane",
        validation_alias=AliasChoices("DATABASE_URL", "database_url"),
    )
    nats_url: str = Field(
        default="nats://127.0.0.1:4222", validation_alias=AliasChoices("NATS_URL", "nats_url")
    )
    token_key: str = Field(
        default="", validation_alias=AliasChoices("CRAFTPLANE_TOKEN_KEY", "token_key")
    )
    allowed_origins: list[str] = Field(
        default_factory=lambda: ["http://127.0.0.1:18080", "http://localhost:18080"],
        validation_alias=AliasChoices("CRAFTPLANE_ALLOWED_ORIGINS", "allowed_origins"),
    )
    host: str = "0.0.0.0"
    port: int = 8080
    consumer_name: str = "craftplane-projection"
    batch_size: int = 200
    pool_min: int = 1
    pool_max: int = 10
    drift_seconds: float = 30.0
    poll_seconds: float = 5.0
    metrics_frame_seconds: float = 30.0
    # Per WebSocket client: at most this many distinct servers and objects with unsent changes
    # (changes to one server coalesce, so this is not a count of events), and how long one
    # send may wait for a client that does not read; past either, it is closed with 4008.
    client_queue: int = Field(default=QUEUE_SIZE, ge=16)
    ws_stall_seconds: float = Field(default=STALL_SECONDS, gt=0, le=600)
    dashboard_dir: str | None = None
    log_level: str = "INFO"
    # How the console reaches a server's RCON: its pod's DNS name inside the cluster, or the
    # pod IP from the API (the sandbox, whose host routes to pod IPs but has no cluster DNS).
    rcon_reach: Reach = Reach.DNS
    rcon_timeout_seconds: float = Field(default=5.0, gt=0, le=60)
    # Console commands per tenant (REST and WebSocket together): a token bucket.
    console_rate: float = Field(default=5.0, gt=0)
    console_burst: int = Field(default=10, ge=1)
    # Writes (create, patch, delete, start, stop, restart) per token subject: a token bucket.
    write_rate: float = Field(default=10.0, gt=0)
    write_burst: int = Field(default=20, ge=1)
    # The longest token accepted (exp - iat); never above tokens.MAX_LIFETIME, which bounds how
    # long the deny list remembers a revoked token id.
    token_max_lifetime_seconds: float = Field(
        default=tokens.MAX_LIFETIME.total_seconds(),
        gt=0,
        le=tokens.MAX_LIFETIME.total_seconds(),
    )
    # How often each replica re-reads the token deny list (a revocation holds within this).
    revocation_refresh_seconds: float = Field(default=2.0, gt=0, le=60)
    # How long a namespace's tenant label is trusted once read (an offboarded tenant, its
    # label removed, is refused within this; a new one is served within a few seconds).
    tenant_cache_seconds: float = Field(default=30.0, gt=0, le=600)
    # Request bodies beyond this are refused (413) before they are parsed.
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024, le=16 * 1024 * 1024)
    # Backup and restore frames: at most one per object per this many seconds (the latest
    # state is always sent, at most this late).
    backup_frame_seconds: float = Field(default=0.5, gt=0, le=10)
    # WebSocket messages from a client beyond this close the socket (1009).
    ws_max_frame_bytes: int = Field(default=64 * 1024, ge=1024, le=1024 * 1024)

    @property
    def token_max_lifetime(self) -> timedelta:
        return timedelta(seconds=self.token_max_lifetime_seconds)


def startup_errors(settings: GatewaySettings) -> list[str]:
    """What keeps these settings from serving, each naming its environment variable."""
    errors: list[str] = []
    if not settings.token_key:
        errors.append("CRAFTPLANE_TOKEN_KEY must be set: it signs and checks tenant tokens")
    else:
        try:
            tokens.check_key(settings.token_key)
        except ValueError as exc:
            length = len(settings.token_key.encode())
            errors.append(f"CRAFTPLANE_TOKEN_KEY: {exc} (it is {length})")
    errors += url_errors("NATS_URL", settings.nats_url, NATS_SCHEMES, host=True)
    # No host is a Unix socket (postgresql:///db?host=/run/postgresql), which asyncpg accepts.
    errors += url_errors("DATABASE_URL", settings.database_url, DATABASE_SCHEMES, host=False)
    return errors
