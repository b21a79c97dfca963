"""Polling while NATS is down must always yield to the loop, even in the moment nats-py says
it is connected again before our reconnected callback has run (a busy loop there once froze
the whole gateway)."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest

from craftplane.testing.wait import until
from craftplane_gateway.hub import Hub
from craftplane_gateway.reconcile import ClusterSync

pytestmark = pytest.mark.unit


class ReconnectingLink:
    """Reconnected as far as nats-py knows; the reconnected callback not run yet."""

    def __init__(self) -> None:
        self.connected = asyncio.Event()
        self.disconnected = asyncio.Event()
        self.disconnected.set()
        self.is_connected = True
        self.js = None


def _scenario(result: dict[str, Any]) -> None:
    async def run() -> None:
        link = ReconnectingLink()
        sync = ClusterSync(
            None,  # type: ignore[arg-type]
            lambda: None,
            link,  # type: ignore[arg-type]
            Hub(10),
            drift_seconds=60,
            poll_seconds=0.01,
        )
        polls = 0

        async def polled(*, broadcast: bool) -> list[dict[str, Any]]:
            nonlocal polls
            polls += 1
            return []

        sync.sync_once = polled  # type: ignore[method-assign]
        # The reconnected callback, as nats-py schedules it: it needs the loop to get a turn.
        asyncio.get_running_loop().call_later(0.05, link.disconnected.clear)
        task = asyncio.create_task(sync._fallback_loop())
        # Reached only if the loop yields: a spinning loop never lets this task run again.
        await until(lambda: not link.disconnected.is_set(), timeout=5, what="reconnect noticed")
        polled_while_down = polls
        await asyncio.sleep(0.1)  # ten poll intervals, in which it must not poll again
        result["waiting"] = not task.done()
        result["polls"] = polled_while_down
        result["polls_after"] = polls - polled_while_down
        task.cancel()

    asyncio.run(run())


def test_the_fallback_loop_yields_while_the_reconnect_is_being_noticed() -> None:
    result: dict[str, Any] = {}
    # In a thread of its own: a loop that never yields would hang this test's loop for good.
    thread = threading.Thread(target=_scenario, args=(result,), daemon=True)
    thread.start()
    thread.join(timeout=10)
    assert not thread.is_alive(), "the fallback loop spun without yielding"
    assert result["waiting"]
    assert result["polls"] >= 1  # it polled while the link still counted as down
    assert result["polls_after"] <= 1  # and stopped once the reconnect was noticed
