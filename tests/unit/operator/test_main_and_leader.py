"""The operator's command line, its readiness, and how a leader gives up its Lease."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from craftplane.kube import KubeError
from craftplane_operator.leader import LeaderElector
from craftplane_operator.main import Readiness, parse_args

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("flag", ["--help", "--version"])
def test_help_and_version_exit_without_starting(
    flag: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        parse_args([flag])
    assert exited.value.code == 0
    out = capsys.readouterr().out
    assert "craftplane-operator" in out
    if flag == "--help":
        assert "CRAFTPLANE_OPERATOR_LEASE_NAME" in out and "NATS_URL" in out


class FakeKube:
    """A Lease store whose reads can be made to fail."""

    def __init__(self) -> None:
        self.lease: dict[str, Any] | None = None
        self.failure: BaseException | None = None

    async def get(self, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        if self.failure is not None:
            raise self.failure
        return None if self.lease is None else {**self.lease, "spec": dict(self.lease["spec"])}

    async def create(self, obj: dict[str, Any]) -> dict[str, Any]:
        self.lease = {**obj, "metadata": {**obj["metadata"], "resourceVersion": "1"}}
        return self.lease

    async def replace(self, obj: dict[str, Any]) -> dict[str, Any]:
        self.lease = obj
        return obj


def elector(kube: FakeKube, identity: str = "a") -> LeaderElector:
    return LeaderElector(
        kube,  # type: ignore[arg-type]
        "ns",
        "lease",
        identity,
        lease_seconds=1,
        renew_every=0.01,
    )


async def test_one_leader_and_a_standby_that_knows_it() -> None:
    kube = FakeKube()
    leader, standby = elector(kube, "a"), elector(kube, "b")
    await leader.acquire()
    assert leader.leading and leader.role_known
    assert not await standby._try_acquire()
    assert standby.role_known and not standby.leading
    await leader.release()
    assert kube.lease is not None and kube.lease["spec"]["holderIdentity"] is None
    assert await standby._try_acquire(), "a released Lease is taken at once"


@pytest.mark.parametrize(
    "failure",
    [KubeError(0, "API server unreachable"), RuntimeError("a bug in the renewal")],
    ids=["renewal fails", "renewal crashes"],
)
async def test_a_leader_that_cannot_renew_gives_up(failure: BaseException) -> None:
    kube = FakeKube()
    leader = elector(kube)
    await leader.acquire()
    kube.failure = failure
    await asyncio.wait_for(leader.lost.wait(), timeout=5)
    assert not leader.leading
    kube.failure = None
    await leader.release()


async def test_readiness_follows_the_role() -> None:
    kube = FakeKube()
    leader = elector(kube)
    stop = asyncio.Event()
    ready = Readiness(leader, stop)
    assert not ready(), "the Lease was never read"
    await leader.acquire()
    assert not ready(), "leading, but the reconcilers are not running yet"

    class Started:
        started = True

    ready.operator = Started()  # type: ignore[assignment]
    assert ready()
    stop.set()
    assert not ready()
    await leader.release()

    standby = elector(FakeKube(), "b")
    standby.role_known = True
    assert Readiness(standby, asyncio.Event())()


async def test_first_of_says_which_finished_and_ends_the_others() -> None:
    from craftplane_operator.main import _first_of

    never = asyncio.Event()
    cleaned = asyncio.Event()

    async def waiting() -> None:
        try:
            await never.wait()
        finally:
            cleaned.set()

    async def done() -> None:
        return None

    assert await _first_of(waiting(), done()) == 1
    assert cleaned.is_set(), "the other wait was cancelled and awaited"
