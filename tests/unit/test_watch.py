"""The list+watch loop every component's watch is built on: watch lines read, a list then a
watch from its version, bookmarks, 410 Gone lists again, failures retried."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest

from craftplane.kube import KubeError, Obj
from craftplane.testing.wait import until
from craftplane.watch import ListWatch, parse_line
from tests.unit.watchfakes import WatchedApi, line

pytestmark = pytest.mark.unit

BACKUPS = "/apis/craftplane.io/v1alpha1/namespaces/tenant-acme/minecraftbackups"


def obj(name: str, version: str) -> dict[str, Any]:
    return {"metadata": {"name": name, "resourceVersion": version}}


@pytest.mark.parametrize(
    "text", ["[]", '{"type": 1}', '{"type": "ADDED"}', '{"object": {}}', "nope", "{"]
)
def test_a_line_that_is_not_a_watch_event_is_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_line(text)


@pytest.mark.parametrize(
    ("kind", "carried", "version", "code", "message"),
    [
        ("ADDED", obj("a", "7"), "7", 0, "watch error"),
        ("BOOKMARK", {"metadata": {"resourceVersion": "9"}}, "9", 0, "watch error"),
        ("MODIFIED", {"metadata": {"resourceVersion": 9}}, "", 0, "watch error"),
        # An ERROR carries a Status: its version is not one to resume from.
        ("ERROR", {"code": 410, "metadata": {"resourceVersion": "9"}}, "", 410, "watch error"),
        ("ERROR", {"kind": "Status", "code": 410, "reason": "Expired"}, "", 410, "Expired"),
        ("ERROR", {"code": "500", "message": "boom", "reason": "x"}, "", 0, "boom"),
    ],
)
def test_what_a_watch_event_says(
    kind: str, carried: dict[str, Any], version: str, code: int, message: str
) -> None:
    event = parse_line(line(kind, carried))
    assert (event.type, event.object) == (kind, carried)
    assert (event.version, event.code, event.message) == (version, code, message)


class Seen:
    def __init__(self) -> None:
        self.lists: list[list[str]] = []
        self.changes: list[tuple[str, str]] = []

    def listed(self, items: list[Obj]) -> None:
        self.lists.append([item["metadata"]["name"] for item in items])

    def changed(self, change: str, item: Obj) -> None:
        self.changes.append((change, item["metadata"]["name"]))


@pytest.fixture
async def watched() -> AsyncIterator[tuple[WatchedApi, ListWatch, Seen]]:
    api, seen = WatchedApi(), Seen()
    api.listings[BACKUPS] = ([obj("a", "3")], "4")
    watch = ListWatch(
        api,  # type: ignore[arg-type]
        "MinecraftBackup",
        namespace="tenant-acme",
        on_list=seen.listed,
        on_change=seen.changed,
        retry_after=0.01,
    )
    watch.start()
    yield api, watch, seen
    await watch.stop()


async def test_a_namespace_is_listed_then_watched_from_the_lists_version(
    watched: tuple[WatchedApi, ListWatch, Seen],
) -> None:
    api, watch, seen = watched
    await asyncio.wait_for(watch.listed.wait(), 5)
    assert (seen.lists, watch.lists, api.lists) == ([["a"]], 1, [(BACKUPS, {})])
    api.push(
        BACKUPS,
        [
            line("ADDED", obj("b", "5")),
            line("DELETED", obj("a", "6")),
            line("BOOKMARK", {"metadata": {"resourceVersion": "8"}}),
        ],
    )
    await until(lambda: len(api.watched(BACKUPS)) == 2)
    assert seen.changes == [("ADDED", "b"), ("DELETED", "a")]  # a bookmark is no change
    first, again = api.watched(BACKUPS)
    assert first == {
        "watch": "true",
        "allowWatchBookmarks": "true",
        "timeoutSeconds": "300",
        "resourceVersion": "4",
    }
    assert again["resourceVersion"] == "8"  # the last version seen: the bookmark's
    assert api.listed(BACKUPS) == 1


@pytest.mark.parametrize(
    "session",
    [
        [line("ERROR", {"kind": "Status", "code": 410, "reason": "Expired"})],
        KubeError(410, "Gone"),
    ],
)
async def test_an_expired_version_lists_again(
    watched: tuple[WatchedApi, ListWatch, Seen], session: list[str] | Exception
) -> None:
    api, watch, seen = watched
    await asyncio.wait_for(watch.listed.wait(), 5)
    api.listings[BACKUPS] = ([obj("a", "3"), obj("c", "20")], "21")
    api.push(BACKUPS, session)
    await until(lambda: watch.lists == 2)
    assert seen.lists == [["a"], ["a", "c"]]
    await until(lambda: len(api.watched(BACKUPS)) == 2)
    assert api.watched(BACKUPS)[1]["resourceVersion"] == "21"


@pytest.mark.parametrize(
    ("session", "level"),
    [
        ([line("ERROR", {"code": 500, "message": "boom"})], logging.INFO),
        (["{torn"], logging.INFO),
        (KubeError(0, "API server unreachable"), logging.INFO),
        (KubeError(403, "forbidden"), logging.WARNING),  # a deployment problem
    ],
)
async def test_a_failure_is_logged_and_retried_from_a_list(
    watched: tuple[WatchedApi, ListWatch, Seen],
    caplog: pytest.LogCaptureFixture,
    session: list[str] | Exception,
    level: int,
) -> None:
    api, watch, _seen = watched
    await asyncio.wait_for(watch.listed.wait(), 5)
    with caplog.at_level(logging.INFO, logger="craftplane.watch"):
        api.push(BACKUPS, session)
        await until(lambda: api.listed(BACKUPS) == 2)
    [record] = [r for r in caplog.records if r.name == "craftplane.watch"]
    assert record.levelno == level and "watching MinecraftBackup failed" in record.getMessage()
    assert (record.kind, record.namespace) == ("MinecraftBackup", "tenant-acme")  # type: ignore[attr-defined]


async def test_a_cluster_wide_watch_lists_by_its_label_selector() -> None:
    api, seen = WatchedApi(), Seen()
    api.refuse_lists = 2
    watch = ListWatch(
        api,  # type: ignore[arg-type]
        "Namespace",
        on_list=seen.listed,
        on_change=seen.changed,
        label_selector="craftplane.io/tenant",
        retry_after=0.01,
    )
    assert not watch.listed.is_set()
    watch.start()
    try:
        await asyncio.wait_for(watch.listed.wait(), 5)
        await until(lambda: api.opened)
    finally:
        await watch.stop()
    assert api.lists == [("/api/v1/namespaces", {"labelSelector": "craftplane.io/tenant"})] * 3
    assert api.opened[0][1]["labelSelector"] == "craftplane.io/tenant"
    assert watch.lists == 1
