"""Two servers asking for one custom hostname: the older holds it, the younger is told why
(condition and Warning event), and gets it as soon as the older one is deleted: the watch of
one server re-reconciles the other."""

from __future__ import annotations

from typing import Any

import pytest

from craftplane.contracts.service import MC_ROUTER_HOSTNAMES
from craftplane.testing.kubectl import Kubectl
from craftplane.testing.processes import ManagedProcess
from craftplane.testing.wait import wait_for
from tests.operator.conftest import server_manifest

pytestmark = pytest.mark.cluster

# creationTimestamp has whole seconds: servers created in the same second are ordered by
# namespace/name, which these names agree with.
ELDER, YOUNGER = "a-elder", "b-younger"


def accepted(kubectl: Kubectl, namespace: str, name: str) -> dict[str, Any] | None:
    body = kubectl.get("minecraftserver", name, namespace)
    conditions = ((body or {}).get("status") or {}).get("conditions") or []
    return next((c for c in conditions if c.get("type") == "HostnamesAccepted"), None)


def routed(kubectl: Kubectl, namespace: str, name: str) -> tuple[list[str], str]:
    """status.hostnames and what the Service's mc-router annotation says."""
    body = kubectl.get("minecraftserver", name, namespace) or {}
    service = kubectl.get("service", name, namespace) or {}
    annotations = (service.get("metadata") or {}).get("annotations") or {}
    return (body.get("status") or {}).get("hostnames") or [], annotations.get(
        MC_ROUTER_HOSTNAMES, ""
    )


def test_the_oldest_claim_holds_a_hostname_and_hands_it_on(
    kubectl: Kubectl, namespace: str, operator: ManagedProcess
) -> None:
    shop = f"shop.{namespace}.example.com"
    asking = {"service": {"hostnames": [shop]}}
    kubectl.apply(server_manifest(ELDER, **asking), namespace)
    wait_for(
        lambda: (c := accepted(kubectl, namespace, ELDER)) and c["status"] == "True",
        timeout=60,
        what="the elder granted its hostname",
    )
    wait_for(
        lambda: shop in routed(kubectl, namespace, ELDER)[1].split(","),
        timeout=60,
        what="the elder's Service to name it for mc-router",
    )
    assert shop in routed(kubectl, namespace, ELDER)[0]

    kubectl.apply(server_manifest(YOUNGER, **asking), namespace)
    refused = wait_for(
        lambda: (c := accepted(kubectl, namespace, YOUNGER)) and c["status"] == "False" and c,
        timeout=60,
        what="the younger server refused the hostname",
    )
    assert refused["reason"] == "Taken" and shop in refused["message"]
    hostnames, annotation = routed(kubectl, namespace, YOUNGER)
    assert shop not in hostnames and shop not in annotation.split(",")
    selector = f"involvedObject.name={YOUNGER},reason=HostnameTaken"
    wait_for(
        lambda: kubectl.json("get", "events", "-n", namespace, "--field-selector", selector)[
            "items"
        ],
        timeout=30,
        what="a HostnameTaken Warning event",
    )

    kubectl.run("delete", "minecraftserver", ELDER, "-n", namespace, "--wait=false")
    wait_for(
        lambda: (c := accepted(kubectl, namespace, YOUNGER)) and c["status"] == "True",
        timeout=60,
        what="the younger server granted the hostname once the elder is gone",
    )
    wait_for(
        lambda: shop in routed(kubectl, namespace, YOUNGER)[1].split(","),
        timeout=60,
        what="the younger server's Service to name it",
    )
    assert shop in routed(kubectl, namespace, YOUNGER)[0]
