"""Reads of the projection: pagination, tenancy, timeline, counts, snapshots."""

from __future__ import annotations

import json
from typing import TypeAlias

import asyncpg
import pytest

from craftplane.contracts.status import Phase
from craftplane_gateway.db import queries
from craftplane_gateway.db.projection import apply_batch
from tests.gateway.db.factories import deleted, spec, state

pytestmark = pytest.mark.services

Conn: TypeAlias = "asyncpg.Connection[asyncpg.Record]"


async def _servers(conn: Conn, tenant: str, namespace: str, names: list[str], phase: Phase) -> None:
    await apply_batch(
        conn,
        [(0, state(phase, uid=f"{namespace}-{name}", name=name, namespace=namespace,
                   tenant=tenant, rev=10))
         for name in names],
    )  # fmt: skip


async def test_pagination_walks_every_server_once(conn: Conn) -> None:
    names = [f"srv-{i:02d}" for i in range(7)]
    await _servers(conn, "a", "team-a", names, Phase.RUNNING)
    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        rows, cursor = await queries.list_servers(conn, "a", limit=3, cursor=cursor)
        seen += [r.name for r in rows]
        pages += 1
        if cursor is None:
            break
    assert seen == names and pages == 3
    rows, cursor = await queries.list_servers(conn, "a", limit=7)
    assert len(rows) == 7 and cursor is None


async def test_pagination_orders_by_namespace_then_name(conn: Conn) -> None:
    await _servers(conn, "a", "team-b", ["alpha"], Phase.RUNNING)
    await _servers(conn, "a", "team-a", ["zulu", "beta"], Phase.RUNNING)
    rows, _ = await queries.list_servers(conn, "a")
    assert [(r.namespace, r.name) for r in rows] == [
        ("team-a", "beta"), ("team-a", "zulu"), ("team-b", "alpha"),
    ]  # fmt: skip
    rows, _ = await queries.list_servers(conn, "a", namespace="team-b")
    assert [r.name for r in rows] == ["alpha"]


async def test_status_filter_and_deleted(conn: Conn) -> None:
    await _servers(conn, "a", "team-a", ["r1", "r2"], Phase.RUNNING)
    await _servers(conn, "a", "team-a", ["s1"], Phase.STOPPED)
    await _servers(conn, "a", "team-a", ["e1"], Phase.ERROR)
    await apply_batch(conn, [(9, deleted(uid="team-a-r2", name="r2", t=50))])
    rows, _ = await queries.list_servers(conn, "a", status="running")
    assert [r.name for r in rows] == ["r1"]
    rows, _ = await queries.list_servers(conn, "a", status=["stopped", "failed"])
    assert [r.name for r in rows] == ["e1", "s1"]
    rows, _ = await queries.list_servers(conn, "a", status="deleted")
    assert [r.name for r in rows] == ["r2"]
    rows, _ = await queries.list_servers(conn, "a", include_deleted=True)
    assert len(rows) == 4
    assert await queries.status_counts(conn, "a") == {
        "deploying": 0, "running": 1, "stopped": 1, "failed": 1, "terminating": 0,
    }  # fmt: skip


async def test_a_cursor_not_made_here_is_refused(conn: Conn) -> None:
    for bad in ["!!!", "bm90IGpzb24", "WzEsMl0"]:  # not base64, not JSON, wrong shape
        with pytest.raises(queries.InvalidCursor):
            await queries.list_servers(conn, "a", cursor=bad)


