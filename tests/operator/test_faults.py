"""The operator under faults: killed mid-work, NATS gone, two replicas."""

from __future__ import annotations

import asyncio

import nats
import pytest

from craftplane.contracts import events as contract
from craftplane.sandbox import nats_server
from craftplane.testing.kubectl import Kubectl
from craftplane.testing.platform import Platform
from craftplane.testing.processes import ManagedProcess
from craftplane.testing.servers import CHILDREN_PER_SERVER, owned_children, phase_of, wait_phase
from craftplane.testing.wait import async_wait_for, wait_for
from tests.operator.conftest import operator_process, server_manifest, stream_events

pytestmark = pytest.mark.cluster


def test_kill_during_burst_converges_without_duplicates(
    kubectl: Kubectl, namespace: str, operator: ManagedProcess
) -> None:
    names = [f"burst-{i:02d}" for i in range(20)]
    kubectl.apply("---\n".join(server_manifest(n) for n in names), namespace)
    # Kill while the operator is part-way: some servers have children, not all are Running.
    wait_for(
        lambda: kubectl.json("get", "statefulset", "-n", namespace)["items"],
        timeout=30,
        what="the first StatefulSet",
    )
    operator.kill()
    operator.start()
    for name in names:
        wait_phase(kubectl, namespace, name, "Running", timeout=90)
    for name in names:
        children = owned_children(kubectl, namespace, name)
        counts = {kind: len(items) for kind, items in children.items()}
        assert counts == CHILDREN_PER_SERVER, (name, counts)


async def test_nats_outage_ends_with_true_phases(
    platform: Platform, kubectl: Kubectl, namespace: str, operator: ManagedProcess
) -> None:
    if platform.sandbox is None:
        pytest.skip("stopping NATS needs the sandbox's NATS")
    cfg = platform.sandbox
    names = [f"outage-{i}" for i in range(5)]
    kubectl.apply("---\n".join(server_manifest(n) for n in names), namespace)
    for name in names:
        wait_phase(kubectl, namespace, name, "Running")

    nats_server.stop(cfg)
    try:
        for name in names:
            kubectl.run(
                "patch",
                "mcs",
                "-n",
                namespace,
                name,
                "--type=merge",
                "-p",
                '{"spec": {"stopped": true}}',
            )
        # Status keeps being written without NATS.
        for name in names:
            wait_phase(kubectl, namespace, name, "Stopped")
        assert operator.metric("craftplane_operator_nats_connected") == 0
    finally:
        nats_server.start(cfg)

    nc = await nats.connect(platform.nats_url)
    try:

        async def last_phases() -> dict[str, str] | None:
            latest: dict[str, str] = {}
            for event in await stream_events(nc, namespace):
                if event.phase is not None and event.server and event.server.name:
                    latest[event.server.name] = event.phase.value
            return latest if all(latest.get(n) == "Stopped" for n in names) else None

        latest = await async_wait_for(last_phases, timeout=60, what="stream ends Stopped")
        assert {n: latest[n] for n in names} == {n: phase_of(kubectl, namespace, n) for n in names}
    finally:
        await nc.close()


async def test_two_replicas_one_publishes_and_hands_over(
    platform: Platform, kubectl: Kubectl, namespace: str, operator: ManagedProcess
) -> None:
    wait_for(
        lambda: operator.metric("craftplane_operator_leader") == 1,
        timeout=60,
        what="the session operator leads",
    )
    standby = operator_process(platform, 1).start()
    try:
        await asyncio.sleep(3)  # a standby that would (wrongly) lead would do so by now
        assert operator.metric("craftplane_operator_leader") == 1
        assert standby.metric("craftplane_operator_leader") == 0

        kubectl.apply(server_manifest("first"), namespace)
        wait_phase(kubectl, namespace, "first", "Running")
        assert standby.metric("craftplane_operator_events_published_total") == 0
        assert standby.metric("craftplane_operator_reconcile_seconds_count") == 0

        operator.kill()
        wait_for(
            lambda: standby.metric("craftplane_operator_leader") == 1,
            timeout=60,
            what="standby takes over",
        )
        kubectl.apply(server_manifest("second"), namespace)
        wait_phase(kubectl, namespace, "second", "Running", timeout=60)
        assert standby.metric("craftplane_operator_events_published_total") > 0

        nc = await nats.connect(platform.nats_url)
        try:
            events = await stream_events(nc, namespace)
        finally:
            await nc.close()
        ids = [e.id for e in events]
        assert len(ids) == len(set(ids)), "an event was stored twice"
        running = [e for e in events if e.type is contract.EventType.K8S_RUNNING]
        assert {e.server.name for e in running if e.server} == {"first", "second"}
    finally:
        standby.terminate()
