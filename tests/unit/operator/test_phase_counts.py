"""The servers-by-phase gauge follows phase changes and forgotten servers."""

from __future__ import annotations

import pytest

from craftplane.contracts.status import Phase
from craftplane_operator import metrics

pytestmark = pytest.mark.unit


def gauge(phase: Phase) -> float:
    return float(metrics.SERVERS_BY_PHASE.labels(phase=phase.value)._value.get())


def test_counts_move_with_each_server() -> None:
    counts = metrics.ServersByPhase()
    counts.set("ns/a", Phase.STARTING)
    counts.set("ns/b", Phase.STARTING)
    counts.set("ns/a", Phase.RUNNING)
    counts.set("ns/a", Phase.RUNNING)  # unchanged: counted once
    assert (gauge(Phase.STARTING), gauge(Phase.RUNNING)) == (1, 1)
    counts.set("ns/b", None)
    counts.set("ns/unknown", None)
    assert (gauge(Phase.STARTING), gauge(Phase.RUNNING)) == (0, 1)
    assert counts.phases == {"ns/a": Phase.RUNNING}