async def test_tenants_see_only_their_own_servers(conn: Conn) -> None:
    await _servers(conn, "a", "team-a", ["survival", "creative"], Phase.RUNNING)
    await _servers(conn, "b", "team-b", ["survival"], Phase.STOPPED)
    await apply_batch(conn, [(5, state(Phase.RUNNING, uid="orphan", name="lost", namespace="x",
                                       tenant=None, rev=1))])  # fmt: skip
    a = await queries.get_server(conn, "a", "survival")
    b = await queries.get_server(conn, "b", "survival")
    assert a is not None and (a.namespace, a.status) == ("team-a", "running")
    assert b is not None and (b.namespace, b.status) == ("team-b", "stopped")
    assert await queries.get_server(conn, "b", "creative") is None
    assert await queries.get_server(conn, "c", "survival") is None
    assert await queries.get_server(conn, "a", "lost") is None  # no tenant: nobody's
    assert await queries.get_server_by_uid(conn, "team-a-creative", tenant="b") is None
    assert await queries.get_server_by_uid(conn, "team-a-creative", tenant="a") is not None
    rows, _ = await queries.list_servers(conn, "b")
    assert [r.uid for r in rows] == ["team-b-survival"]
    assert await queries.status_counts(conn, "b") == {
        "deploying": 0, "running": 0, "stopped": 1, "failed": 0, "terminating": 0,
    }  # fmt: skip
    assert [p.name for p in await queries.players_by_server(conn, "a")] == ["creative", "survival"]
    assert [s.uid for s in await queries.projection_snapshot(conn, "b")] == ["team-b-survival"]
    entries, _ = await queries.timeline(conn, "b", "survival")
    assert {e.uid for e in entries} == {"team-b-survival"}
    assert await queries.timeline(conn, "b", "creative") == ([], None)


async def test_timeline_newest_first_with_pages(conn: Conn) -> None:
    events = [
        (1, spec(t=0)),
        (2, state(Phase.STARTING, rev=10, t=1)),
        (4, state(Phase.RUNNING, rev=12, t=3)),
        (3, state(Phase.RUNNING, rev=11, t=2, players_online=1)),  # late: still in history
        (5, state(Phase.STOPPED, rev=13, t=4)),
    ]
    for item in events:
        await apply_batch(conn, [item])
    entries, before = await queries.timeline(conn, "a", "survival", limit=2)
    assert [e.stream_seq for e in entries] == [5, 4] and before is not None
    entries, before = await queries.timeline(conn, "a", "survival", limit=2, before_seq=before)
    assert [e.stream_seq for e in entries] == [3, 2] and before is not None
    entries, before = await queries.timeline(conn, "a", "survival", limit=2, before_seq=before)
    assert [e.stream_seq for e in entries] == [1] and before is None
    assert entries[0].type == "server.created" and entries[0].status is None
    json.dumps(entries[0].to_json())


async def test_timeline_spans_recreations_unless_a_uid_is_given(conn: Conn) -> None:
    await apply_batch(conn, [(1, state(Phase.RUNNING, uid="old", rev=1, t=1)),
                             (2, deleted(uid="old", t=2)),
                             (3, state(Phase.STARTING, uid="new", rev=3, t=3))])  # fmt: skip
    entries, _ = await queries.timeline(conn, "a", "survival")
    assert [e.uid for e in entries] == ["new", "old", "old"]
    entries, _ = await queries.timeline(conn, "a", "survival", uid="new")
    assert [e.uid for e in entries] == ["new"]


async def test_players_and_snapshot(conn: Conn) -> None:
    await apply_batch(
        conn,
        [(1, state(Phase.RUNNING, uid="u1", name="one", rev=1, players_online=5)),
         (2, state(Phase.STARTING, uid="u2", name="two", rev=1)),
         (3, state(Phase.RUNNING, uid="u3", name="three", rev=1)),
         (4, deleted(uid="u3", name="three", t=9))],
    )  # fmt: skip
    players = await queries.players_by_server(conn, "a")
    assert [(p.name, p.online, p.max) for p in players] == [("one", 5, 20), ("two", 0, None)]
    snapshot = await queries.projection_snapshot(conn, "a")
    assert [(s.name, s.status, s.last_revision) for s in snapshot] == [
        ("one", "running", 1), ("two", "deploying", 1),
    ]  # fmt: skip
    assert [s.name for s in await queries.projection_snapshot(conn, "a", names=["two", "x"])] == [
        "two"
    ]
    payload = json.dumps([s.to_json() for s in snapshot])
    assert '"status": "running"' in payload
    assert [r.uid for r in await queries.live_servers(conn)] == ["u1", "u2"]
    assert await queries.live_servers(conn, ["elsewhere"]) == []
