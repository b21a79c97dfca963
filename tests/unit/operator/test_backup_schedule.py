"""A server's backup side: schedule slots (across DST), pauseWhenEmpty, restoreFrom, holds."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from craftplane.contracts.backup import RESTORE_HOLD_ANNOTATION
from craftplane_operator.backups.actions import Create, PatchObject, PatchStatus, Record, Step
from craftplane_operator.backups.names import RESTORED_FROM_ANNOTATION, scheduled_backup_name
from craftplane_operator.backups.seen import ServerSeen
from craftplane_operator.backups.server_plan import ServerStep, plan_server
from tests.unit.operator.backup_factories import (
    placed_statefulset,
    restore_body,
    server_body,
    world,
)
from tests.unit.operator.factories import NAME, UID

pytestmark = pytest.mark.unit

NIGHTLY_BERLIN = {"backups": {"schedule": "30 2 * * *", "timeZone": "Europe/Berlin"}}


def at(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def seen(server: dict[str, Any], now: datetime, **found: Any) -> ServerSeen:
    found.setdefault("pvc", world())
    found.setdefault("statefulset", placed_statefulset())
    return ServerSeen(server=server, now=now, **found)


def server_status(decided: ServerStep) -> dict[str, Any]:
    (patch,) = [a.patch for a in decided.step.actions if isinstance(a, PatchStatus)]
    return patch


def created(step: Step) -> list[dict[str, Any]]:
    return [a.body for a in step.actions if isinstance(a, Create)]


@pytest.mark.parametrize(
    ("now", "slot"),
    [
        # 02:30 does not exist on the spring-forward night: the slot is the first minute after.
        (at(2026, 3, 28, 12), at(2026, 3, 29, 1, 0)),
        (at(2026, 3, 29, 1, 0), at(2026, 3, 30, 0, 30)),
        # 02:30 happens twice on the autumn night: once, at the first (summer time) one.
        (at(2026, 10, 24, 12), at(2026, 10, 25, 0, 30)),
        (at(2026, 10, 25, 0, 30), at(2026, 10, 26, 1, 30)),
    ],
    ids=["spring gap", "after spring", "autumn overlap", "after autumn"],
)
def test_the_next_slot_is_read_in_the_time_zone_across_dst(now: datetime, slot: datetime) -> None:
    decided = plan_server(seen(server_body(NIGHTLY_BERLIN), now))
    assert server_status(decided) == {"nextBackup": slot.strftime("%Y-%m-%dT%H:%M:%SZ")}
    assert decided.wake_at == slot


def test_a_due_slot_creates_one_backup_not_owned_by_the_server() -> None:
    status = {"nextBackup": "2026-03-29T01:00:00Z", "playersSinceBackup": True}
    server = server_body(NIGHTLY_BERLIN, status=status)
    decided = plan_server(seen(server, at(2026, 3, 29, 1, 0, 1)))
    (backup,) = created(decided.step)
    assert backup["metadata"]["name"] == "survival-20260329-0100"
    assert backup["metadata"]["labels"] == {
        "craftplane.io/server": NAME,
        "craftplane.io/backup-trigger": "scheduled",
    }
    assert "ownerReferences" not in backup["metadata"]
    assert backup["spec"] == {"server": NAME}
    assert isinstance(decided.step.actions[0], Create), "the backup before the status"
    assert server_status(decided) == {
        "nextBackup": "2026-03-30T00:30:00Z",
        "lastScheduledBackup": "2026-03-29T01:00:00Z",
        "playersSinceBackup": False,
    }
    # Recorded: the slot is not backed up twice.
    after = server_body(NIGHTLY_BERLIN, status={**status, **server_status(decided)})
    again = plan_server(seen(after, at(2026, 3, 29, 1, 0, 5)))
    assert again.step.actions == () and again.wake_at == at(2026, 3, 30, 0, 30)


def test_a_slot_answered_before_an_operator_restart_is_not_backed_up_again() -> None:
    status = {"nextBackup": "2026-03-29T01:00:00Z", "lastScheduledBackup": "2026-03-29T01:00:00Z"}
    decided = plan_server(seen(server_body(NIGHTLY_BERLIN, status=status), at(2026, 3, 29, 1, 3)))
    assert created(decided.step) == []
    assert server_status(decided) == {"nextBackup": "2026-03-30T00:30:00Z"}


def test_pause_when_empty_skips_a_slot_nobody_played_since_and_records_it() -> None:
    spec = {"backups": {**NIGHTLY_BERLIN["backups"], "pauseWhenEmpty": True}}
    status = {"nextBackup": "2026-03-29T01:00:00Z", "playersSinceBackup": False}
    decided = plan_server(seen(server_body(spec, status=status), at(2026, 3, 29, 1, 1)))
    assert created(decided.step) == []
    assert server_status(decided)["lastScheduledBackup"] == "2026-03-29T01:00:00Z"
    (event,) = [a for a in decided.step.actions if isinstance(a, Record)]
    assert event.reason == "BackupSkipped" and "pauseWhenEmpty" in event.message
    played = {**status, "playersSinceBackup": True}
    assert created(plan_server(seen(server_body(spec, status=played), at(2026, 3, 29, 1, 1))).step)


def test_a_player_online_is_remembered_for_pause_when_empty() -> None:
    status = {"nextBackup": "2026-03-30T00:30:00Z"}
    decided = plan_server(
        seen(server_body(NIGHTLY_BERLIN, status=status), at(2026, 3, 29, 9), players=2)
    )
    assert server_status(decided) == {"playersSinceBackup": True}


def test_no_schedule_clears_the_next_slot() -> None:
    decided = plan_server(
        seen(server_body(status={"nextBackup": "2026-03-30T00:30:00Z"}), at(2026, 3, 29, 9))
    )
    assert server_status(decided) == {"nextBackup": None}
    assert plan_server(seen(server_body(), at(2026, 3, 29, 9))).step.settled


def test_a_changed_schedule_is_followed_at_once() -> None:
    status = {"nextBackup": "2026-03-30T00:30:00Z"}
    hourly = {"backups": {"schedule": "0 * * * *"}}
    decided = plan_server(seen(server_body(hourly, status=status), at(2026, 3, 29, 9, 10)))
    assert server_status(decided) == {"nextBackup": "2026-03-29T10:00:00Z"}


def test_the_backup_name_is_the_slot_in_utc() -> None:
    assert scheduled_backup_name("survival", at(2026, 3, 29, 1, 0)) == "survival-20260329-0100"


# -- restoreFrom ------------------------------------------------------------------------------


RESTORED = {"restoreFrom": {"backup": "old-world-1"}}


def test_a_new_server_restored_from_a_backup_gets_its_restore() -> None:
    server = server_body(RESTORED)
    decided = plan_server(seen(server, at(2026, 3, 29, 9), pvc=None, statefulset=None))
    (restore,) = created(decided.step)
    assert restore["kind"] == "MinecraftRestore"
    assert restore["metadata"]["name"] == f"{NAME}-restore-from"
    assert restore["spec"] == {"backup": "old-world-1", "server": NAME}
    (owner,) = restore["metadata"]["ownerReferences"]
    assert (owner["kind"], owner["uid"]) == ("MinecraftServer", UID)
    existing = restore_body(name=f"{NAME}-restore-from", backup="old-world-1")
    assert plan_server(
        seen(server, at(2026, 3, 29, 9), pvc=None, statefulset=None, restore_from=existing)
    ).step.settled


@pytest.mark.parametrize(
    ("found", "status"),
    [
        ({"pvc": world()}, {}),
        ({"statefulset": placed_statefulset(1), "pvc": None}, {}),
        ({"pvc": None, "statefulset": None}, {"restoredFrom": "old-world-1"}),
    ],
    ids=["has a world", "ran already", "restored already"],
)
def test_restore_from_is_ignored_once_the_server_ran(
    found: dict[str, Any], status: dict[str, Any]
) -> None:
    decided = plan_server(seen(server_body(RESTORED, status=status), at(2026, 3, 29, 9), **found))
    assert created(decided.step) == []


def test_a_volume_made_for_the_restore_still_counts_as_never_ran() -> None:
    pvc = world({RESTORED_FROM_ANNOTATION: "old-world-1"})
    decided = plan_server(
        seen(server_body(RESTORED), at(2026, 3, 29, 9), pvc=pvc, statefulset=placed_statefulset(0))
    )
    assert [b["kind"] for b in created(decided.step)] == ["MinecraftRestore"]


def test_a_failed_restore_from_is_replaced_when_restore_from_names_another_backup() -> None:
    failed = restore_body({"phase": "Failed"}, name=f"{NAME}-restore-from", backup="typo")
    decided = plan_server(
        seen(
            server_body(RESTORED),
            at(2026, 3, 29, 9),
            pvc=None,
            statefulset=None,
            restore_from=failed,
        )
    )
    assert [type(a).__name__ for a in decided.step.actions] == ["Delete"]


# -- holds ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "holder",
    [None, restore_body({"phase": "Completed"}), restore_body({"phase": "Failed"})],
    ids=["restore deleted", "restore completed", "restore failed"],
)
def test_a_hold_whose_restore_is_over_is_released(holder: dict[str, Any] | None) -> None:
    server = server_body(annotations={RESTORE_HOLD_ANNOTATION: "survival-restore-1"})
    decided = plan_server(seen(server, at(2026, 3, 29, 9), holder=holder))
    patch, event = decided.step.actions
    assert isinstance(patch, PatchObject)
    assert patch.patch == {"metadata": {"annotations": {RESTORE_HOLD_ANNOTATION: None}}}
    assert isinstance(event, Record) and event.reason == "RestoreHoldReleased"


def test_a_hold_of_a_running_restore_stays() -> None:
    server = server_body(annotations={RESTORE_HOLD_ANNOTATION: "survival-restore-1"})
    holder = restore_body({"phase": "Restoring"})
    decided = plan_server(seen(server, at(2026, 3, 29, 9), holder=holder))
    assert not any(isinstance(a, PatchObject) for a in decided.step.actions)
