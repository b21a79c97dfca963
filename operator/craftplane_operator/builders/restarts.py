"""Which spec changes restart the server, for the parts that must say so before they apply
(the live allowlist sync, the gateway's warnings, the restart planner).

A change restarts the server exactly when it changes the StatefulSet's pod template (the
StatefulSet controller then replaces the pod); `restarts_server` answers from the builders
themselves, so it cannot drift from what is applied. LIVE_SPEC_PATHS names what is designed
never to restart: applied to the running server over RCON, or only read by the operator.
"""

from __future__ import annotations

from typing import Any, Final

from craftplane_operator.builders.configmap import build_configmap, config_hash
from craftplane_operator.builders.context import ServerContext
from craftplane_operator.builders.statefulset import build_statefulset

# Spec paths (as on the wire) whose changes leave the pod alone.
LIVE_SPEC_PATHS: Final = (
    "allowlist",
    "ops",
    "allowlistMode",
    "lifecycle.announceSeconds",
    "lifecycle.restartSchedule",
    "hibernation",  # read by the operator only: it scales the StatefulSet, the pod stays
)


def pod_template(server: ServerContext) -> dict[str, Any]:
    """The pod template the StatefulSet gets for this server."""
    configmap = build_configmap(server)
    template: dict[str, Any] = build_statefulset(server, config_hash(configmap))["spec"]["template"]
    return template


def restarts_server(before: ServerContext, after: ServerContext) -> bool:
    """Whether going from `before` to `after` replaces a running server's pod.

    Stopping and starting (spec.stopped) is not a restart: it scales, the template stays.
    """
    return pod_template(before) != pod_template(after)
