"""A client's outbox: changes to one server coalesce into its latest state, in first-pending
order, never going back behind a newer state, without touching the frames other clients share."""

from __future__ import annotations

import asyncio
import copy
from typing import Any

import pytest

from craftplane_gateway.outbox import Outbox, OutboxFull

pytestmark = pytest.mark.unit


def frame(name: str, event_id: str, **fields: Any) -> dict[str, Any]:
    server = {"name": name, "namespace": "tenant-a", "uid": f"u-{name}", **fields}
    return {"type": "event", "event": {"id": event_id, "type": "k8s.running"}, "server": server}


def test_a_server_keeps_one_pending_frame_merging_newer_fields_over_older() -> None:
    box = Outbox(limit=10)
    created = frame("s", "e1", status="deploying", generation=1)
    address = frame("s", "e2", status="starting", address="10.0.0.1", port=25565)
    running = frame("s", "e3", status="running", players={"online": 0, "max": 20})
    shared = copy.deepcopy([created, address, running])
    for rev, f in ((1, created), (2, address), (3, running)):
        box.put_state("s", "u-s", (rev, 0.0), f)
    assert len(box) == 1 and box.coalesced == 2
    pending = box.get_nowait()
    sent = pending.frame_after(None)
    assert sent is not None
    assert sent["server"] == {
        "name": "s", "namespace": "tenant-a", "uid": "u-s", "status": "running",
        "generation": 1, "address": "10.0.0.1", "port": 25565,
        "players": {"online": 0, "max": 20},
    }  # fmt: skip
    assert sent["event"]["id"] == "e3" and sent["coalesced"] == 3
    assert [created, address, running] == shared  # other clients' copies are untouched


def test_an_older_state_never_overwrites_a_newer_pending_one() -> None:
    box = Outbox(limit=10)
    box.put_state("s", "u-s", (5, 0.0), frame("s", "new", status="running"))
    box.put_state("s", "u-s", (4, 0.0), frame("s", "late", status="starting", address="x"))
    sent = box.get_nowait().frame_after(None)
    assert sent is not None
    assert sent["server"]["status"] == "running" and "address" not in sent["server"]
    assert "coalesced" not in sent  # one change: the frame as it was published
    assert box.coalesced == 0


def test_fields_older_than_the_clients_snapshot_are_left_out() -> None:
    box = Outbox(limit=10)
    box.put_state("s", "u-s", (1, 0.0), frame("s", "e1", status="starting", address="old"))
    box.put_state("s", "u-s", (3, 0.0), frame("s", "e3", players={"online": 2, "max": 20}))
    pending = box.get_nowait()
    # The snapshot the client took meanwhile holds revision 2 (a newer address than "old").
    sent = pending.frame_after((2, 0.0))
    assert sent is not None
    assert sent["server"] == {
        "name": "s", "namespace": "tenant-a", "uid": "u-s", "players": {"online": 2, "max": 20},
    }  # fmt: skip
    assert pending.frame_after((3, 0.0)) is not None  # the same state again: harmless
    assert pending.frame_after((4, 0.0)) is None  # the client has newer


def test_frames_go_in_the_order_their_server_first_changed() -> None:
    box = Outbox(limit=10)
    box.put_state("a", "u-a", (1, 0.0), frame("a", "a1", status="deploying"))
    box.put_state("b", "u-b", (1, 0.0), frame("b", "b1", status="deploying"))
    box.put_state("a", "u-a", (2, 0.0), frame("a", "a2", status="running"))
    box.put_note(("request", "u-c"), "c", frame("c", "r1"))
    order = [box.get_nowait().name for _ in range(3)]
    assert order == ["a", "b", "c"]  # a keeps its place: a busy server is not pushed back
    assert box.empty()
    with pytest.raises(asyncio.QueueEmpty):
        box.get_nowait()


def test_a_note_is_replaced_by_the_newer_one_of_its_key() -> None:
    box = Outbox(limit=10)
    added = {"type": "backup", "server": "s", "change": "added", "backup": {"name": "b1"}}
    done = {"type": "backup", "server": "s", "change": "modified", "backup": {"name": "b1"}}
    box.put_note(("MinecraftBackup", "tenant-a", "b1"), "s", added)
    box.put_note(("MinecraftBackup", "tenant-a", "b1"), "s", done)
    box.put_note(("request", "u-s"), "s", frame("s", "r1"))
    box.put_note(("request", "u-s"), "s", frame("s", "r2"))
    backup, request = box.get_nowait(), box.get_nowait()
    assert backup.frame_after(None) == done  # a whole state: nothing to mark
    sent = request.frame_after(None)
    assert sent is not None and sent["event"]["id"] == "r2" and sent["coalesced"] == 2


def test_the_limit_counts_servers_and_objects_not_changes() -> None:
    box = Outbox(limit=2)
    for rev in range(100):
        box.put_state("a", "u-a", (rev, 0.0), frame("a", f"a{rev}"))
        box.put_state("b", "u-b", (rev, 0.0), frame("b", f"b{rev}"))
    assert len(box) == 2
    with pytest.raises(OutboxFull):
        box.put_state("c", "u-c", (1, 0.0), frame("c", "c1"))
    assert len(box) == 2


async def test_get_waits_for_a_change() -> None:
    box = Outbox(limit=2)
    waiting = asyncio.create_task(box.get())
    await asyncio.sleep(0)
    assert not waiting.done()
    box.put_state("a", "u-a", (1, 0.0), frame("a", "a1"))
    pending = await asyncio.wait_for(waiting, timeout=5)
    assert pending.name == "a" and box.empty()
