"""The transaction retry wrapper, against a fake connection."""

from __future__ import annotations

from types import TracebackType
from typing import Any

import asyncpg
import pytest

from craftplane_gateway.db.retry import RetryTransaction, in_transaction, is_retryable

pytestmark = pytest.mark.unit


class FakeTransaction:
    def __init__(self, conn: FakeConn) -> None:
        self.conn = conn

    async def __aenter__(self) -> FakeTransaction:
        self.conn.begun += 1
        self.conn.active = True
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.conn.active = False
        if exc is None:
            self.conn.committed += 1
        else:
            self.conn.rolled_back += 1


class FakeConn:
    def __init__(self) -> None:
        self.begun = self.committed = self.rolled_back = 0
        self.active = False

    def transaction(self) -> FakeTransaction:
        return FakeTransaction(self)

    def is_in_transaction(self) -> bool:
        return self.active


def failing(*errors: BaseException) -> Any:
    """Work that raises ``errors`` one per attempt, then answers 42."""
    pending = list(errors)
    calls: list[int] = []

    async def work(conn: FakeConn) -> int:
        assert conn.is_in_transaction()
        calls.append(1)
        if pending:
            raise pending.pop(0)
        return 42

    work.calls = calls  # type: ignore[attr-defined]
    return work


@pytest.mark.parametrize(
    "error",
    [
        asyncpg.SerializationError("could not serialize access"),
        asyncpg.DeadlockDetectedError("deadlock detected"),
        RetryTransaction("a concurrent insert"),
    ],
    ids=["40001", "40P01", "retry-signal"],
)
async def test_retries_once_then_commits(error: BaseException) -> None:
    conn = FakeConn()
    work = failing(error)
    assert await in_transaction(conn, work, base_delay=0) == 42
    assert len(work.calls) == 2
    assert (conn.begun, conn.rolled_back, conn.committed) == (2, 1, 1)


async def test_gives_up_after_the_attempts() -> None:
    conn = FakeConn()
    work = failing(*[asyncpg.SerializationError("again")] * 5)
    with pytest.raises(asyncpg.SerializationError):
        await in_transaction(conn, work, attempts=3, base_delay=0)
    assert len(work.calls) == 3
    assert (conn.rolled_back, conn.committed) == (3, 0)


async def test_other_errors_are_not_retried() -> None:
    conn = FakeConn()
    work = failing(asyncpg.UniqueViolationError("duplicate key"))
    with pytest.raises(asyncpg.UniqueViolationError):
        await in_transaction(conn, work, base_delay=0)
    assert len(work.calls) == 1


async def test_python_errors_are_not_retried() -> None:
    conn = FakeConn()
    work = failing(ValueError("bug"))
    with pytest.raises(ValueError):
        await in_transaction(conn, work, base_delay=0)
    assert len(work.calls) == 1 and conn.rolled_back == 1


async def test_refuses_a_connection_already_in_a_transaction() -> None:
    conn = FakeConn()
    conn.active = True
    with pytest.raises(RuntimeError):
        await in_transaction(conn, failing(), base_delay=0)


def test_retryable_sqlstates() -> None:
    assert is_retryable(asyncpg.SerializationError("x"))
    assert is_retryable(asyncpg.DeadlockDetectedError("x"))
    assert is_retryable(RetryTransaction("x"))
    assert isinstance(RetryTransaction("x"), asyncpg.PostgresError)
    assert not is_retryable(asyncpg.UniqueViolationError("x"))
    assert not is_retryable(OSError("connection reset"))
