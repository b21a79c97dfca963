"""Where the operator pings a server for its players: never where a tenant's annotation
says, inside the cluster."""

from __future__ import annotations

import pytest

from craftplane.contracts.names import PING_TARGET_ANNOTATION
from craftplane.contracts.status import Address, Phase
from craftplane_operator.phase import Derived
from craftplane_operator.players import Target, ping_target

pytestmark = pytest.mark.unit

RUNNING = Derived(
    phase=Phase.RUNNING, reason="Running", message="", address=Address(host="10.0.0.7", port=25565)
)
AIMED = {"metadata": {"annotations": {PING_TARGET_ANNOTATION: "victim.other.svc:25565"}}}


def test_in_the_cluster_the_annotation_is_ignored() -> None:
    assert ping_target(AIMED, RUNNING, 20, in_cluster=True) == Target("10.0.0.7:25565", 20)


def test_outside_the_cluster_only_the_annotation_is_reachable() -> None:
    assert ping_target(AIMED, RUNNING, 20, in_cluster=False) == Target("victim.other.svc:25565", 20)
    assert ping_target({"metadata": {}}, RUNNING, 20, in_cluster=False) is None


def test_a_server_not_running_is_not_pinged() -> None:
    stopped = Derived(phase=Phase.STOPPED, reason="Stopped", message="")
    assert ping_target(AIMED, stopped, 20, in_cluster=True) is None
