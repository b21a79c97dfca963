"""Where the operator pings a server for its players: where a tenant's annotation says only
for an operator outside the cluster."""

from __future__ import annotations

import pytest

from craftplane.contracts.names import PING_TARGET_ANNOTATION
from craftplane.contracts.status import Address, AddressReach, Phase
from craftplane_operator.phase import Derived
from craftplane_operator.players import Target, ping_target
from craftplane_operator.settings import OperatorSettings

pytestmark = pytest.mark.unit

RUNNING = Derived(
    phase=Phase.RUNNING, reason="Running", message="", address=Address(host="10.0.0.7", port=25565)
)
AIMED = {"metadata": {"annotations": {PING_TARGET_ANNOTATION: "victim.other.svc:25565"}}}
SERVICE = Target("10.0.0.7:25565", 20)


def test_an_operator_in_a_pod_ignores_the_annotation() -> None:
    assert ping_target(AIMED, RUNNING, 20, in_cluster=True, annotation=False) == SERVICE


def test_outside_the_cluster_the_annotation_says_where() -> None:
    aimed = Target("victim.other.svc:25565", 20)
    assert ping_target(AIMED, RUNNING, 20, in_cluster=True, annotation=True) == aimed
    assert ping_target(AIMED, RUNNING, 20, in_cluster=False, annotation=True) == aimed
    assert ping_target({"metadata": {}}, RUNNING, 20, in_cluster=False, annotation=True) is None


def test_a_server_not_running_is_not_pinged() -> None:
    stopped = Derived(phase=Phase.STOPPED, reason="Stopped", message="")
    assert ping_target(AIMED, stopped, 20, in_cluster=True, annotation=True) is None


@pytest.mark.parametrize(("in_pod", "honoured"), [(True, False), (False, True)])
def test_the_default_follows_where_the_operator_runs(
    monkeypatch: pytest.MonkeyPatch, in_pod: bool, honoured: bool
) -> None:
    if in_pod:
        monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1")
    else:
        monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    assert OperatorSettings().ping_target_annotation is honoured


ROUTED = Derived(
    phase=Phase.RUNNING,
    reason="Running",
    message="",
    address=Address(host="survival.acme.mc.example.com", port=25565, reach=AddressReach.ROUTER),
)
INTERNAL = {"status": {"internalAddress": {"host": "10.96.0.10", "port": 25565}}}


def test_in_the_cluster_the_cluster_ip_is_pinged_not_the_join_address() -> None:
    body = {"metadata": {}, **INTERNAL}
    assert ping_target(body, ROUTED, 20, in_cluster=True) == Target("10.96.0.10:25565", 20)
    assert ping_target(body, RUNNING, 20, in_cluster=True) == Target("10.96.0.10:25565", 20)


def test_a_router_hostname_alone_is_not_pinged() -> None:
    # It need not resolve inside the cluster; the Service's address is written soon after.
    assert ping_target({"metadata": {}}, ROUTED, 20, in_cluster=True) is None


def test_an_ipv6_cluster_ip_is_pinged_in_brackets() -> None:
    body = {"metadata": {}, "status": {"internalAddress": {"host": "fd00::10", "port": 25565}}}
    assert ping_target(body, RUNNING, 20, in_cluster=True) == Target("[fd00::10]:25565", 20)
