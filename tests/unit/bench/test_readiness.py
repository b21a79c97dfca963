"""The operator and scale benchmarks time both sides to one signal, each server pod's Ready
condition, and print the control plane's client limits they ran under."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from bench.readiness import FirstSeen, describe_limits, ready_server, running_server, spread
from bench.scale import burst_allowance

from craftplane.contracts.names import LABEL_SERVER
from tests.unit.watchfakes import WatchedApi, line

pytestmark = pytest.mark.unit


def pod(server: str | None, ready: str | None, *, deleting: bool = False) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "name": f"{server}-0",
        "labels": {LABEL_SERVER: server} if server else {},
    }
    if deleting:
        meta["deletionTimestamp"] = "2025-01-01T00:00:00Z"
    conditions = [{"type": "PodScheduled", "status": "True"}]
    if ready is not None:
        conditions.append({"type": "Ready", "status": ready})
    return {"metadata": meta, "status": {"conditions": conditions}}


def test_a_server_is_ready_when_its_pod_s_ready_condition_is_true() -> None:
    assert ready_server(pod("mc-00001", "True")) == "mc-00001"
    assert ready_server(pod("mc-00001", "False")) is None
    assert ready_server(pod("mc-00001", None)) is None
    assert ready_server(pod("mc-00001", "True", deleting=True)) is None
    assert ready_server(pod(None, "True")) is None  # not a server's pod
    assert ready_server({"metadata": {"labels": {LABEL_SERVER: "x"}}}) is None  # no status yet


def test_the_platform_s_running_is_the_cr_phase() -> None:
    assert running_server({"metadata": {"name": "a"}, "status": {"phase": "Running"}}) == "a"
    assert running_server({"metadata": {"name": "a"}, "status": {"phase": "Starting"}}) is None
    assert running_server({"metadata": {"name": "a"}}) is None


def test_the_first_time_a_server_was_seen_ready_is_kept() -> None:
    ticks = iter([10.0, 11.0, 12.0, 13.0])
    seen = FirstSeen("Pod", "ns", ready_server, clock=lambda: next(ticks))
    seen._on_list([pod("a", "False"), pod("b", "True")])  # b at 10
    seen._on_change("MODIFIED", pod("a", "True"))  # a at 11
    seen._on_change("MODIFIED", pod("b", "True"))  # again: b stays at 10
    seen._on_change("DELETED", pod("c", "True"))  # a deleted pod is no readiness
    seen._on_list([pod("a", "True"), pod("b", "True")])  # a list after 410 Gone
    assert seen.seen == {"b": 10.0, "a": 11.0}


def test_spread_is_per_server_seen_on_both_sides() -> None:
    created = {"a": 1.0, "b": 2.0, "c": 3.0}
    assert sorted(spread(created, {"a": 1.5, "b": 4.0})) == [0.5, 2.0]


def test_the_limits_in_effect_are_printed_with_the_defaults_named() -> None:
    line = describe_limits(
        {
            "kube-controller-manager": {"kube-api-qps": "200", "kube-api-burst": "400"},
            "kube-scheduler": {},
        }
    )
    assert "kube-controller-manager QPS 200 burst 400" in line
    assert "kube-scheduler QPS 50 (its default) burst 100 (its default)" in line
    assert "CRAFTPLANE_KUBE_API_QPS" in line


def test_the_gateway_lets_one_token_create_every_server_at_once() -> None:
    assert burst_allowance(10_000) == {
        "CRAFTPLANE_GATEWAY_WRITE_RATE": "10000",
        "CRAFTPLANE_GATEWAY_WRITE_BURST": "10000",
    }
    # Never below the gateway's own defaults (10/s, bursts of 20).
    assert burst_allowance(5) == {
        "CRAFTPLANE_GATEWAY_WRITE_RATE": "10",
        "CRAFTPLANE_GATEWAY_WRITE_BURST": "20",
    }


class Api(WatchedApi):
    closed = False

    async def close(self) -> None:
        self.closed = True


PODS = "/api/v1/namespaces/bench-base-1/pods"


async def test_the_pods_of_the_namespace_are_watched_until_all_are_ready() -> None:
    api = Api()
    api.listings[PODS] = ([pod("a", "True")], "5")
    api.push(PODS, [line("MODIFIED", pod("b", "True"))])

    async def connect() -> Any:
        return api

    watch = FirstSeen(
        "Pod", "bench-base-1", ready_server, label_selector=LABEL_SERVER, connect=connect
    )
    async with watch:
        await asyncio.wait_for(watch.wait(2, "pods Ready", timeout=30), timeout=30)
        with pytest.raises(SystemExit, match="only 2/3 within 0s"):
            await watch.wait(3, "pods Ready", timeout=0.05)
    assert set(watch.seen) == {"a", "b"}
    assert api.lists[0] == (PODS, {"labelSelector": LABEL_SERVER})
    assert api.watched(PODS)[0]["resourceVersion"] == "5"
    assert api.closed


async def test_a_dead_process_ends_the_wait() -> None:
    watch = FirstSeen("Pod", "ns", ready_server)

    class Died(Exception):
        pass

    def check() -> None:
        raise Died("the operator exited")

    with pytest.raises(Died):
        await asyncio.wait_for(watch.wait(1, "pods Ready", timeout=30, check=check), timeout=30)
