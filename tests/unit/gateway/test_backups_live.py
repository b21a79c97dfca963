"""Backup and restore frames: watch lines read, re-lists after 410, the per-object throttle,
and the watch loop forwarding to the right sockets only (fake API server, real hub)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from craftplane.kube import KubeError
from craftplane.testing.wait import until
from craftplane_gateway import ws_frames
from craftplane_gateway.backup_changes import Mirror, Throttle, frame_for, relist_changes
from craftplane_gateway.backup_watch import BackupWatch
from craftplane_gateway.hub import Client, Hub
from craftplane_gateway.tenants import TenantNamespaces
from tests.unit.gateway.fakes import FakeNamespaces
from tests.unit.watchfakes import WatchedApi, line

pytestmark = pytest.mark.unit

BACKUPS = "/apis/craftplane.io/v1alpha1/namespaces/tenant-acme/minecraftbackups"
RESTORES = "/apis/craftplane.io/v1alpha1/namespaces/tenant-acme/minecraftrestores"
OTHER_BACKUPS = "/apis/craftplane.io/v1alpha1/namespaces/tenant-other/minecraftbackups"


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def backup(name: str, server: str, version: str, **status: Any) -> dict[str, Any]:
    return {
        "kind": "MinecraftBackup",
        "metadata": {"name": name, "namespace": "tenant-acme", "resourceVersion": version},
        "spec": {"server": server},
        "status": status,
    }


# --- pure parts ---------------------------------------------------------------------


def test_throttle_sends_the_first_holds_the_rest_and_keeps_the_last() -> None:
    clock = Clock()
    throttle: Throttle[str, int] = Throttle(0.5, clock)
    assert throttle.offer("a", 1) == 1
    assert throttle.offer("a", 2) is None
    assert throttle.offer("a", 3) is None
    assert throttle.offer("b", 1) == 1, "per object"
    clock.now += 0.4
    assert throttle.due() == []
    clock.now += 0.1
    assert throttle.due() == [3]
    assert throttle.offer("a", 4) is None, "sent 0 s ago"
    clock.now += 0.5
    assert throttle.due() == [4]
    clock.now += 0.5
    assert throttle.due() == []
    assert throttle._sent == {}, "quiet objects are forgotten"
    assert throttle.offer("a", 5) == 5


def test_throttle_bounds_frames_per_second() -> None:
    clock = Clock()
    throttle: Throttle[str, int] = Throttle(0.5, clock)
    sent = []
    for step in range(100):  # an update every 10 ms for one second
        clock.now = 100 + step / 100
        got = throttle.offer("a", step)
        sent += [got] if got is not None else []
        sent += throttle.due()
    clock.now += 1
    sent += throttle.due()
    assert len(sent) <= 3 and sent[-1] == 99


def test_a_mirror_says_which_watch_events_and_relists_to_forward() -> None:
    mirror = Mirror()
    assert mirror.listed([backup("a-1", "a", "5")]) == [], "the first list is no news"
    assert mirror.event("ADDED", backup("a-2", "a", "7")) == "added"
    assert mirror.event("MODIFIED", backup("a-1", "a", "8")) == "modified"
    assert mirror.event("BOOKMARK", {"metadata": {"resourceVersion": "9"}}) is None
    assert mirror.event("DELETED", backup("a-2", "a", "10")) == "deleted"
    assert {name: obj["metadata"]["resourceVersion"] for name, obj in mirror.known.items()} == {
        "a-1": "8"
    }
    relisted = mirror.listed([backup("a-1", "a", "8"), backup("a-3", "a", "11")])
    assert [(change, obj["metadata"]["name"]) for change, obj in relisted] == [("added", "a-3")]
    assert set(mirror.known) == {"a-1", "a-3"}


def test_a_relist_says_what_changed_unseen() -> None:
    known = {"a": backup("a", "s", "1"), "b": backup("b", "s", "2"), "c": backup("c", "s", "3")}
    now = [backup("a", "s", "1"), backup("b", "s", "5"), backup("d", "s", "6")]
    changes = [(change, obj["metadata"]["name"]) for change, obj in relist_changes(known, now)]
    assert changes == [("modified", "b"), ("added", "d"), ("deleted", "c")]


def test_frames_are_the_documented_models() -> None:
    progress = {"bytesDone": 5, "bytesTotal": 10}
    server, frame = frame_for(
        "MinecraftBackup",
        "modified",
        backup("a-1", "alpha", "1", phase="Running", progress=progress),
    )
    assert server == "alpha"
    assert frame["type"] == "backup" and frame["change"] == "modified"
    assert frame["backup"]["progress"] == {**progress, "filesDone": 0, "filesTotal": 0}
    assert isinstance(ws_frames.SERVER_FRAME.validate_python(frame), ws_frames.BackupFrame)
    restore = {
        "metadata": {"name": "alpha-restore-1", "namespace": "tenant-acme"},
        "spec": {"server": "beta", "backup": "a-1"},
        "status": {"phase": "Restoring", "progress": progress},
    }
    server, frame = frame_for("MinecraftRestore", "added", restore)
    assert server == "beta" and frame["restore"]["phase"] == "Restoring"
    assert isinstance(ws_frames.SERVER_FRAME.validate_python(frame), ws_frames.RestoreFrame)


# --- the watch loop -----------------------------------------------------------------


class WatchCluster(WatchedApi):
    """The shared fake API's lists and watches, and the namespace reads of the tenant check
    (``namespaces``: tenant-acme and tenant-other)."""

    def __init__(self) -> None:
        super().__init__()
        self.namespaces = FakeNamespaces().tenant("acme").tenant("other")

    async def request(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        if path.startswith("/api/v1/namespaces/"):
            return await self.namespaces.request(method, path, **kwargs)
        return await super().request(method, path, **kwargs)


def _frames(client: Client) -> list[dict[str, Any]]:
    frames = []
    while not client.queue.empty():
        frames.append(client.queue.get_nowait().frame)
    return frames


@pytest.fixture
def kube() -> WatchCluster:
    return WatchCluster()


@pytest.fixture
def hub() -> Hub:
    return Hub(64)


@pytest.fixture
async def watch(kube: WatchCluster, hub: Hub) -> AsyncIterator[BackupWatch]:
    clock = Clock()
    tenants = TenantNamespaces(kube)  # type: ignore[arg-type]
    watcher = BackupWatch(kube, hub, tenants, interval=0.5, clock=clock)  # type: ignore[arg-type]
    watcher.clock = clock  # type: ignore[attr-defined]
    yield watcher
    await watcher.stop()


async def test_changes_reach_the_tenants_sockets_subscribed_to_the_server(
    kube: WatchCluster, hub: Hub, watch: BackupWatch
) -> None:
    everything = hub.register("acme")
    only_beta = hub.register("acme")
    only_beta.servers = frozenset({"beta"})
    stranger = hub.register("other")
    await watch.rescan()
    assert watch.watched == {"tenant-acme", "tenant-other"}
    kube.push(BACKUPS, [line("ADDED", backup("alpha-1", "alpha", "11", phase="Pending"))])
    await until(lambda: not everything.queue.empty())
    [frame] = _frames(everything)
    assert frame["type"] == "backup" and frame["server"] == "alpha"
    assert frame["backup"]["name"] == "alpha-1" and frame["backup"]["phase"] == "Pending"
    assert _frames(only_beta) == [] and _frames(stranger) == []
    # The watch followed from the list's version, with bookmarks.
    _path, params = kube.opened[0]
    assert params["watch"] == "true" and params["allowWatchBookmarks"] == "true"
    assert params["resourceVersion"] == "1"


async def test_progress_is_throttled_per_backup_and_the_last_state_arrives(
    kube: WatchCluster, hub: Hub, watch: BackupWatch
) -> None:
    client = hub.register("acme")
    await watch.rescan()
    kube.push(
        BACKUPS,
        [
            line("MODIFIED", backup("alpha-1", "alpha", str(v), phase="Running", progress=p))
            for v, p in ((12, {"bytesDone": 1}), (13, {"bytesDone": 2}), (14, {"bytesDone": 3}))
        ]
        + [line("MODIFIED", backup("beta-1", "beta", "15", phase="Running"))],
    )
    # Every line was read once the watch is opened again after its session.
    await until(lambda: len(kube.watched(BACKUPS)) == 2)
    first = _frames(client)
    assert [
        (f["backup"]["name"], f["backup"].get("progress", {}).get("bytesDone")) for f in first
    ] == [
        ("alpha-1", 1),
        ("beta-1", None),
    ]
    watch.clock.now += 0.5  # type: ignore[attr-defined]
    assert watch.flush() == 1
    [last] = _frames(client)
    assert last["backup"]["progress"]["bytesDone"] == 3


async def test_an_expired_watch_lists_again_and_forwards_what_it_missed(
    kube: WatchCluster, hub: Hub, watch: BackupWatch
) -> None:
    client = hub.register("acme")
    client.servers = frozenset({"alpha"})
    kube.listings[BACKUPS] = (
        [backup("alpha-0", "alpha", "5"), backup("alpha-1", "alpha", "6")],
        "6",
    )
    await watch.rescan()
    await until(lambda: kube.listed(BACKUPS) > 0)
    kube.listings[BACKUPS] = ([backup("alpha-1", "alpha", "20", phase="Completed")], "21")
    kube.push(BACKUPS, [line("ERROR", {"kind": "Status", "code": 410, "reason": "Expired"})])
    await until(lambda: client.queue.qsize() >= 2)
    changes = {(f["change"], f["backup"]["name"]) for f in _frames(client)}
    assert changes == {("modified", "alpha-1"), ("deleted", "alpha-0")}
    await until(lambda: len(kube.watched(BACKUPS)) >= 2)
    resumed = kube.watched(BACKUPS)[-1]
    assert resumed["resourceVersion"] == "21"


async def test_a_410_answer_and_a_broken_stream_are_survived(
    kube: WatchCluster, hub: Hub, watch: BackupWatch, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = hub.register("acme")
    monkeypatch.setattr("craftplane.supervise.Backoff.failed", lambda self: 0.0)
    await watch.rescan()
    kube.push(BACKUPS, KubeError(410, "too old"))
    kube.push(BACKUPS, ["{not json"])
    kube.push(BACKUPS, KubeError(0, "API server unreachable"))
    kube.push(BACKUPS, [line("DELETED", backup("alpha-1", "alpha", "30"))])
    await until(lambda: not client.queue.empty())
    [frame] = _frames(client)
    assert (frame["change"], frame["backup"]["name"]) == ("deleted", "alpha-1")
    assert kube.listed(BACKUPS) >= 3


async def test_restores_are_forwarded_to_the_target_servers_sockets(
    kube: WatchCluster, hub: Hub, watch: BackupWatch
) -> None:
    client = hub.register("acme")
    client.servers = frozenset({"beta"})
    await watch.rescan()
    restore = {
        "metadata": {"name": "beta-restore-1", "namespace": "tenant-acme", "resourceVersion": "3"},
        "spec": {"server": "beta", "backup": "alpha-1"},
        "status": {"phase": "Stopping"},
    }
    kube.push(RESTORES, [line("ADDED", restore)])
    await until(lambda: not client.queue.empty())
    [frame] = _frames(client)
    assert frame["type"] == "restore" and frame["restore"]["phase"] == "Stopping"


async def test_watches_follow_the_tenants_with_sockets(
    kube: WatchCluster, hub: Hub, watch: BackupWatch
) -> None:
    kube.namespaces.labels["tenant-ghost"] = {}  # a token's tenant whose namespace is not labelled
    await watch.rescan()
    assert watch.watched == set()
    acme = hub.register("acme")
    hub.register("ghost")
    await watch.rescan()
    assert watch.watched == {"tenant-acme"}
    hub.unregister(acme)
    await watch.rescan()
    assert watch.watched == set()
    assert kube.listed(OTHER_BACKUPS) == 0


async def test_the_supervised_loop_runs_and_stops(kube: WatchCluster, hub: Hub) -> None:
    client = hub.register("acme")
    tenants = TenantNamespaces(kube)  # type: ignore[arg-type]
    watcher = BackupWatch(kube, hub, tenants, interval=0.01, rescan_seconds=0.01)  # type: ignore[arg-type]
    watcher.start()
    try:
        await until(lambda: watcher.watched == {"tenant-acme"})
        kube.push(BACKUPS, [line("ADDED", backup("alpha-1", "alpha", "2"))])
        await until(lambda: not client.queue.empty())
    finally:
        await watcher.stop()
    assert watcher.watched == set()
