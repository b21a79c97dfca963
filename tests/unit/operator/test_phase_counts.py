"""The servers-by-phase gauge follows phase changes and forgotten servers."""

from __future__ import annotations

import pytest

from craftplane.contracts.status import Phase
from craftplane_operator import metrics
from craftplane_operator.reconciler import Reconciler

pytestmark = pytest.mark.unit


def gauge(phase: Phase) -> float:
    return float(metrics.SERVERS_BY_PHASE.labels(phase=phase.value)._value.get())


def test_counts_move_with_each_server() -> None:
    reconciler = object.__new__(Reconciler)
    reconciler.phases = {}
    reconciler._phase_counts = dict.fromkeys(Phase, 0)
    reconciler._set_phase("ns/a", Phase.STARTING)
    reconciler._set_phase("ns/b", Phase.STARTING)
    reconciler._set_phase("ns/a", Phase.RUNNING)
    reconciler._set_phase("ns/a", Phase.RUNNING)  # unchanged: counted once
    assert (gauge(Phase.STARTING), gauge(Phase.RUNNING)) == (1, 1)
    reconciler._set_phase("ns/b", None)
    reconciler._set_phase("ns/unknown", None)
    assert (gauge(Phase.STARTING), gauge(Phase.RUNNING)) == (0, 1)
    assert reconciler.phases == {"ns/a": Phase.RUNNING}
