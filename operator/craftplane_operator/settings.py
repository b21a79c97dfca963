"""Operator settings from the environment."""

from __future__ import annotations

import os
import socket

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from craftplane.contracts.quantity import InvalidQuantity, parse_quantity
from craftplane.rcon import Reach
from craftplane.startup import NATS_SCHEMES, url_errors
from craftplane_operator.placement import Placement
from craftplane_operator.routing import (
    RouterConfig,
    domain_error,
    parse_public_address,
    router_config,
)


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
    # The backup Jobs (copy, restore, prune): their image must hold /bin/sh and restic 0.14+.
    backup_image: str = Field(
        default="docker.io/restic/restic:0.14.0",
        description="image of the backup, restore and prune Jobs (/bin/sh and restic)",
    )
    backup_cpu_request: str = "100m"
    backup_memory_request: str = "256Mi"
    backup_cpu_limit: str = "250m"
    backup_memory_limit: str = "512Mi"
    backup_deadline_seconds: int = Field(
        default=6 * 3600,
        description="activeDeadlineSeconds of a backup, restore or prune Job",
    )
    backup_progress_seconds: float = Field(
        default=5.0, description="how often a running Job's log is read for its progress"
    )
    backup_verify_deadline_seconds: int = Field(
        default=600,
        description="how long a verification's scratch server has to restore and reach Running",
    )
    restore_start_deadline_seconds: int = Field(
        default=900, description="how long a restored server has to reach Running again"
    )
    backup_workers: int = 4
    # Shared with the router (the same names in its settings), hence no operator prefix.
    game_domain: str = Field(
        default="",
        validation_alias=AliasChoices("CRAFTPLANE_GAME_DOMAIN", "game_domain"),
        description=(
            "DNS domain of the servers' canonical hostnames <server>.<tenant>.<domain> (e.g. "
            "mc.example.com, its wildcard pointed at the router); empty: none"
        ),
    )
    router_public_address: str = Field(
        default="",
        validation_alias=AliasChoices("CRAFTPLANE_ROUTER_PUBLIC_ADDRESS", "router_public_address"),
        description=(
            "host or host:port (default port 25565) players reach the router at; ClusterIP "
            "servers then report their hostname and this port as status.address. Empty: no "
            "router"
        ),
    )
    hibernation_minute_seconds: float = Field(
        default=60.0,
        description=(
            "seconds in a minute of spec.hibernation.afterEmptyMinutes: 60; tests shorten it "
            "so a server hibernates in seconds"
        ),
    )
    hibernation_day_seconds: float = Field(
        default=86400.0,
        description=(
            "seconds in a day of spec.hibernation.archiveAfterDays: 86400; tests shorten it "
            "so a server is archived in seconds"
        ),
    )
    http_port: int = 8090
    http_host: str = "0.0.0.0"
    log_level: str = "INFO"

    @property
    def routing(self) -> RouterConfig:
        return router_config(self.game_domain, self.router_public_address)


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
    if settings.hibernation_day_seconds <= 0:
        errors.append(
            "CRAFTPLANE_OPERATOR_HIBERNATION_DAY_SECONDS must be positive (a server with "
            "spec.hibernation.archiveAfterDays would be archived as soon as it sleeps)"
        )
    if settings.hibernation_minute_seconds <= 0:
        # Every server with spec.hibernation would hibernate at its first empty ping.
        errors.append("CRAFTPLANE_OPERATOR_HIBERNATION_MINUTE_SECONDS must be greater than 0")
    return errors + routing_errors(settings) + backup_errors(settings)


def routing_errors(settings: OperatorSettings) -> list[str]:
    """The game domain and the router's address: a bad one would name no server correctly."""
    errors = []
    problem = domain_error(settings.game_domain)
    if problem is not None:
        errors.append(f"CRAFTPLANE_GAME_DOMAIN: {problem}")
    if settings.router_public_address.strip():
        try:
            parse_public_address(settings.router_public_address)
        except ValueError as exc:
            errors.append(f"CRAFTPLANE_ROUTER_PUBLIC_ADDRESS: {exc}")
    return errors


def backup_errors(settings: OperatorSettings) -> list[str]:
    """The backup Jobs' settings: a bad one would only fail when the first backup runs."""
    errors = []
    image = settings.backup_image
    if not image or any(c.isspace() for c in image):
        errors.append("CRAFTPLANE_OPERATOR_BACKUP_IMAGE must be one image reference")
    amounts = {}
    for field in ("cpu_request", "memory_request", "cpu_limit", "memory_limit"):
        value = getattr(settings, f"backup_{field}")
        try:
            amounts[field] = parse_quantity(value)
        except InvalidQuantity:
            errors.append(f"CRAFTPLANE_OPERATOR_BACKUP_{field.upper()} is not a quantity: {value}")
    for resource in ("cpu", "memory"):
        request, limit = amounts.get(f"{resource}_request"), amounts.get(f"{resource}_limit")
        if request is not None and limit is not None and request > limit:
            errors.append(
                f"CRAFTPLANE_OPERATOR_BACKUP_{resource.upper()}_REQUEST must not exceed "
                f"CRAFTPLANE_OPERATOR_BACKUP_{resource.upper()}_LIMIT"
            )
    for field in (
        "backup_deadline_seconds",
        "backup_progress_seconds",
        "backup_verify_deadline_seconds",
        "restore_start_deadline_seconds",
        "backup_workers",
    ):
        if getattr(settings, field) <= 0:
            errors.append(f"CRAFTPLANE_OPERATOR_{field.upper()} must be greater than 0")
    return errors
