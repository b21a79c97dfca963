"""Objects the operator does not own are never taken over, and refusals show on the status."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Any

import pytest

from craftplane.testing.kubectl import Kubectl
from craftplane.testing.processes import ManagedProcess
from craftplane.testing.wait import wait_for
from tests.operator.conftest import server_manifest

pytestmark = pytest.mark.cluster


def degraded(kubectl: Kubectl, namespace: str, name: str, reason: str) -> dict[str, Any] | None:
    """The server's Degraded condition once it is True for `reason`."""
    body = kubectl.get("minecraftserver", name, namespace) or {}
    for condition in (body.get("status") or {}).get("conditions") or []:
        if condition.get("type") == "Degraded" and condition.get("status") == "True":
            return condition if condition.get("reason") == reason else None
    return None


def warning_events(kubectl: Kubectl, namespace: str, name: str, reason: str) -> list[str]:
    events = kubectl.json(
        "get",
        "events",
        "-n",
        namespace,
        "--field-selector",
        f"involvedObject.kind=MinecraftServer,involvedObject.name={name},reason={reason}",
    )["items"]
    return [e["message"] for e in events if e.get("type") == "Warning"]


def test_a_secret_of_someone_elses_survives_the_server_that_wanted_its_name(
    kubectl: Kubectl, namespace: str, operator: ManagedProcess
) -> None:
    kubectl.run(
        "create", "secret", "generic", "x-rcon", "-n", namespace, "--from-literal=password=theirs"
    )
    theirs = kubectl.get("secret", "x-rcon", namespace)
    assert theirs is not None
    kubectl.apply(server_manifest("x"), namespace)

    condition = wait_for(
        lambda: degraded(kubectl, namespace, "x", "NameConflict"),
        timeout=30,
        what="x Degraded/NameConflict",
    )
    assert "Secret x-rcon" in condition["message"]
    messages = wait_for(
        lambda: warning_events(kubectl, namespace, "x", "NameConflict"),
        timeout=30,
        what="a NameConflict Warning on x",
    )
    assert any("Secret x-rcon" in m for m in messages)
    # Its pod would have run with someone else's password.
    assert kubectl.get("statefulset", "x", namespace) is None

    def untouched() -> None:
        secret = kubectl.get("secret", "x-rcon", namespace)
        assert secret is not None, "never deleted"
        assert secret["metadata"]["uid"] == theirs["metadata"]["uid"]
        assert secret["data"] == theirs["data"], "never patched"
        assert not secret["metadata"].get("ownerReferences"), "never owner-referenced"
        assert secret["metadata"].get("labels") == theirs["metadata"].get("labels")

    untouched()
    kubectl.run("delete", "minecraftserver", "x", "-n", namespace, "--timeout=60s")
    wait_for(
        lambda: kubectl.get("minecraftserver", "x", namespace) is None,
        timeout=60,
        what="x deleted",
    )
    # The garbage collector's pass over the server's children has run by the time its owned
    # ConfigMap is gone; the Secret, never owned, is still there.
    wait_for(
        lambda: kubectl.get("configmap", "x-config", namespace) is None,
        timeout=60,
        what="x's own ConfigMap collected",
    )
    untouched()


def test_once_the_object_in_the_way_is_removed_the_server_starts(
    kubectl: Kubectl, namespace: str, operator: ManagedProcess
) -> None:
    kubectl.run("create", "configmap", "yard-config", "-n", namespace, "--from-literal=a=b")
    kubectl.apply(server_manifest("yard"), namespace)
    wait_for(
        lambda: degraded(kubectl, namespace, "yard", "NameConflict"),
        timeout=30,
        what="yard Degraded/NameConflict",
    )
    kubectl.run("delete", "configmap", "yard-config", "-n", namespace)

    def owned() -> bool:
        configmap = kubectl.get("configmap", "yard-config", namespace) or {}
        refs = configmap.get("metadata", {}).get("ownerReferences") or []
        return any(r.get("kind") == "MinecraftServer" and r.get("controller") for r in refs)

    # No watch event reports an unlabelled object gone: the periodic resync (10 s) finds it.
    wait_for(owned, timeout=45, what="yard-config created by the operator")
    wait_for(
        lambda: kubectl.get("statefulset", "yard", namespace),
        timeout=30,
        what="yard's StatefulSet",
    )
    wait_for(
        lambda: degraded(kubectl, namespace, "yard", "NameConflict") is None,
        timeout=30,
        what="NameConflict cleared",
    )


@pytest.fixture
def other_namespace(kubectl: Kubectl, namespace: str) -> Iterator[str]:
    """A second tenant's namespace."""
    name = f"{namespace[:50]}-b"
    kubectl.run("create", "namespace", name)
    yield name
    kubectl.run("delete", "namespace", name, "--wait=false", check=False)


def test_a_node_port_another_tenant_holds_is_reported_with_the_api_servers_message(
    kubectl: Kubectl, namespace: str, other_namespace: str, operator: ManagedProcess
) -> None:
    # A port no other test asks for; the API server allocates node ports cluster-wide.
    port = 30000 + secrets.randbelow(2700)
    service = {"type": "NodePort", "nodePort": port}
    kubectl.apply(server_manifest("first", service=service), namespace)
    wait_for(
        lambda: kubectl.get("service", "first", namespace),
        timeout=30,
        what="first's Service holding the port",
    )
    kubectl.apply(server_manifest("second", service=service), other_namespace)

    condition = wait_for(
        lambda: degraded(kubectl, other_namespace, "second", "NodePortTaken"),
        timeout=30,
        what="second Degraded/NodePortTaken",
    )
    assert "already allocated" in condition["message"], condition
    messages = wait_for(
        lambda: warning_events(kubectl, other_namespace, "second", "NodePortTaken"),
        timeout=30,
        what="a NodePortTaken Warning on second",
    )
    assert any("already allocated" in m for m in messages)
    # The first tenant's server is not disturbed.
    assert degraded(kubectl, namespace, "first", "NodePortTaken") is None
    held = kubectl.get("service", "first", namespace)
    assert held is not None and held["spec"]["ports"][0]["nodePort"] == port
