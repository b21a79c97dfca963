"""Backup and restore frames: watch lines read, re-lists after 410, the per-object throttle,
and the watch loop forwarding to the right sockets only (fake API server, real hub)."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from craftplane.kube import KubeError
from craftplane_gateway import ws_frames
from craftplane_gateway.backup_changes import (
    Throttle,
    frame_for,
    parse_watch_line,
    relist_changes,
)
from craftplane_gateway.backup_watch import BackupWatch
from craftplane_gateway.hub import Client, Hub
from craftplane_gateway.tenants import TenantNamespaces
from tests.unit.gateway.fakes import FakeNamespaces

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


def line(kind: str, obj: dict[str, Any]) -> str:
    return json.dumps({"type": kind, "object": obj})


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


def test_watch_lines() -> None:
    added = parse_watch_line(line("ADDED", backup("a-1", "a", "7")))
    assert (added.change, added.version, added.object["metadata"]["name"]) == ("added", "7", "a-1")
    bookmark = parse_watch_line(line("BOOKMARK", {"metadata": {"resourceVersion": "9"}}))
    assert (bookmark.change, bookmark.version) == (None, "9")
    gone = parse_watch_line(line("ERROR", {"kind": "Status", "code": 410, "reason": "Expired"}))
    assert (gone.code, gone.version, gone.message) == (410, None, "Expired")
    for bad in ("{", "[]", '{"type": "ADDED"}', '{"object": {}}'):
        with pytest.raises(ValueError):
            parse_watch_line(bad)


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


class WatchCluster(FakeNamespaces):
    """Lists from ``listings`` (path -> objects and a version) and watches that play the
    sessions pushed for their path (a list of lines, then the API server ends the watch; or
    an exception), waiting while there is none."""

    def __init__(self) -> None:
        super().__init__()
        self.tenant("acme").tenant("other")
        self.listings: dict[str, tuple[list[dict[str, Any]], str]] = {}
        self.sessions: dict[str, asyncio.Queue[list[str] | Exception]] = {}
        self.opened: list[tuple[str, dict[str, str]]] = []
        self.lists: list[str] = []

    def push(self, path: str, session: list[str] | Exception) -> None:
        self.sessions.setdefault(path, asyncio.Queue()).put_nowait(session)

    async def request(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        if path.startswith("/api/v1/namespaces/"):
            return await super().request(method, path, **kwargs)
        self.lists.append(path)
        items, version = self.listings.get(path, ([], "1"))
        return {"items": [dict(item) for item in items], "metadata": {"resourceVersion": version}}

    @contextlib.asynccontextmanager
    async def open_lines(
        self, path: str, params: dict[str, str], **_: Any
    ) -> AsyncIterator[AsyncIterator[str]]:
        self.opened.append((path, dict(params)))
        session = await self.sessions.setdefault(path, asyncio.Queue()).get()
        if isinstance(session, Exception):
            raise session

        async def lines() -> AsyncIterator[str]:
            for text in session:
                yield text

        yield lines()


def _frames(client: Client) -> list[dict[str, Any]]:
    frames = []
    while not client.queue.empty():
        frames.append(client.queue.get_nowait()["frame"])
    return frames


async def _until(condition: Any, timeout: float = 2.0) -> None:
    """Wait for a condition over the watch's tasks (queues and fakes together)."""
    for _ in range(int(timeout / 0.005)):
        if condition():
            return
        await asyncio.sleep(0.005)
    raise AssertionError("not reached in time")


def _opened(kube: WatchCluster, path: str) -> int:
    return len([p for p, _ in kube.opened if p == path])


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
    await _until(lambda: not everything.queue.empty())
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
    await _until(lambda: _opened(kube, BACKUPS) == 2)
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
    await _until(lambda: BACKUPS in kube.lists)
    kube.listings[BACKUPS] = ([backup("alpha-1", "alpha", "20", phase="Completed")], "21")
    kube.push(BACKUPS, [line("ERROR", {"kind": "Status", "code": 410, "reason": "Expired"})])
    await _until(lambda: client.queue.qsize() >= 2)
    changes = {(f["change"], f["backup"]["name"]) for f in _frames(client)}
    assert changes == {("modified", "alpha-1"), ("deleted", "alpha-0")}
    await _until(lambda: _opened(kube, BACKUPS) >= 2)
    resumed = [params for path, params in kube.opened if path == BACKUPS][-1]
    assert resumed["resourceVersion"] == "21"


async def test_a_410_answer_and_a_broken_stream_are_survived(
    kube: WatchCluster, hub: Hub, watch: BackupWatch, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = hub.register("acme")
    monkeypatch.setattr("craftplane_gateway.backup_watch.Backoff.failed", lambda self: 0.0)
    await watch.rescan()
    kube.push(BACKUPS, KubeError(410, "too old"))
    kube.push(BACKUPS, ["{not json"])
    kube.push(BACKUPS, KubeError(0, "API server unreachable"))
    kube.push(BACKUPS, [line("DELETED", backup("alpha-1", "alpha", "30"))])
    await _until(lambda: not client.queue.empty())
    [frame] = _frames(client)
    assert (frame["change"], frame["backup"]["name"]) == ("deleted", "alpha-1")
    assert kube.lists.count(BACKUPS) >= 3


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
    await _until(lambda: not client.queue.empty())
    [frame] = _frames(client)
    assert frame["type"] == "restore" and frame["restore"]["phase"] == "Stopping"


async def test_watches_follow_the_tenants_with_sockets(
    kube: WatchCluster, hub: Hub, watch: BackupWatch
) -> None:
    kube.labels["tenant-ghost"] = {}  # a token's tenant whose namespace is not labelled
    await watch.rescan()
    assert watch.watched == set()
    acme = hub.register("acme")
    hub.register("ghost")
    await watch.rescan()
    assert watch.watched == {"tenant-acme"}
    hub.unregister(acme)
    await watch.rescan()
    assert watch.watched == set()
    assert OTHER_BACKUPS not in kube.lists


async def test_the_supervised_loop_runs_and_stops(kube: WatchCluster, hub: Hub) -> None:
    client = hub.register("acme")
    tenants = TenantNamespaces(kube)  # type: ignore[arg-type]
    watcher = BackupWatch(kube, hub, tenants, interval=0.01, rescan_seconds=0.01)  # type: ignore[arg-type]
    watcher.start()
    try:
        await _until(lambda: watcher.watched == {"tenant-acme"})
        kube.push(BACKUPS, [line("ADDED", backup("alpha-1", "alpha", "2"))])
        await _until(lambda: not client.queue.empty())
    finally:
        await watcher.stop()
    assert watcher.watched == set()
