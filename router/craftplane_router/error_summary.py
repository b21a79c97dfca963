"""Connection errors, counted and logged as one summary line a minute (pure counting).

A port scanner or a flapping backend would otherwise write a line per connection: the summary
keeps the log readable and bounded, and the metrics still count every one.
"""

from __future__ import annotations

from collections import Counter


class ErrorSummary:
    def __init__(self) -> None:
        self._counts: Counter[str] = Counter()

    def add(self, kind: str) -> None:
        """One error: ``kind`` is a handshake error's reason, or ``connect_failed ns/name``."""
        self._counts[kind] += 1

    def take(self) -> dict[str, int]:
        """The counts since the last take (most frequent first), and start again."""
        counts = dict(self._counts.most_common())
        self._counts.clear()
        return counts
