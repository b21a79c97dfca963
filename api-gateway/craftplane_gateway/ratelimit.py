"""Token buckets per key (the console's per-tenant limit), in this process.

Each replica limits on its own: the limit protects a server's RCON and the gateway from a
runaway client, which a per-replica bucket does (a tenant spread over N replicas gets at most
N times the rate), without a shared store on the request path.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

# Buckets idle long enough to be full again are forgotten once there are this many.
PRUNE_ABOVE: Final = 10_000


@dataclass
class _Bucket:
    tokens: float
    updated: float


@dataclass(frozen=True)
class Verdict:
    """Whether one unit was taken, and if not, after how long one will be there."""

    allowed: bool
    retry_after: float = 0.0

    @property
    def retry_after_seconds(self) -> int:
        """``retry_after`` rounded up to whole seconds (at least 1), for ``Retry-After``."""
        return max(1, math.ceil(self.retry_after - 1e-9))


class TokenBuckets:
    """``rate`` units per second per key, up to ``burst`` at once."""

    def __init__(
        self, rate: float, burst: int, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be positive and burst at least 1")
        self.rate = rate
        self.burst = float(burst)
        self._clock = clock
        self._buckets: dict[str, _Bucket] = {}

    def _refilled(self, key: str, now: float) -> _Bucket:
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= PRUNE_ABOVE:
                self._prune(now)
            bucket = self._buckets[key] = _Bucket(self.burst, now)
            return bucket
        elapsed = max(0.0, now - bucket.updated)
        bucket.tokens = min(self.burst, bucket.tokens + elapsed * self.rate)
        bucket.updated = now
        return bucket

    def _prune(self, now: float) -> None:
        full_after = self.burst / self.rate
        for key in [k for k, b in self._buckets.items() if now - b.updated >= full_after]:
            del self._buckets[key]

    def take(self, key: str) -> Verdict:
        """Take one unit for ``key`` if there is one; the verdict either way."""
        bucket = self._refilled(key, self._clock())
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return Verdict(True)
        return Verdict(False, (1.0 - bucket.tokens) / self.rate)

    def __len__(self) -> int:
        return len(self._buckets)
