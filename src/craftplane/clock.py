"""The one clock: every "now" in Craftplane is timezone-aware UTC.

Kubernetes and the event envelope both speak UTC; a naive local time compared with one of
their timestamps is off by the host's offset. Code that needs "now" calls `utcnow()` (or takes
it as an argument, as the pure deciders do), rather than defining a `_now` of its own.
"""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC)
