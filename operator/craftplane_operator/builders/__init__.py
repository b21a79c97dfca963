"""Pure builders: a MinecraftServer in, the Kubernetes objects it owns out.

No I/O here. The reconciler server-side-applies what these return, so the
same input must always give the same dict.
"""

from __future__ import annotations

from typing import Any

from craftplane_operator.builders.configmap import build_configmap, config_hash, server_env
from craftplane_operator.builders.context import IncompleteBody, ServerContext
from craftplane_operator.builders.meta import object_meta, owner_reference
from craftplane_operator.builders.restarts import LIVE_SPEC_PATHS, restarts_server
from craftplane_operator.builders.secret import build_secret, existing_password, generate_password
from craftplane_operator.builders.service import build_headless_service, build_service
from craftplane_operator.builders.statefulset import build_statefulset

__all__ = [
    "LIVE_SPEC_PATHS",
    "IncompleteBody",
    "ServerContext",
    "build_children",
    "build_configmap",
    "build_headless_service",
    "build_secret",
    "build_service",
    "build_statefulset",
    "config_hash",
    "existing_password",
    "generate_password",
    "object_meta",
    "owner_reference",
    "restarts_server",
    "server_env",
]


def build_children(server: ServerContext, rcon_password: str) -> list[dict[str, Any]]:
    """Every child, in apply order: what the pod references exists before the pod."""
    configmap = build_configmap(server)
    return [
        build_secret(server, rcon_password),
        configmap,
        build_service(server),
        # Before the StatefulSet it governs (serviceName).
        build_headless_service(server),
        build_statefulset(server, config_hash(configmap)),
    ]
