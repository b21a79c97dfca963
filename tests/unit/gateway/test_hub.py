"""The WebSocket fan-out hub: tenant isolation, subscriptions, slow clients, no regressions."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from craftplane.contracts.events import Event, EventType, ServerRef
from craftplane.contracts.status import Phase
from craftplane_gateway.frames import delta_from_event
from craftplane_gateway.hub import Hub

pytestmark = pytest.mark.unit


def event(
    name: str, tenant: str, phase: Phase, revision: str, kind: EventType = EventType.K8S_RUNNING
) -> Event:
    return Event(
        type=kind,
        server=ServerRef(uid=f"u-{name}", namespace=f"tenant-{tenant}", name=name, tenant=tenant),
        phase=phase,
        revision=revision,
        time=datetime.now(UTC),
    )


def test_only_the_tenants_subscribed_clients_receive() -> None:
    hub = Hub(queue_size=8)
    mine, other, picky = hub.register("a"), hub.register("b"), hub.register("a")
    picky.servers = frozenset({"lobby"})
    delta = delta_from_event(event("survival", "a", Phase.RUNNING, "10"))
    assert delta is not None
    assert hub.publish(delta) == 1
    assert mine.queue.qsize() == 1 and other.queue.qsize() == 0 and picky.queue.qsize() == 0


def test_changes_to_one_server_coalesce_instead_of_dropping_the_client() -> None:
    hub = Hub(queue_size=2)
    behind, reading = hub.register("a"), hub.register("a")
    for i in range(50):
        delta = delta_from_event(event("s", "a", Phase.RUNNING, str(i)))
        assert delta is not None
        hub.publish(delta)
        if i == 10:
            reading.queue.get_nowait()  # a client that read once meanwhile
    assert not behind.slow.is_set() and not reading.slow.is_set()
    assert len(behind.queue) == 1 and len(reading.queue) == 1
    pending = behind.queue.get_nowait()
    assert pending.order is not None and pending.order[0] == 49  # the latest state
    assert pending.frame_after(None)["coalesced"] == 50  # type: ignore[index]


def test_a_client_holding_too_many_servers_is_marked_and_others_keep_receiving() -> None:
    hub = Hub(queue_size=2)
    slow, fast = hub.register("a"), hub.register("a")
    for i in range(5):
        delta = delta_from_event(event(f"s{i}", "a", Phase.RUNNING, str(i)))
        assert delta is not None
        hub.publish(delta)
        if len(fast.queue) == 2:
            fast.queue.get_nowait()  # a client that keeps up
    assert slow.slow.is_set()
    assert not fast.slow.is_set()
    assert len(slow.queue) == 2  # bounded: what came after it was marked is not held


def test_late_state_is_not_sent_after_a_newer_one_but_deletion_always_is() -> None:
    hub = Hub()
    client = hub.register("a")
    newer = delta_from_event(event("s", "a", Phase.RUNNING, "20"))
    older = delta_from_event(event("s", "a", Phase.STARTING, "10", EventType.K8S_STARTING))
    deleted = delta_from_event(event("s", "a", Phase.TERMINATING, "5", EventType.SERVER_DELETED))
    assert newer and older and deleted
    assert client.remember(newer.uid, newer.order)
    assert not client.remember(older.uid, older.order)
    assert client.remember(deleted.uid, deleted.order)
    assert deleted.frame["server"]["status"] == "deleted"
