"""Router settings from the environment (``CRAFTPLANE_ROUTER_*``)."""

from __future__ import annotations

import json
import shutil
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BeforeValidator, Field
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from craftplane_router import proxy_header
from craftplane_router.copying import splice_available
from craftplane_router.decide import DEFAULT_SLEEPING_MOTD
from craftplane_router.session import SpliceMode

PREFIX = "CRAFTPLANE_ROUTER_"


class FastPathMode(StrEnum):
    AUTO = "auto"  # the compiled fast path when its binary is found, else Python alone
    ON = "on"
    OFF = "off"


def _comma_list(value: Any) -> Any:
    # "10.0.0.0/8, 192.168.0.0/16" as well as a JSON list.
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            return json.loads(text)
        return [part.strip() for part in text.split(",") if part.strip()]
    return value


class RouterSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=PREFIX, extra="ignore")

    host: str = Field(default="0.0.0.0", description="address of the game listener")
    port: int = Field(default=25565, description="the game port, for every server")
    metrics_host: str = Field(default="0.0.0.0", description="address of /metrics and probes")
    metrics_port: int = Field(default=9102, description="port of /metrics, /healthz, /readyz")
    handshake_timeout_seconds: float = Field(
        default=5.0, description="how long a client has to send its handshake"
    )
    idle_seconds: float = Field(
        default=60.0, description="a routed connection moving no byte this long is closed"
    )
    connect_timeout_seconds: float = Field(
        default=3.0, description="how long dialling a server may take"
    )
    accept_proxy_from: Annotated[list[str], NoDecode, BeforeValidator(_comma_list)] = Field(
        default_factory=list,
        description=(
            "CIDRs of load balancers whose PROXY v2 header is believed (comma-separated); "
            "empty: never"
        ),
    )
    sleeping_motd: str = Field(
        default=DEFAULT_SLEEPING_MOTD,
        description="server-list line of a sleeping server ({server}: its name)",
    )
    # stream by default: through a ClusterIP (bench router: 100 clients on the real node's
    # kube-proxy path) splice moved 21-68 MiB/s where stream moved 317-435 (see copying.py).
    splice_mode: SpliceMode = Field(
        default=SpliceMode.STREAM,
        description=(
            "how bytes cross in the Python router (what the fast path hands it and forwards "
            "after all: a woken server's held login): stream (asyncio) or splice (os.splice)"
        ),
    )
    # The compiled data path (router/fastpath): bench router, 100 clients through a ClusterIP
    # on 2 cores: see the README's figures; Python alone stays for machines without it.
    fast_path: FastPathMode = Field(
        default=FastPathMode.AUTO,
        description=(
            "forward connections to running servers in the compiled fast path "
            "(craftplane-router-fastpath): auto (when found), on, off"
        ),
    )
    fast_path_binary: str = Field(
        default="craftplane-router-fastpath",
        description="the fast path's executable: a path, or a name looked up on PATH",
    )
    wake_on_join: bool = Field(
        default=True,
        description=(
            "a login to a hibernating server asks the operator to wake it (the router's only "
            "write: two annotations); false: such logins are refused"
        ),
    )
    wake_hold_under_seconds: float = Field(
        default=20.0,
        description=(
            "a waking server whose last wake took less than this holds the joining player "
            "until it runs; one that took longer (or never woke) asks them to rejoin"
        ),
    )
    wake_hold_seconds: float = Field(
        default=25.0,
        description="how long a held player waits at most (Java clients give up after ~30 s)",
    )
    wake_unknown_start_seconds: float = Field(
        default=60.0,
        description="the rejoin time told for a server whose start time is not known yet",
    )
    max_connections: int = Field(
        default=4096, description="connections at once; one more is closed at once"
    )
    shutdown_grace_seconds: float = Field(
        default=10.0, description="on SIGTERM, how long open connections may continue"
    )
    log_level: str = "INFO"


def startup_errors(settings: RouterSettings) -> list[str]:
    """What keeps these settings from running, each naming its environment variable."""
    errors = []
    for field in ("port", "metrics_port"):
        value = getattr(settings, field)
        if not 0 < value < 65536:
            errors.append(f"{PREFIX}{field.upper()} must be a port (1-65535), not {value}")
    if settings.port == settings.metrics_port:
        errors.append(f"{PREFIX}PORT and {PREFIX}METRICS_PORT must differ")
    for field in (
        "handshake_timeout_seconds",
        "idle_seconds",
        "connect_timeout_seconds",
        "max_connections",
        "wake_hold_seconds",
        "wake_unknown_start_seconds",
    ):
        if getattr(settings, field) <= 0:
            errors.append(f"{PREFIX}{field.upper()} must be greater than 0")
    if settings.wake_hold_under_seconds < 0:
        errors.append(f"{PREFIX}WAKE_HOLD_UNDER_SECONDS must not be negative")
    if settings.shutdown_grace_seconds < 0:
        errors.append(f"{PREFIX}SHUTDOWN_GRACE_SECONDS must not be negative")
    for cidr in settings.accept_proxy_from:
        try:
            proxy_header.networks([cidr])
        except ValueError:
            errors.append(f"{PREFIX}ACCEPT_PROXY_FROM: {cidr!r} is not a CIDR (e.g. 10.0.0.0/8)")
    if settings.fast_path is FastPathMode.ON and fast_binary(settings) is None:
        errors.append(
            f"{PREFIX}FAST_PATH=on but {PREFIX}FAST_PATH_BINARY ({settings.fast_path_binary!r}) "
            "is not an executable; build router/fastpath or use auto/off"
        )
    if settings.splice_mode is SpliceMode.SPLICE and not splice_available():
        errors.append(f"{PREFIX}SPLICE_MODE=splice needs os.splice (Linux); use stream")
    return errors


def fast_binary(settings: RouterSettings) -> str | None:
    """The fast path's executable to run, or None (off, or auto and not found)."""
    if settings.fast_path is FastPathMode.OFF:
        return None
    return shutil.which(settings.fast_path_binary)


def fast_argv(settings: RouterSettings) -> list[str]:
    """The fast path's flags, from the same settings the Python path reads."""
    return [
        f"-handshake-timeout={settings.handshake_timeout_seconds}s",
        f"-connect-timeout={settings.connect_timeout_seconds}s",
        f"-idle={settings.idle_seconds}s",
        f"-grace={settings.shutdown_grace_seconds}s",
        f"-max-connections={settings.max_connections}",
        # As the Python router reads them (a bare address, a netmask): Go takes only CIDRs.
        "-accept-proxy-from="
        + ",".join(str(net) for net in proxy_header.networks(settings.accept_proxy_from)),
    ]
