"""Operator settings from the environment."""

from __future__ import annotations

import os
import socket

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from craftplane.rcon import Reach
from craftplane.startup import NATS_SCHEMES, url_errors
from craftplane_operator.placement import Placement


def _identity() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


class OperatorSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CRAFTPLANE_OPERATOR_", extra="ignore")

    nats_url: str = Field(
        default="nats://127.0.0.1:4222", validation_alias=AliasChoices("NATS_URL", "nats_url")
    )
    lease_namespace: str = Field(
        default="craftplane-system",
        validation_alias=AliasChoices("CRAFTPLANE_OPERATOR_LEASE_NAMESPACE", "POD_NAMESPACE"),
    )
    lease_name: str = "craftplane-operator"
    lease_seconds: int = 15
    identity: str = Field(default_factory=_identity)
    namespaces: list[str] = Field(
        default_factory=list, description="namespaces to watch; empty means the whole cluster"
    )
    workers: int = 16
    resync_seconds: float = 60.0
    ping_interval: float = 10.0
    ping_in_cluster: bool = Field(
        default_factory=lambda: bool(os.environ.get("KUBERNETES_SERVICE_HOST")),
        description="ping servers at their cluster address (only reachable from inside)",
    )
    # The craftplane.io/ping-target annotation is the tenant's to write: honoured only by an
    # operator outside the cluster (the sandbox, pinging stand-ins), never by one in a pod,
    # where it would aim the operator's pings at any host and port and spoof player lists.
    ping_target_annotation: bool = Field(
        default_factory=lambda: not os.environ.get("KUBERNETES_SERVICE_HOST"),
        description="ping a server where its craftplane.io/ping-target annotation says",
    )
    placement: Placement | None = Field(
        default=None,
        description=(
            "JSON: where servers of chosen namespaces run (nodeSelector, tolerations, "
            "storageClassName) and the image for those that leave spec.image at its default"
        ),
    )
    rcon_reach: Reach = Field(
        default=Reach.DNS,
        description="how RCON finds a server's pod: dns (in the cluster) or pod-ip",
    )
    allowlist_seconds: float = Field(
        default=60.0,
        description="how often a Running server's allowlist is re-read to notice drift",
    )
    policy_cache_seconds: float = Field(
        default=30.0,
        description=(
            "how long a CraftplanePolicy read is reused: an admin's edit reaches every server "
            "within this plus one resync"
        ),
    )
    policy_binding_seconds: float = Field(
        default=15.0,
        description=(
            "how often the leader compares the CraftplanePolicies with the unknown-policy "
            "binding: a new policy can be named, and a deleted one is refused, within this"
        ),
    )
    http_port: int = 8090
    http_host: str = "0.0.0.0"
    log_level: str = "INFO"


def startup_errors(settings: OperatorSettings) -> list[str]:
    """What keeps these settings from running, each naming its environment variable."""
    errors = url_errors("NATS_URL", settings.nats_url, NATS_SCHEMES, host=True)
    if settings.workers < 1:
        # No worker would take a key off the queue: every server would wait forever.
        errors.append("CRAFTPLANE_OPERATOR_WORKERS must be at least 1")
    if settings.allowlist_seconds <= 0:
        # A zero period would re-read every allowlist in a tight loop.
        errors.append("CRAFTPLANE_OPERATOR_ALLOWLIST_SECONDS must be greater than 0")
    if settings.policy_cache_seconds < 0:
        errors.append("CRAFTPLANE_OPERATOR_POLICY_CACHE_SECONDS must not be negative")
    if settings.policy_binding_seconds <= 0:
        # A zero period would list every policy in a tight loop.
        errors.append("CRAFTPLANE_OPERATOR_POLICY_BINDING_SECONDS must be greater than 0")
    return errors
