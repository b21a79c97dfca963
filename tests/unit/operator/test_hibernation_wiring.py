"""Hibernation's I/O in the reconciler: a fresh ping before a server falls asleep (a player who
joined since the last ping keeps it up), and the operator's setting that shortens a minute."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from craftplane.clock import utcnow
from craftplane.contracts.names import FINALIZER
from craftplane.contracts.status import Players
from craftplane.contracts.times import rfc3339
from craftplane_operator.players import PlayerTracker
from craftplane_operator.reconciler import Reconciler
from craftplane_operator.recorder import EventRecorder
from craftplane_operator.settings import OperatorSettings, startup_errors
from craftplane_operator.store import ObjectStore
from craftplane_operator.tenants import TenantDirectory
from tests.unit.operator.factories import NAME, NAMESPACE, cr_body, pod, service, statefulset
from tests.unit.operator.test_reconciler import KEY, FakeApi, Outbox, status

pytestmark = pytest.mark.unit

LONG_AGO = "2025-01-01T00:00:00Z"


class Pinged(PlayerTracker):
    """A tracker whose last count said nobody, and whose next ping says ``fresh``."""

    def __init__(self, fresh: int) -> None:
        super().__init__(lambda key: None, interval=60)
        self.fresh = fresh
        self.pings: list[str] = []
        self._counts[KEY] = Players(online=0, max=20)

    async def ping(self, key: str) -> None:
        self.pings.append(key)
        self._counts[key] = Players(online=self.fresh, max=20)


def _child(kind: str, obj: dict[str, Any]) -> dict[str, Any]:
    obj = {**obj, "kind": kind}
    obj["metadata"] = {"namespace": NAMESPACE, **obj["metadata"]}
    return obj


def _running_server(api: FakeApi, store: ObjectStore, empty_since: str = LONG_AGO) -> None:
    spec = {"hibernation": {"afterEmptyMinutes": 5}}
    cr = cr_body(spec, finalizers=[FINALIZER])
    cr["status"] = {
        "phase": "Running",
        "hibernation": {"state": "Awake", "emptySince": empty_since},
    }
    api.add(cr)
    for kind, obj in (
        ("StatefulSet", statefulset()),
        ("Pod", pod(ready=True)),
        ("Service", service()),
    ):
        store.put(api.add(_child(kind, obj)))


def _reconciler(
    api: FakeApi, store: ObjectStore, players: PlayerTracker, minute: float = 60.0
) -> Reconciler:
    kube: Any = api
    return Reconciler(
        kube,
        store,
        Outbox(),  # type: ignore[arg-type]
        EventRecorder(kube, "test"),
        TenantDirectory(kube),
        players,
        ping_in_cluster=True,
        hibernation_minute=minute,
    )


@pytest.mark.parametrize(
    ("fresh", "phase", "state"), [(0, "Stopped", "Asleep"), (1, "Running", "Awake")]
)
async def test_a_fresh_ping_decides_whether_it_falls_asleep(
    fresh: int, phase: str, state: str
) -> None:
    api, store = FakeApi(), ObjectStore()
    _running_server(api, store)
    players = Pinged(fresh)
    await _reconciler(api, store, players).reconcile(KEY)
    assert players.pings == [KEY]
    written = status(api)
    assert written["phase"] == phase
    assert written["hibernation"]["state"] == state
    body = api.objects["MinecraftServer", NAMESPACE, NAME]
    assert "stopped" not in body["spec"]  # the owner's field, never the operator's


@pytest.mark.parametrize(("minute", "state"), [(60.0, "Awake"), (1.0, "Asleep")])
async def test_the_operators_minute_is_what_the_clock_counts_in(minute: float, state: str) -> None:
    """Empty for 10 s of a 5-"minute" clock: asleep only when a minute is a second."""
    api, store = FakeApi(), ObjectStore()
    _running_server(api, store, rfc3339(utcnow() - timedelta(seconds=10)))
    await _reconciler(api, store, Pinged(0), minute).reconcile(KEY)
    assert status(api)["hibernation"]["state"] == state


def test_a_minute_can_be_shortened_for_tests_but_not_to_nothing() -> None:
    settings = OperatorSettings(hibernation_minute_seconds=0.5)
    assert settings.hibernation_minute_seconds == 0.5
    assert not [e for e in startup_errors(settings) if "HIBERNATION" in e]
    errors = startup_errors(OperatorSettings(hibernation_minute_seconds=0))
    assert "CRAFTPLANE_OPERATOR_HIBERNATION_MINUTE_SECONDS must be greater than 0" in errors
