"""Invalid MinecraftServers are refused by the API server, naming the field; nothing is created."""

from __future__ import annotations

from typing import Any

import pytest

from craftplane.testing.kubectl import Kubectl
from craftplane.testing.servers import owned_children
from tests.operator.conftest import server_manifest

pytestmark = pytest.mark.cluster

CASES: list[tuple[str, dict[str, Any], str]] = [
    ("unknown-type", {"type": "BEDROCKISH"}, "spec.type"),
    ("negative-memory", {"resources": {"memory": "-2Gi"}}, "spec.resources.memory"),
    ("malformed-memory", {"resources": {"memory": "lots"}}, "spec.resources.memory"),
    ("no-eula", {"eula": False}, "spec.eula"),
    ("bad-storage", {"storage": {"size": "ten gigs"}}, "spec.storage.size"),
    ("reserved-env", {"env": [{"name": "EULA", "value": "FALSE"}]}, "spec.env"),
]


@pytest.mark.parametrize(("name", "spec", "field"), CASES, ids=[c[0] for c in CASES])
def test_invalid_server_is_refused(
    kubectl: Kubectl, namespace: str, name: str, spec: dict[str, Any], field: str
) -> None:
    result = kubectl.run(
        "apply", "-n", namespace, "-f", "-", stdin=server_manifest(name, **spec), check=False
    )
    assert result.returncode != 0
    assert field in result.stderr, result.stderr
    assert kubectl.get("minecraftserver", name, namespace) is None
    assert all(not items for items in owned_children(kubectl, namespace, name).values())


def test_explain_teaches_the_fields(kubectl: Kubectl, crds_installed: None) -> None:
    out = kubectl.run("explain", "minecraftserver.spec.storage").stdout
    assert "retainOnDelete" in out
    assert "DESCRIPTION" in out
