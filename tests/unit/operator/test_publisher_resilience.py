"""The publisher's background loops survive what NATS outages throw at them."""

from __future__ import annotations

import asyncio
import logging

import pytest

from craftplane.supervise import Supervised
from craftplane.testing.wait import async_wait_for
from craftplane_operator.publisher import Publisher

pytestmark = pytest.mark.unit

log = logging.getLogger("test")


async def test_a_loop_that_raises_is_logged_and_restarted(caplog: pytest.LogCaptureFixture) -> None:
    runs: list[int] = []

    async def loop() -> None:
        runs.append(len(runs))
        if len(runs) == 1:
            raise RuntimeError("boom")
        await asyncio.Event().wait()

    supervised = Supervised(loop, name="demo", log=log, restart_after=0.01)

    async def restarted() -> bool:
        return len(runs) == 2

    await async_wait_for(restarted, timeout=5, interval=0.01, what="restart")
    assert supervised.restarts == 1
    assert any("demo failed (boom)" in r.getMessage() for r in caplog.records)
    await supervised.stop()
    assert supervised.restarts == 1, "a cancelled loop is not restarted"
    assert len(runs) == 2


async def test_a_loop_that_returns_is_done() -> None:
    runs: list[int] = []

    async def loop() -> None:
        runs.append(1)

    supervised = Supervised(loop, name="once", log=log, restart_after=0.01)
    await supervised.finished()
    assert runs == [1] and supervised.restarts == 0


async def test_a_reconnect_before_the_first_setup_finished_does_not_release_the_publish_loop() -> (
    None
):
    """A client whose first setup failed half-way (connected, then NATS went away before the
    stream check) can still fire its reconnect callback; publishing must keep waiting for the
    connection the connect loop finishes, not run without one."""
    publisher = Publisher("nats://127.0.0.1:1")
    await publisher._reconnected()
    assert not publisher._connected.is_set()
