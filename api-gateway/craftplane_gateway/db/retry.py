"""Transactions that are retried on serialization failure and deadlock.

CockroachDB runs every transaction SERIALIZABLE and asks clients to retry on SQLSTATE 40001;
PostgreSQL reports deadlocks as 40P01. Both mean "nothing was written, run it again".
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from typing import Any, Final, Protocol, TypeAlias, TypeVar

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from craftplane import logs
from craftplane.supervise import Backoff, retry

log = logs.get_logger(__name__)

Conn: TypeAlias = "asyncpg.Connection[asyncpg.Record] | PoolConnectionProxy[asyncpg.Record]"
"""A connection as given by ``asyncpg.connect`` or ``pool.acquire()``."""

RETRYABLE_SQLSTATES: Final = frozenset({"40001", "40P01"})
DEFAULT_ATTEMPTS: Final = 8


class RetryTransaction(asyncpg.SerializationError):
    """Raised inside a transaction that saw a concurrent change and must run again.

    A SerializationError (SQLSTATE 40001) so that, when the attempts run out, callers handle
    it like the database's own serialization failure.
    """


class _Transactional(Protocol):
    def transaction(self) -> AbstractAsyncContextManager[Any]: ...

    def is_in_transaction(self) -> bool: ...


C = TypeVar("C", bound=_Transactional)
T = TypeVar("T")


def is_retryable(exc: BaseException) -> bool:
    """Whether ``exc`` means the transaction was rolled back and may simply run again."""
    return getattr(exc, "sqlstate", None) in RETRYABLE_SQLSTATES


async def in_transaction(
    conn: C,
    work: Callable[[C], Awaitable[T]],
    *,
    attempts: int = DEFAULT_ATTEMPTS,
    base_delay: float = 0.005,
    max_delay: float = 0.5,
) -> T:
    """Run ``work(conn)`` in a transaction, again (with jittered back-off) when it is retryable.

    ``work`` must do nothing outside the database that cannot be repeated: every attempt
    starts from scratch. The connection must not already be in a transaction (a retry inside
    someone else's transaction cannot undo what failed).
    """
    if attempts < 1:
        raise ValueError("attempts must be at least 1")
    if conn.is_in_transaction():
        raise RuntimeError("in_transaction() needs a connection outside any transaction")

    async def attempt() -> T:
        async with conn.transaction():
            return await work(conn)

    return await retry(
        attempt,
        what="transaction",
        log=log,
        errors=asyncpg.PostgresError,
        retryable=is_retryable,
        attempts=attempts,
        backoff=Backoff(initial=base_delay, maximum=max_delay, jitter=0.5),
        level=logging.DEBUG,
    )
