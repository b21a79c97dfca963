"""Projecting events into PostgreSQL: idempotent, never regressing."""

from __future__ import annotations

import asyncio
import logging
from typing import Any, TypeAlias

import asyncpg
import pytest

from craftplane.contracts.cr_events import phase_event
from craftplane.contracts.events import Event, EventType, SyncEvent, SyncScope
from craftplane.contracts.status import Phase
from craftplane_gateway.db import queries
from craftplane_gateway.db.models import ClusterServer
from craftplane_gateway.db.projection import (
    apply_batch,
    mark_deleted_missing,
    record_dead_letter,
    record_sync_requested,
    upsert_from_cluster,
)
from tests.gateway.db.factories import at, cr, deleted, spec, state

pytestmark = pytest.mark.services

Conn: TypeAlias = "asyncpg.Connection[asyncpg.Record]"


async def _row(conn: Conn, uid: str = "uid-1") -> dict[str, Any]:
    record = await conn.fetchrow("SELECT * FROM servers WHERE uid = $1", uid)
    assert record is not None
    return dict(record)


async def _timeline(conn: Conn, uid: str = "uid-1") -> list[tuple[str, str | None]]:
    records = await conn.fetch(
        "SELECT type, status FROM server_events WHERE uid = $1 ORDER BY seq", uid
    )
    return [(r["type"], r["status"]) for r in records]


async def test_events_make_a_row(conn: Conn) -> None:
    changes = await apply_batch(conn, [(1, spec()), (2, state(Phase.STARTING, rev=10, t=1))])
    assert len(changes) == 1
    change = changes[0]
    assert (change.uid, change.tenant, change.name, change.status) == (
        "uid-1", "a", "survival", "deploying",
    )  # fmt: skip
    assert change.created and change.previous_status is None
    assert change.statuses == ("deploying",)
    changes = await apply_batch(conn, [(3, state(Phase.RUNNING, rev=11, t=2, players_online=3))])
    assert [(c.previous_status, c.status, c.statuses) for c in changes] == [
        ("deploying", "running", ("running",))
    ]
    row = await _row(conn)
    assert row["status"] == "running" and row["phase"] == "Running"
    assert (row["address"], row["port"], row["players_online"], row["players_max"]) == (
        "survival.team-a.svc", 25565, 3, 20,
    )  # fmt: skip
    assert (row["server_type"], row["version"], row["generation"]) == ("PAPER", "1.21.1", 1)
    assert (row["last_revision"], row["last_stream_seq"], row["last_event_time"]) == (11, 3, at(2))
    assert row["created_at"] == at(0) and row["deleted_at"] is None


async def test_duplicate_event_is_one_timeline_row_and_changes_nothing(conn: Conn) -> None:
    event = state(Phase.RUNNING, rev=20, t=5)
    assert len(await apply_batch(conn, [(1, event)])) == 1
    before = await _row(conn)
    # Redelivered alone, redelivered with a new stream sequence, and twice in one batch.
    assert await apply_batch(conn, [(1, event)]) == []
    assert await apply_batch(conn, [(7, Event.model_validate_json(event.model_dump_json()))]) == []
    assert await apply_batch(conn, [(8, event), (9, event)]) == []
    assert await _row(conn) == before
    assert await conn.fetchval("SELECT count(*) FROM server_events") == 1


async def test_out_of_order_event_is_recorded_but_does_not_regress(conn: Conn) -> None:
    await apply_batch(conn, [(2, state(Phase.RUNNING, rev=20, t=20))])
    assert await apply_batch(conn, [(1, state(Phase.STARTING, rev=10, t=10))]) == []
    row = await _row(conn)
    assert (row["status"], row["last_revision"], row["last_stream_seq"]) == ("running", 20, 2)
    assert await _timeline(conn) == [("k8s.running", "running"), ("k8s.starting", "deploying")]


async def test_out_of_order_within_one_batch(conn: Conn) -> None:
    changes = await apply_batch(
        conn, [(5, state(Phase.RUNNING, rev=20, t=20)), (6, state(Phase.STARTING, rev=10, t=10))]
    )
    assert [c.status for c in changes] == ["running"]
    assert (await _row(conn))["status"] == "running"
    assert len(await _timeline(conn)) == 2


async def test_steps_in_one_batch_are_reported_in_order(conn: Conn) -> None:
    changes = await apply_batch(
        conn,
        [
            (1, spec()),
            (2, state(Phase.STARTING, rev=10, t=1)),
            (3, state(Phase.RUNNING, rev=11, t=2)),
            (4, state(Phase.RUNNING, rev=12, t=3, players_online=1)),
        ],
    )
    assert len(changes) == 1
    assert changes[0].statuses == ("deploying", "running")
    assert len(changes[0].event_ids) == 4


