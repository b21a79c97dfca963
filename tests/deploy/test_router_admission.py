"""The router's one write, as the API server judges it: with the router's identity (impersonated),
a merge patch of the two wake annotations is admitted, and anything more is refused by the
ValidatingAdmissionPolicy craftplane-router-wake (RBAC alone would allow any patch)."""

from __future__ import annotations

import json
import secrets
import subprocess
from typing import Any

import pytest

from craftplane.contracts.hibernation import WAKE_REQUEST_ANNOTATION, WAKE_REQUESTER_ANNOTATION
from craftplane.contracts.router_admission import NAME, ROUTER_USER
from craftplane.testing.admission import wait_admitted
from craftplane.testing.kubectl import Kubectl
from craftplane.testing.wait import wait_for
from tests.deploy.conftest import Installed
from tests.operator.conftest import server_manifest

pytestmark = pytest.mark.cluster

WAKE = {WAKE_REQUEST_ANNOTATION: "2025-01-01T12:00:00Z", WAKE_REQUESTER_ANNOTATION: "join:Steve"}


def _as_router(
    kubectl: Kubectl, namespace: str, name: str, patch: dict[str, Any]
) -> subprocess.CompletedProcess[str]:
    return kubectl.run(
        "patch", "mcs", name, "-n", namespace, "--type=merge", "-p", json.dumps(patch),
        f"--as={ROUTER_USER}", check=False,
    )  # fmt: skip


def test_the_router_may_ask_for_a_wake_and_change_nothing_else(
    kubectl: Kubectl, installed: Installed, crds_installed: None
) -> None:
    namespace = installed.tenant_namespace
    name = f"wake-{secrets.token_hex(3)}"
    wait_admitted(kubectl, namespace, server_manifest("admission-probe"))
    kubectl.apply(server_manifest(name), namespace)

    def admitted() -> bool:
        return (
            _as_router(kubectl, namespace, name, {"metadata": {"annotations": WAKE}}).returncode
            == 0
        )

    # RBAC and admission reach the new binding and policy through informers.
    wait_for(admitted, timeout=60, what="the router's wake request admitted")
    body = kubectl.get("minecraftserver", name, namespace)
    assert (
        body is not None
        and body["metadata"]["annotations"][WAKE_REQUESTER_ANNOTATION] == "join:Steve"
    )
    for patch in (
        {"spec": {"stopped": True}},
        {
            "metadata": {
                "annotations": {"craftplane.io/restart-requested-at": "2025-01-01T12:00:00Z"}
            }
        },
        {"metadata": {"annotations": {WAKE_REQUESTER_ANNOTATION: "alice"}}},
        {"metadata": {"annotations": {WAKE_REQUEST_ANNOTATION: "tomorrow"}}},
        {"metadata": {"annotations": {WAKE_REQUEST_ANNOTATION: None}}},
        {"metadata": {"labels": {"craftplane.io/policy": "open"}}},
        {"metadata": {"finalizers": ["example.com/keep"]}},
    ):
        result = _as_router(kubectl, namespace, name, patch)
        assert result.returncode != 0, patch
        assert f"ValidatingAdmissionPolicy '{NAME}'" in result.stderr, (patch, result.stderr)
    refused = kubectl.run(
        "delete", "mcs", name, "-n", namespace, f"--as={ROUTER_USER}", "--wait=false", check=False
    )
    assert refused.returncode != 0 and "forbidden" in refused.stderr.lower()
    kubectl.run("delete", "mcs", name, "-n", namespace, "--wait=false", check=False)
