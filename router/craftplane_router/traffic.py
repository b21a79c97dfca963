"""What one spliced connection has moved, and when it last moved anything.

Counted in plain integers on the hot path and handed to the metrics in batches: a Prometheus
counter takes a lock per increment, and the data path moves a chunk every few microseconds.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final

TO_SERVER: Final = "to_server"
TO_CLIENT: Final = "to_client"

Flush = Callable[[str, int], None]


@dataclass
class Traffic:
    clock: Callable[[], float]
    last: float = 0.0
    moved: dict[str, int] = field(default_factory=lambda: {TO_SERVER: 0, TO_CLIENT: 0})
    _flushed: dict[str, int] = field(default_factory=lambda: {TO_SERVER: 0, TO_CLIENT: 0})

    def __post_init__(self) -> None:
        self.last = self.clock()

    def add(self, direction: str, count: int) -> None:
        self.moved[direction] += count
        self.last = self.clock()

    def idle_for(self) -> float:
        return self.clock() - self.last

    def flush(self, to: Flush) -> None:
        """Hand what moved since the last flush to ``to(direction, bytes)``."""
        for direction, total in self.moved.items():
            delta = total - self._flushed[direction]
            if delta:
                to(direction, delta)
                self._flushed[direction] = total