async def test_deleted_then_late_running_stays_deleted(conn: Conn) -> None:
    await apply_batch(conn, [(1, state(Phase.RUNNING, rev=20, t=20))])
    changes = await apply_batch(conn, [(3, deleted(t=30))])
    assert [(c.previous_status, c.status) for c in changes] == [("running", "deleted")]
    assert await apply_batch(conn, [(2, state(Phase.RUNNING, rev=25, t=25))]) == []
    assert await apply_batch(conn, [(4, state(Phase.RUNNING, rev=99, t=99))]) == []
    row = await _row(conn)
    assert (row["status"], row["deleted_at"]) == ("deleted", at(30))
    assert [t for t, _ in await _timeline(conn)] == [
        "k8s.running", "server.deleted", "k8s.running", "k8s.running",
    ]  # fmt: skip


async def test_delete_first_leaves_no_live_row_behind(conn: Conn) -> None:
    changes = await apply_batch(conn, [(9, deleted(t=30))])
    assert [(c.created, c.status) for c in changes] == [(True, "deleted")]
    assert await apply_batch(conn, [(1, spec()), (2, state(Phase.RUNNING, rev=20, t=20))]) == []
    assert (await _row(conn))["status"] == "deleted"
    assert await queries.get_server(conn, "a", "survival") is None


async def test_spec_events_update_type_without_touching_phase_state(conn: Conn) -> None:
    await apply_batch(conn, [(1, spec(generation=1)), (2, state(Phase.RUNNING, rev=20, t=20))])
    update = spec(EventType.SERVER_UPDATED, generation=2, t=25, message="PAPER 1.21.4")
    changes = await apply_batch(conn, [(3, update)])
    assert [(c.previous_status, c.status) for c in changes] == [("running", "running")]
    # A late server.created of generation 1 does not undo generation 2's version.
    late_created = spec(generation=1, t=0, message="VANILLA 1.20")
    assert await apply_batch(conn, [(4, late_created)]) == []
    row = await _row(conn)
    assert (row["status"], row["generation"], row["spec_generation"], row["version"]) == (
        "running", 2, 2, "1.21.4",
    )  # fmt: skip
    assert (row["server_type"], row["last_revision"]) == ("PAPER", 20)


async def test_recreated_server_has_its_own_row(conn: Conn) -> None:
    await apply_batch(
        conn,
        [(1, spec(uid="old")), (2, state(Phase.RUNNING, uid="old", rev=20, t=20)),
         (3, deleted(uid="old", t=30))],
    )  # fmt: skip
    await apply_batch(
        conn, [(4, spec(uid="new", t=40)), (5, state(Phase.STARTING, uid="new", rev=40, t=41))]
    )
    live = await queries.get_server(conn, "a", "survival")
    assert live is not None and (live.uid, live.status) == ("new", "deploying")
    rows, _ = await queries.list_servers(conn, "a")
    assert [r.uid for r in rows] == ["new"]
    rows, _ = await queries.list_servers(conn, "a", include_deleted=True)
    assert sorted(r.uid for r in rows) == ["new", "old"]
    # Before the old incarnation's deletion is projected both are live: the newest wins.
    await apply_batch(conn, [(6, state(Phase.RUNNING, uid="older", rev=5, t=-10))])
    live = await queries.get_server(conn, "a", "survival")
    assert live is not None and live.uid == "new"


async def test_sync_events_change_no_server(conn: Conn) -> None:
    request = SyncEvent(type=EventType.SYNC_REQUIRED, server=SyncScope(namespace="team-a"))
    await record_sync_requested(conn, request.id, "team-a/_all", 3)
    complete = SyncEvent(
        type=EventType.SYNC_COMPLETE,
        server=SyncScope(namespace="team-a"),
        correlation_id=request.id,
        time=at(50),
    )
    assert await apply_batch(conn, [(1, request), (2, complete)]) == []
    assert await conn.fetchval("SELECT count(*) FROM servers") == 0
    assert await conn.fetchval("SELECT count(*) FROM server_events") == 0
    record = await conn.fetchrow("SELECT * FROM sync_log")
    assert record is not None
    assert (record["scope"], record["servers"], record["completed_at"]) == (
        "team-a/_all",
        3,
        at(50),
    )


async def test_unstorable_event_is_dead_lettered_and_the_rest_applied(conn: Conn) -> None:
    bad = state(Phase.RUNNING, rev=20, t=20, uid="uid-2", message="nul\x00here")
    no_uid = state(Phase.RUNNING, rev=20, t=20, uid="")
    changes = await apply_batch(conn, [(1, bad), (2, state(Phase.RUNNING)), (3, no_uid)])
    assert [c.uid for c in changes] == ["uid-1"]
    assert await queries.dead_letter_count(conn) == 2
    letters = await queries.dead_letters(conn)
    assert sorted(d.stream_seq or 0 for d in letters) == [1, 3]
    assert all(d.payload.startswith(b"{") and d.subject.startswith("craftplane.") for d in letters)


