"""The operator publishes the documented events to JetStream, deduplicated by state."""

from __future__ import annotations

import pytest
from nats.aio.client import Client

from craftplane.contracts import events as contract
from craftplane.testing.kubectl import Kubectl
from craftplane.testing.processes import ManagedProcess
from craftplane.testing.servers import wait_phase
from craftplane.testing.wait import async_wait_for
from tests.operator.conftest import server_manifest, stream_events

pytestmark = pytest.mark.cluster


async def test_lifecycle_events_with_payload_and_dedup(
    kubectl: Kubectl, namespace: str, operator: ManagedProcess, nc: Client
) -> None:
    kubectl.run("label", "namespace", namespace, "craftplane.io/tenant=acme")
    kubectl.apply(server_manifest("announced"), namespace)
    body = wait_phase(kubectl, namespace, "announced", "Running")
    uid = body["metadata"]["uid"]

    async def lifecycle() -> list[contract.Event] | None:
        found = [e for e in await stream_events(nc, namespace) if e.server and e.server.uid == uid]
        types = [e.type for e in found]
        wanted = [
            contract.EventType.SERVER_CREATED,
            contract.EventType.K8S_STARTING,
            contract.EventType.K8S_RUNNING,
        ]
        return found if all(t in types for t in wanted) else None

    found = await async_wait_for(lifecycle, timeout=30, what="created/starting/running events")
    types = [e.type for e in found]
    assert types.index(contract.EventType.SERVER_CREATED) < types.index(
        contract.EventType.K8S_RUNNING
    )
    assert types.index(contract.EventType.K8S_STARTING) < types.index(
        contract.EventType.K8S_RUNNING
    )
    running = next(e for e in found if e.type is contract.EventType.K8S_RUNNING)
    assert running.server is not None
    assert (running.server.namespace, running.server.name, running.server.tenant) == (
        namespace,
        "announced",
        "acme",
    )
    assert running.phase is not None and running.phase.value == "Running"
    assert running.generation == 1
    assert running.address == body["status"]["address"]["host"]
    assert running.port == body["status"]["address"]["port"]
    assert running.reach == body["status"]["address"]["reach"]
    assert running.hostnames == body["status"]["hostnames"]
    assert running.id == contract.msg_id(running)

    # The same state published again is dropped by JetStream.
    js = nc.jetstream()
    ack = await js.publish(
        contract.subject_for(running),
        contract.encode(running),
        headers={"Nats-Msg-Id": running.id},
    )
    assert ack.duplicate
    # Each state was stored once.
    assert types.count(contract.EventType.K8S_RUNNING) == 1

    kubectl.run("delete", "mcs", "-n", namespace, "announced", "--wait=true", timeout=60)

    async def deleted() -> bool:
        return any(
            e.type is contract.EventType.SERVER_DELETED and e.server and e.server.uid == uid
            for e in await stream_events(nc, namespace)
        )

    await async_wait_for(deleted, timeout=30, what="server.deleted event")
