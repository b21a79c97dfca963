"""CatchUp: subscribed clients are brought up to the projection, never back behind it."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from craftplane_gateway import live
from craftplane_gateway.db.models import ServerRow
from craftplane_gateway.frames import order_of
from craftplane_gateway.hub import Hub
from craftplane_gateway.live import CatchUp

pytestmark = pytest.mark.unit

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def row(name: str, status: str, revision: int, tenant: str = "a") -> ServerRow:
    return ServerRow(
        uid=f"u-{name}", tenant=tenant, namespace=f"tenant-{tenant}", name=name, status=status,
        phase=None, generation=1, spec_generation=1, address=None, port=None, players_online=None,
        players_max=None, reason=None, message=None, server_type="PAPER", version="1.21.4",
        created_at=T0, updated_at=T0, deleted_at=None, last_event_id=None,
        last_event_time=T0 + timedelta(seconds=revision), last_revision=revision,
        last_stream_seq=None,
    )  # fmt: skip


class FakePool:
    @contextlib.asynccontextmanager
    async def acquire(self) -> AsyncIterator[None]:
        yield None


async def test_clients_get_rows_newer_than_what_they_were_sent(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rows = {"a": [row("survival", "stopped", 12), row("lobby", "running", 5)], "b": []}
    asked: list[str] = []

    async def snapshot(_: Any, tenant: str, **__: Any) -> list[ServerRow]:
        asked.append(tenant)
        return rows[tenant]

    monkeypatch.setattr(live.queries, "projection_snapshot", snapshot)
    hub = Hub(queue_size=8)
    behind, current, unsynced, other = (hub.register(t) for t in ("a", "a", "a", "b"))
    behind.view = {
        "u-survival": order_of(10, T0),
        "u-lobby": order_of(5, T0 + timedelta(seconds=5)),
    }
    current.view = {"u-survival": order_of(12, T0 + timedelta(seconds=12))}
    current.servers = frozenset({"survival"})
    behind.synced = current.synced = other.synced = True

    catch_up = CatchUp(lambda: FakePool(), hub, every=1)  # type: ignore[arg-type, return-value]
    assert await catch_up.once() == 1
    assert sorted(asked) == ["a", "b"]  # one query per tenant with synced clients
    assert await catch_up.once() == 0  # what it queued is pending: not queued again
    item = behind.queue.get_nowait()
    assert item.uid == "u-survival"
    assert item.frame["server"]["status"] == "stopped"
    assert current.queue.empty() and unsynced.queue.empty() and other.queue.empty()

    assert behind.frame_for(item) is not None  # what the session's sender does
    assert await catch_up.once() == 0


async def test_nothing_without_a_database() -> None:
    hub = Hub()
    hub.register("a").synced = True
    assert await CatchUp(lambda: None, hub, every=1).once() == 0