async def test_dead_letters(conn: Conn) -> None:
    assert await queries.dead_letter_count(conn) == 0
    assert await record_dead_letter(
        conn, 12, "craftplane.k8s.running.x.y", b"\xff\x00garbage", "bad"
    )
    # The same message again (term lost, redelivered): kept once.
    assert not await record_dead_letter(conn, 12, "craftplane.k8s.running.x.y", b"\xff", "bad")
    assert await record_dead_letter(conn, None, "craftplane.odd\x00", b"", "no\x00sequence")
    assert await queries.dead_letter_count(conn) == 2
    letters = await queries.dead_letters(conn)
    assert {d.payload for d in letters} == {b"\xff\x00garbage", b""}


async def test_concurrent_batches_project_each_event_once(database: str, conn: Conn) -> None:
    # Two replicas with overlapping redeliveries of the same events, in different orders.
    events = [(i, state(Phase.RUNNING, uid=f"u{i % 5}", name=f"s{i % 5}", rev=i, t=i,
                         players_online=i)) for i in range(1, 61)]  # fmt: skip
    other = await asyncpg.connect(database)
    try:
        batches_a = [events[i : i + 10] for i in range(0, 60, 10)]
        batches_b = [list(reversed(events[i : i + 15])) for i in range(0, 60, 15)]

        async def run(c: Conn, batches: list[list[tuple[int, Event]]]) -> None:
            for batch in batches:
                await apply_batch(c, batch)

        await asyncio.gather(run(conn, batches_a), run(other, batches_b))
    finally:
        await other.close()
    assert await conn.fetchval("SELECT count(*) FROM server_events") == 60
    rows = {r["uid"]: r for r in await conn.fetch("SELECT * FROM servers")}
    assert len(rows) == 5
    for k in range(5):
        newest = max(i for i in range(1, 61) if i % 5 == k)
        assert (rows[f"u{k}"]["last_revision"], rows[f"u{k}"]["players_online"]) == (
            newest, newest,
        )  # fmt: skip


async def test_a_row_created_concurrently_makes_the_batch_start_over(
    database: str, conn: Conn, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="craftplane.gateway.db")
    other = await asyncpg.connect(database)
    try:
        # Another replica is creating the same server's row and has not committed yet.
        tx = other.transaction()
        await tx.start()
        await other.execute(
            "INSERT INTO servers (uid, tenant, namespace, name, status, created_at, updated_at,"
            " spec_generation, server_type, version)"
            " VALUES ('uid-1', 'a', 'team-a', 'survival', 'deploying', $1, $1, 1, 'PAPER', '1.21')",
            at(0),
        )
        racing = asyncio.create_task(apply_batch(conn, [(2, state(Phase.RUNNING, rev=20, t=20))]))
        await asyncio.sleep(0.3)
        assert not racing.done()
        await tx.commit()
        changes = await asyncio.wait_for(racing, timeout=10)
    finally:
        await other.close()
    assert [(c.previous_status, c.status) for c in changes] == [("deploying", "running")]
    row = await _row(conn)
    assert (row["status"], row["server_type"], row["last_revision"]) == ("running", "PAPER", 20)
    assert any("retrying" in r.getMessage() for r in caplog.records)


# -- the cluster's view ----------------------------------------------------------------------


async def test_cluster_view_creates_missing_rows(conn: Conn) -> None:
    changes = await upsert_from_cluster(
        conn,
        [ClusterServer.from_cr(cr(uid="u1", name="one", rev=10), "a"),
         ClusterServer.from_cr(cr(uid="u2", name="two", rev=11, phase=None), "a")],
        observed_at=at(100),
    )  # fmt: skip
    assert sorted((c.uid, c.status, c.created) for c in changes) == [
        ("u1", "running", True), ("u2", "deploying", True),
    ]  # fmt: skip
    one = await _row(conn, "u1")
    assert (one["last_revision"], one["server_type"], one["version"], one["address"]) == (
        10, "PAPER", "1.21.1", "one.team-a.svc",
    )  # fmt: skip
    assert await _timeline(conn, "u1") == [("k8s.running", "running")]
    assert await _timeline(conn, "u2") == []
    # Looking again changes nothing.
    assert (
        await upsert_from_cluster(
            conn, [ClusterServer.from_cr(cr(uid="u1", name="one", rev=10), "a")]
        )
        == []
    )


async def test_polled_state_deduplicates_the_operators_later_event(conn: Conn) -> None:
    body = cr(rev=42, players=2)
    assert len(await upsert_from_cluster(conn, [ClusterServer.from_cr(body, "a")])) == 1
    # NATS is back: the operator publishes (or re-publishes) the same recorded state.
    operator_event = phase_event(body, "a")
    assert operator_event is not None
    assert await apply_batch(conn, [(77, operator_event)]) == []
    assert await conn.fetchval("SELECT count(*) FROM server_events") == 1


