"""The supervised-loop and retry helpers every background loop and connection uses."""

from __future__ import annotations

import asyncio
import logging

import pytest

from craftplane.supervise import Backoff, Supervised, every, retry, stop_all

pytestmark = pytest.mark.unit

log = logging.getLogger("test.supervise")


def test_backoff_doubles_up_to_its_maximum_and_starts_over_after_a_reset() -> None:
    backoff = Backoff(initial=0.5, maximum=10)
    assert [backoff.failed() for _ in range(7)] == [0.5, 1, 2, 4, 8, 10, 10]
    backoff.reset()
    assert backoff.failed() == 0.5
    assert Backoff(initial=0.5, maximum=60).delay(4) == 4


def test_backoff_jitter_stays_within_its_fraction() -> None:
    backoff = Backoff(initial=1, maximum=1, jitter=0.5)
    delays = [backoff.failed() for _ in range(200)]
    assert all(0.5 <= d <= 1.5 for d in delays)
    assert len(set(delays)) > 1


class Flaky:
    """An operation failing `failures` times with `error`, then answering "ok"."""

    def __init__(self, failures: int, error: BaseException | None = None) -> None:
        self.failures = failures
        self.error = error or OSError("unreachable")
        self.calls = 0

    async def __call__(self) -> str:
        self.calls += 1
        if self.calls <= self.failures:
            raise self.error
        return "ok"


class Sleeps:
    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)


async def test_retry_backs_off_until_the_operation_succeeds(
    caplog: pytest.LogCaptureFixture,
) -> None:
    flaky, sleeps = Flaky(3), Sleeps()
    seen: list[BaseException] = []
    result = await retry(
        flaky,
        what="connecting",
        log=log,
        backoff=Backoff(initial=0.1, maximum=0.3),
        on_failure=seen.append,
        sleep=sleeps,
    )
    assert result == "ok" and flaky.calls == 4
    assert sleeps.delays == [pytest.approx(0.1), pytest.approx(0.2), pytest.approx(0.3)]
    assert len(seen) == 3
    assert any(
        "connecting failed" in r.getMessage() and "retrying" in r.getMessage()
        for r in caplog.records
    )


async def test_retry_gives_up_after_its_attempts() -> None:
    flaky, sleeps = Flaky(5), Sleeps()
    with pytest.raises(OSError, match="unreachable"):
        await retry(flaky, what="x", log=log, attempts=3, sleep=sleeps)
    assert flaky.calls == 3 and len(sleeps.delays) == 2


@pytest.mark.parametrize(
    ("error", "kwargs"),
    [
        (ValueError("not retried"), {"errors": OSError}),
        (OSError("refused"), {"retryable": lambda exc: "refused" not in str(exc)}),
        (asyncio.CancelledError(), {"errors": BaseException}),
    ],
)
async def test_retry_re_raises_at_once_what_it_must_not_retry(
    error: BaseException, kwargs: dict[str, object]
) -> None:
    flaky, sleeps = Flaky(1, error), Sleeps()
    with pytest.raises(type(error)):
        await retry(flaky, what="x", log=log, sleep=sleeps, **kwargs)  # type: ignore[arg-type]
    assert flaky.calls == 1 and sleeps.delays == []


async def test_retry_refuses_zero_attempts() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        await retry(Flaky(0), what="x", log=log, attempts=0)


async def test_every_runs_its_work_and_survives_the_errors_it_expects(
    caplog: pytest.LogCaptureFixture,
) -> None:
    rounds: list[int] = []
    third = asyncio.Event()

    async def work() -> None:
        rounds.append(len(rounds))
        if len(rounds) == 3:
            third.set()
        if len(rounds) == 1:
            raise OSError("database away")

    loop = Supervised(
        every(0, work, what="round skipped", log=log, errors=OSError), name="rounds", log=log
    )
    await asyncio.wait_for(third.wait(), timeout=5)
    await loop.stop()
    assert loop.restarts == 0
    assert any(r.getMessage() == "round skipped: database away" for r in caplog.records)


async def test_every_waits_one_interval_first_unless_immediately() -> None:
    ran = asyncio.Event()

    async def work() -> None:
        ran.set()

    later = Supervised(every(3600, work, what="w", log=log), name="later", log=log)
    now = Supervised(every(3600, work, what="w", log=log, immediately=True), name="now", log=log)
    await asyncio.wait_for(ran.wait(), timeout=5)
    ran.clear()
    await stop_all([later, now])
    assert not ran.is_set()


async def test_a_loop_failing_again_and_again_restarts_later_each_time(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def broken() -> None:
        raise RuntimeError("boom")

    loop = Supervised(
        broken,
        name="broken",
        log=log,
        restart_after=0.001,
        max_restart_after=0.004,
        healthy_after=3600,  # however slow the machine, no run counts as healthy
    )
    for _ in range(4):
        await asyncio.wait_for(loop.restarted(), timeout=5)
    await loop.stop()
    restarts = loop.restarts
    delays = [
        r.args[2]  # type: ignore[index]
        for r in caplog.records
        if r.getMessage().startswith("broken failed")
    ]
    assert delays[:4] == [0.001, 0.002, 0.004, 0.004]
    await asyncio.sleep(0.01)
    assert loop.restarts == restarts, "a stopped loop is not restarted"


async def test_a_loop_that_must_not_restart_reports_its_crash_once() -> None:
    crashed: list[BaseException] = []
    told = asyncio.Event()

    async def renewal() -> None:
        raise RuntimeError("lease gone")

    def on_crash(exc: BaseException) -> None:
        crashed.append(exc)
        told.set()

    loop = Supervised(renewal, name="renew", log=log, restart=False, on_crash=on_crash)
    await asyncio.wait_for(told.wait(), timeout=5)
    await loop.finished()
    assert [str(e) for e in crashed] == ["lease gone"] and loop.restarts == 0


async def test_stop_waits_until_the_loop_has_ended() -> None:
    cleaned = asyncio.Event()
    started = asyncio.Event()

    async def forever() -> None:
        started.set()
        try:
            await asyncio.Event().wait()
        finally:
            await asyncio.sleep(0)  # cleanup that itself awaits
            cleaned.set()

    loops = [Supervised(forever, name=f"l{i}", log=log) for i in range(3)]
    await asyncio.wait_for(started.wait(), timeout=5)
    await stop_all(loops)
    assert cleaned.is_set()


async def test_routine_failures_restart_at_a_constant_pause_without_a_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def flaky() -> None:
        raise ConnectionError("NATS went away")

    loop = Supervised(
        flaky,
        name="consumer",
        log=log,
        restart_after=0.001,
        max_restart_after=0.001,
        level=logging.WARNING,
    )
    for _ in range(3):
        await asyncio.wait_for(loop.restarted(), timeout=5)
    await loop.stop()
    records = [r for r in caplog.records if r.getMessage().startswith("consumer failed")]
    assert {r.args[2] for r in records} == {0.001}  # type: ignore[index]
    assert all(r.levelno == logging.WARNING and r.exc_info is None for r in records)


async def test_a_run_that_was_healthy_starts_the_backoff_over(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def broken() -> None:
        raise RuntimeError("boom")

    # healthy_after=0: every run counts as healthy, so every pause is the first one.
    loop = Supervised(
        broken, name="reset", log=log, restart_after=0.001, max_restart_after=1, healthy_after=0
    )
    for _ in range(3):
        await asyncio.wait_for(loop.restarted(), timeout=5)
    await loop.stop()
    delays = {
        r.args[2]  # type: ignore[index]
        for r in caplog.records
        if r.getMessage().startswith("reset failed")
    }
    assert delays == {0.001}
