"""A hibernating server's archive (spec.hibernation.archiveAfterDays): backed up and verified
before its volume goes, restored on a wake, and no loop when a step fails."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from craftplane.contracts.backup import LABEL_BACKUP_TRIGGER
from craftplane_operator.backups.actions import Create, Delete, PatchStatus, Record, Step
from craftplane_operator.backups.archive_plan import (
    archive_backup_name,
    plan_archive,
    unarchive_restore_name,
)
from craftplane_operator.backups.names import RESTORED_FROM_ANNOTATION
from craftplane_operator.backups.seen import ServerSeen
from craftplane_operator.backups.server_plan import plan_server
from tests.unit.operator.backup_factories import (
    NOW,
    backup_body,
    completed_status,
    placed_statefulset,
    restore_body,
    server_body,
    server_pod,
    stamp,
    world,
)
from tests.unit.operator.factories import NAME, NAMESPACE

pytestmark = pytest.mark.unit

SPEC = {"hibernation": {"afterEmptyMinutes": 10, "archiveAfterDays": 2}}
SLEPT = NOW - timedelta(days=3)
BACKUP = archive_backup_name(NAME, SLEPT)


def asleep(**extra: Any) -> dict[str, Any]:
    return {"hibernation": {"state": "Asleep", "hibernatedAt": stamp(SLEPT)}, **extra}


def archive(state: str, **extra: Any) -> dict[str, Any]:
    return {"archive": {"state": state, "backup": BACKUP, "since": stamp(SLEPT), **extra}}


def seen(status: dict[str, Any], spec: dict[str, Any] | None = None, **found: Any) -> ServerSeen:
    found.setdefault("pvc", world())
    found.setdefault("statefulset", placed_statefulset(replicas=0))
    return ServerSeen(server=server_body(spec or SPEC, status), now=NOW, **found)


def step_of(given: ServerSeen) -> Step:
    decided = plan_archive(given)
    assert decided is not None
    return decided[0]


def written(step: Step) -> dict[str, Any] | None:
    patches = [a.patch for a in step.actions if isinstance(a, PatchStatus)]
    assert len(patches) == 1
    found: dict[str, Any] | None = patches[0]["archive"]
    return found


def reasons(step: Step) -> list[tuple[bool, str]]:
    return [(a.warning, a.reason) for a in step.actions if isinstance(a, Record)]


def verified(state: str = "Verified", **extra: Any) -> dict[str, Any]:
    return backup_body(
        completed_status(verification={"state": state, "message": "boot failed"}, **extra),
        name=BACKUP,
    )


def test_not_yet_due_it_only_sets_an_alarm_and_the_schedule_goes_on() -> None:
    given = seen({"hibernation": {"state": "Asleep", "hibernatedAt": stamp(NOW)}})
    decided = plan_server(given)
    assert decided.step.settled
    assert decided.wake_at == NOW + timedelta(days=2)


def test_due_it_asks_for_a_verified_archive_backup_before_anything_else() -> None:
    step = step_of(seen(asleep()))
    (create,) = [a for a in step.actions if isinstance(a, Create)]
    assert step.actions[0] is create  # the backup first, then the status naming it
    assert create.body["metadata"]["name"] == BACKUP
    assert create.body["metadata"]["labels"][LABEL_BACKUP_TRIGGER] == "archive"
    assert create.body["spec"] == {"server": NAME, "verify": True}
    record = written(step)
    assert record is not None and record["state"] == "Archiving"
    assert record["since"] == stamp(SLEPT)
    assert (False, "Archiving") in reasons(step)
    assert not any(isinstance(a, Delete) for a in step.actions)


@pytest.mark.parametrize(
    "found",
    [
        {"pod": server_pod()},  # not stopped after all
        {"pvc": None},  # no world to archive
    ],
)
def test_nothing_is_archived_without_a_stopped_world(found: dict[str, Any]) -> None:
    assert plan_archive(seen(asleep(), **found)) is None


def test_an_owners_stop_or_an_awake_server_is_never_archived() -> None:
    owner = seen(asleep(), spec={**SPEC, "stopped": True})
    awake = seen({"hibernation": {"state": "Awake"}})
    assert plan_archive(owner) is None and plan_archive(awake) is None


def test_the_volume_goes_only_after_the_backup_is_verified() -> None:
    status = asleep(**archive("Archiving"))
    pending = step_of(seen(status, archive_backup=backup_body(completed_status(), name=BACKUP)))
    assert not pending.actions and pending.requeue_after
    done = step_of(seen(status, archive_backup=verified()))
    record = written(done)
    assert record is not None and record["state"] == "Archived" and record["archivedAt"]
    assert not any(isinstance(a, Delete) for a in done.actions)  # status first
    gone = step_of(seen(asleep(**archive("Archived"))))
    assert [a for a in gone.actions if isinstance(a, Delete)] == [
        Delete("PersistentVolumeClaim", NAMESPACE, f"data-{NAME}-0")
    ]


@pytest.mark.parametrize(
    "backup",
    [
        None,
        backup_body({"phase": "Failed", "message": "repository locked"}, name=BACKUP),
        "unverified",
    ],
)
def test_a_failed_archive_keeps_the_volume_until_the_next_sleep(backup: Any) -> None:
    body = verified("Failed") if backup == "unverified" else backup
    step = step_of(seen(asleep(**archive("Archiving")), archive_backup=body))
    record = written(step)
    assert record is not None and record["state"] == "Failed"
    assert (True, "ArchiveFailed") in reasons(step)
    assert not any(isinstance(a, Delete) for a in step.actions)
    # The same sleep is not archived again; a later sleep is.
    assert plan_archive(seen(asleep(**archive("Failed")))) is None
    later = {"state": "Asleep", "hibernatedAt": stamp(SLEPT + timedelta(hours=1))}
    again = step_of(seen({"hibernation": later, **archive("Failed")}))
    assert any(isinstance(a, Create) for a in again.actions)


def test_woken_while_archiving_the_archive_is_abandoned() -> None:
    status = {
        "hibernation": {"state": "Waking", "hibernatedAt": stamp(SLEPT)},
        **archive("Archiving"),
    }
    step = step_of(seen(status, archive_backup=verified()))
    assert written(step) is None
    assert (False, "ArchiveAbandoned") in reasons(step)


def _waking() -> dict[str, Any]:
    return {
        "hibernation": {"state": "Waking", "hibernatedAt": stamp(SLEPT), "wokenAt": stamp(NOW)},
        **archive("Archived"),
    }


def test_a_wake_restores_the_world_from_the_archive_once() -> None:
    step = step_of(seen(_waking(), pvc=None))
    (create,) = [a for a in step.actions if isinstance(a, Create)]
    assert create.body["kind"] == "MinecraftRestore"
    assert create.body["spec"] == {"backup": BACKUP, "server": NAME}
    record = written(step)
    assert record is not None and record["state"] == "Restoring"
    assert record["restore"] == create.body["metadata"]["name"]
    assert (False, "Unarchiving") in reasons(step)


def test_the_owners_start_restores_it_too_and_a_stopped_one_waits() -> None:
    start = step_of(seen(archive("Archived"), pvc=None))
    assert any(isinstance(a, Create) for a in start.actions)
    stopped = step_of(seen(archive("Archived"), spec={**SPEC, "stopped": True}, pvc=None))
    assert stopped.settled


def test_the_world_back_ends_the_archive() -> None:
    name = unarchive_restore_name(NAME, BACKUP, "wake:x")
    status = {**_waking(), **archive("Restoring", restore=name)}
    restore = restore_body({"phase": "Starting"}, name=name, backup=BACKUP)
    step = step_of(seen(status, archive_restore=restore))
    assert written(step) is None
    assert (False, "Unarchived") in reasons(step)


def test_a_failed_restore_stays_archived_and_the_same_wake_is_not_tried_again() -> None:
    wake = f"wake:{NOW.isoformat()}"
    name = unarchive_restore_name(NAME, BACKUP, wake)
    status = {**_waking(), **archive("Restoring", restore=name)}
    failed = restore_body(
        {"phase": "Failed", "message": "snapshot unreadable"}, name=name, backup=BACKUP
    )
    step = step_of(seen(status, archive_restore=failed))
    record = written(step)
    assert record is not None and record["state"] == "Archived"
    assert (True, "UnarchiveFailed") in reasons(step)
    # The volume the failed restore made is kept (the next restore reuses it), no new restore.
    made = world({RESTORED_FROM_ANNOTATION: BACKUP})
    again = step_of(seen({**_waking(), **archive("Archived", restore=name)}, pvc=made))
    assert again.settled


def test_a_restore_of_another_backup_under_its_name_is_not_taken_for_the_archive() -> None:
    name = unarchive_restore_name(NAME, BACKUP, "wake:x")
    status = {**_waking(), **archive("Restoring", restore=name)}
    foreign = restore_body({"phase": "Completed"}, name=name, backup="someone-elses")
    step = step_of(seen(status, archive_restore=foreign))
    record = written(step)
    assert record is not None and record["state"] == "Archived"
    assert (True, "UnarchiveFailed") in reasons(step)


def test_restores_of_two_archives_never_share_a_name() -> None:
    assert unarchive_restore_name(NAME, "a", "start:3:") != unarchive_restore_name(
        NAME, "b", "start:3:"
    )


def test_turning_archiving_off_while_it_runs_keeps_the_volume() -> None:
    spec = {"hibernation": {"afterEmptyMinutes": 10}}
    step = step_of(seen(asleep(**archive("Archiving")), spec=spec, archive_backup=verified()))
    assert written(step) is None
    assert (False, "ArchiveAbandoned") in reasons(step)


def test_the_volume_stays_while_the_statefulset_still_asks_for_a_replica() -> None:
    step = step_of(seen(asleep(**archive("Archived")), statefulset=placed_statefulset(1)))
    assert not any(isinstance(a, Delete) for a in step.actions)


def test_after_a_failed_start_a_join_tries_the_restore_again() -> None:
    failed = unarchive_restore_name(NAME, BACKUP, "start:3:")
    status = {"hibernation": {"state": "Awake"}, **archive("Archived", restore=failed)}
    assert step_of(seen(status, pvc=None)).settled  # the same start: not again
    join = {
        "craftplane.io/wake-requested-at": stamp(NOW),
        "craftplane.io/wake-requested-by": "join:Alex",
    }
    body = server_body(SPEC, status, annotations=join)
    again = step_of(ServerSeen(server=body, now=NOW, statefulset=placed_statefulset(0)))
    assert any(isinstance(a, Create) for a in again.actions)