async def test_cluster_view_never_regresses_a_row(conn: Conn) -> None:
    await apply_batch(conn, [(1, spec()), (2, state(Phase.STOPPED, rev=30, t=30))])
    old_view = ClusterServer.from_cr(cr(rev=25, phase=Phase.RUNNING), "a")
    assert await upsert_from_cluster(conn, [old_view]) == []
    assert (await _row(conn))["status"] == "stopped"
    newer = ClusterServer.from_cr(cr(rev=31, phase=Phase.RUNNING, players=4), "a")
    changes = await upsert_from_cluster(conn, [newer])
    assert [(c.previous_status, c.status) for c in changes] == [("stopped", "running")]
    assert (await _row(conn))["players_online"] == 4


async def test_cluster_view_does_not_resurrect_deleted_rows(conn: Conn) -> None:
    await apply_batch(conn, [(1, state(Phase.RUNNING, rev=20, t=20)), (2, deleted(t=30))])
    # A CR still there with its finalizer after server.deleted was published.
    assert await upsert_from_cluster(conn, [ClusterServer.from_cr(cr(rev=35), "a")]) == []
    assert (await _row(conn))["status"] == "deleted"


async def test_cluster_view_accepts_plain_dicts(conn: Conn) -> None:
    row = {"uid": "u9", "tenant": "a", "namespace": "team-a", "name": "nine", "phase": "Error",
           "generation": 2, "revision": 7, "server_type": "PAPER", "server_version": "1.21"}  # fmt: skip
    changes = await upsert_from_cluster(conn, [row])
    assert [(c.uid, c.status, c.server.version, c.server.last_revision) for c in changes] == [
        ("u9", "failed", "1.21", 7)
    ]


async def test_rows_whose_cr_is_gone_are_marked_deleted(conn: Conn) -> None:
    await apply_batch(
        conn,
        [(1, state(Phase.RUNNING, uid="keep", name="keep", rev=1, t=1)),
         (2, state(Phase.RUNNING, uid="gone", name="gone", rev=2, t=2)),
         (3, state(Phase.RUNNING, uid="elsewhere", name="x", namespace="team-b", tenant="b",
                   rev=3, t=3))],
    )  # fmt: skip
    changes = await mark_deleted_missing(conn, ["team-a"], ["keep"])
    assert [(c.uid, c.previous_status, c.status) for c in changes] == [
        ("gone", "running", "deleted")
    ]
    assert (await _row(conn, "keep"))["status"] == "running"
    assert (await _row(conn, "elsewhere"))["status"] == "running"
    assert (await _timeline(conn, "gone"))[-1] == ("server.deleted", "deleted")
    # Idempotent, and a late event does not bring it back.
    assert await mark_deleted_missing(conn, ["team-a"], ["keep"]) == []
    assert (
        await apply_batch(conn, [(4, state(Phase.RUNNING, uid="gone", name="gone", rev=9, t=9))])
        == []
    )
    assert (await _row(conn, "gone"))["status"] == "deleted"


async def test_rows_newer_than_the_listing_are_spared(conn: Conn) -> None:
    await apply_batch(
        conn,
        [(1, state(Phase.RUNNING, uid="before", name="before", rev=5, t=1)),
         (2, state(Phase.STARTING, uid="after", name="after", rev=50, t=100))],
    )  # fmt: skip
    assert await mark_deleted_missing(conn, ["team-a"], [], listed_at=at(50)) != []
    assert (await _row(conn, "after"))["status"] == "deploying"
    assert (await _row(conn, "before"))["status"] == "deleted"
    assert await mark_deleted_missing(conn, ["team-a"], [], list_revision=49) == []
    assert [c.uid for c in await mark_deleted_missing(conn, ["team-a"], [], list_revision=50)] == [
        "after"
    ]
    assert await mark_deleted_missing(conn, [], []) == []


async def test_a_newer_revision_with_nothing_new_only_moves_the_order(conn: Conn) -> None:
    body = cr(rev=10)
    await upsert_from_cluster(conn, [ClusterServer.from_cr(body, "a")])
    body["metadata"]["resourceVersion"] = "15"  # e.g. an annotation changed
    assert await upsert_from_cluster(conn, [ClusterServer.from_cr(body, "a")]) == []
    assert len(await _timeline(conn)) == 1
    assert (await _row(conn))["last_revision"] == 15
    # The operator's state of revision 12 is older than what was seen at 15.
    assert await apply_batch(conn, [(3, state(Phase.STOPPED, rev=12, t=99))]) == []
    assert (await _row(conn))["status"] == "running"
