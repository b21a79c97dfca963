"""Looking at MinecraftServers and their children the way a user with kubectl would."""

from __future__ import annotations

from typing import Any

from craftplane.testing.kubectl import Kubectl
from craftplane.testing.wait import wait_for

CHILD_KINDS = ("statefulset", "service", "configmap", "secret", "persistentvolumeclaim")
# How many of each a running server has: the game Service and the headless `<name>-pods`.
CHILDREN_PER_SERVER = {kind: 2 if kind == "service" else 1 for kind in CHILD_KINDS}


def phase_of(kubectl: Kubectl, namespace: str, name: str) -> str | None:
    body = kubectl.get("minecraftserver", name, namespace)
    if body is None:
        return None
    phase: str | None = (body.get("status") or {}).get("phase")
    return phase


def wait_phase(
    kubectl: Kubectl, namespace: str, name: str, phase: str, timeout: float = 60
) -> dict[str, Any]:
    def probe() -> dict[str, Any] | None:
        body = kubectl.get("minecraftserver", name, namespace)
        if body and (body.get("status") or {}).get("phase") == phase:
            return body
        return None

    return wait_for(probe, timeout=timeout, what=f"{namespace}/{name} phase {phase}")


def owned_children(kubectl: Kubectl, namespace: str, name: str) -> dict[str, list[dict[str, Any]]]:
    """Every object of the child kinds labelled as belonging to the server."""
    selector = f"craftplane.io/server={name}"
    found: dict[str, list[dict[str, Any]]] = {}
    for kind in CHILD_KINDS:
        items = kubectl.json("get", kind, "-n", namespace, "-l", selector)["items"]
        found[kind] = items
    return found
