"""After a backup completes: retention of scheduled snapshots, and verification by booting."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from craftplane.contracts.backup import LABEL_VERIFIES, VERIFY_REQUEST_ANNOTATION
from craftplane_operator.backups.actions import (
    Create,
    Delete,
    PatchObject,
    PatchStatus,
    Record,
    Step,
)
from craftplane_operator.backups.backup_plan import plan_backup
from craftplane_operator.backups.names import (
    PRUNED_ANNOTATION,
    RETENTION_ANNOTATION,
    scratch_server_name,
)
from craftplane_operator.backups.seen import BackupSeen, JobView, ServerView
from craftplane_operator.backups.verify import scratch_spec
from tests.unit.operator.backup_factories import (
    BACKUP,
    BACKUP_UID,
    CONFIG,
    NOW,
    ago,
    backup_body,
    completed_status,
    finished,
    job,
    restore_body,
    running_server,
    server_body,
    server_pod,
    world,
)
from tests.unit.operator.factories import UID

pytestmark = pytest.mark.unit

RETENTION_JOB = f"{BACKUP}-retention"
KEEP_TWO = {"backups": {"schedule": "0 * * * *", "retention": {"keepLast": 2, "keepDaily": 3}}}


def seen(backup: dict[str, Any], server: ServerView | None = None, **found: Any) -> BackupSeen:
    return BackupSeen(
        backup=backup, now=NOW, config=CONFIG, server=server or running_server(), **found
    )


def scheduled(name: str, snapshot: str, **extra: Any) -> dict[str, Any]:
    return backup_body(
        completed_status(snapshot, trigger="scheduled"),
        name=name,
        labels={"craftplane.io/backup-trigger": "scheduled"},
        **extra,
    )


def kept(*ids: str) -> JobView:
    listed = ",".join(f'"{i}"' for i in ids)
    return finished(
        RETENTION_JOB, termination=f'{{"message_type":"kept","short_ids":[{listed}]}}\n'
    )


def with_retention(**spec: Any) -> ServerView:
    return ServerView(server_body(KEEP_TWO | spec), server_pod(), world())


def test_a_completed_scheduled_backup_runs_the_retention_job() -> None:
    me = scheduled(BACKUP, "cccccccc")
    step = plan_backup(seen(me, with_retention()))
    create, record = step.actions
    assert isinstance(create, Create) and create.body["metadata"]["name"] == RETENTION_JOB
    labels = create.body["metadata"]["labels"]
    assert labels["app.kubernetes.io/component"] == "backup-prune"
    script = create.body["spec"]["template"]["spec"]["containers"][0]["command"][2]
    assert (
        "run restic forget --host survival --tag "
        f"craftplane.io/server-uid={UID},craftplane.io/trigger=scheduled "
        "--keep-last 2 --keep-daily 3 --prune"
    ) in script
    assert isinstance(record, Record) and record.reason == "RetentionStarted"


def test_the_retention_waits_for_other_jobs_using_the_repository() -> None:
    me = scheduled(BACKUP, "cccccccc")
    other = job("other-copy", metadata={"labels": {"app.kubernetes.io/component": "backup-copy"}})
    step = plan_backup(seen(me, with_retention(), repository_jobs=(other,)))
    assert step.actions == () and step.requeue_after


def test_backups_whose_snapshots_were_forgotten_are_marked_and_deleted() -> None:
    me = scheduled(BACKUP, "cccccccc")
    older = scheduled("survival-a", "aaaaaaaa")
    old = scheduled("survival-b", "bbbbbbbb")
    manual = backup_body(completed_status("dddddddd"), name="survival-manual")
    another_uid = scheduled("survival-old-server", "eeeeeeee")
    another_uid["status"]["serverUid"] = "another-uid"
    queue = (me, older, old, manual, another_uid)
    step = plan_backup(
        seen(me, with_retention(), retention=kept("cccccccc", "bbbbbbbb"), queue=queue)
    )
    marks = [a for a in step.actions if isinstance(a, PatchObject)]
    assert [(m.name, m.patch) for m in marks] == [
        ("survival-a", {"metadata": {"annotations": {PRUNED_ANNOTATION: "true"}}}),
        (BACKUP, {"metadata": {"annotations": {RETENTION_ANNOTATION: "true"}}}),
    ]
    deletes = [a for a in step.actions if isinstance(a, Delete)]
    assert deletes == [
        Delete("Job", "team-a", RETENTION_JOB),
        Delete("MinecraftBackup", "team-a", "survival-a"),
    ]
    # Marked before deleted: its finalizer then forgets nothing more.
    assert step.actions.index(marks[0]) < step.actions.index(deletes[1])


def test_an_unreadable_kept_list_deletes_nothing() -> None:
    me = scheduled(BACKUP, "cccccccc")
    view = finished(RETENTION_JOB, termination='{"message_type":"kept","short_ids":["ccc')
    step = plan_backup(
        seen(me, with_retention(), retention=view, queue=(me, scheduled("survival-a", "aaaaaaaa")))
    )
    assert not any(isinstance(a, Delete) and a.kind == "MinecraftBackup" for a in step.actions)
    assert "RetentionUnknown" in [a.reason for a in step.actions if isinstance(a, Record)]


def test_a_failed_retention_is_reported_and_not_retried() -> None:
    me = scheduled(BACKUP, "cccccccc")
    step = plan_backup(
        seen(
            me,
            with_retention(),
            retention=finished(RETENTION_JOB, ok=False, code=1, termination="locked"),
        )
    )
    assert ("RetentionFailed", True) in [
        (a.reason, a.warning) for a in step.actions if isinstance(a, Record)
    ]
    done = scheduled(BACKUP, "cccccccc", annotations={RETENTION_ANNOTATION: "true"})
    assert plan_backup(seen(done, with_retention())).settled


def test_no_retention_for_manual_backups_or_a_replaced_server() -> None:
    assert plan_backup(seen(backup_body(completed_status()), with_retention())).settled
    me = scheduled(BACKUP, "cccccccc")
    me["status"]["serverUid"] = "the-old-server"
    (mark,) = plan_backup(seen(me, with_retention())).actions
    assert (
        isinstance(mark, PatchObject)
        and RETENTION_ANNOTATION in mark.patch["metadata"]["annotations"]
    )


# -- verification -------------------------------------------------------------------------------


SOURCE = {
    "type": "PAPER",
    "version": "1.21.4",
    "image": "itzg/minecraft-server:2025.10.2",
    "resources": {"cpu": "2", "memory": "4Gi"},
    "storage": {"size": "20Gi", "storageClassName": "fast", "retainOnDelete": True},
    "allowlist": ["Alex"],
    "ops": ["Alex"],
    "service": {"type": "LoadBalancer"},
    "placement": "games",
    "lifecycle": {"restartSchedule": {"cron": "0 4 * * *"}},
    "backups": {"schedule": "0 * * * *", "verify": True},
}


def test_the_scratch_server_boots_the_backup_unexposed_and_disposable() -> None:
    spec = scratch_spec({"eula": True, **SOURCE}, {}, BACKUP)
    assert spec == {
        "type": "PAPER",
        "version": "1.21.4",
        "image": "itzg/minecraft-server:2025.10.2",
        "resources": {"cpu": "2", "memory": "4Gi"},
        "placement": "games",
        "eula": True,
        "storage": {"size": "20Gi", "storageClassName": "fast", "retainOnDelete": False},
        "service": {"type": "ClusterIP"},
        "restoreFrom": {"backup": BACKUP},
    }
    gone = scratch_spec(None, {"serverType": "FABRIC", "gameVersion": "1.20.1"}, BACKUP)
    assert (gone["type"], gone["version"], gone["restoreFrom"]) == (
        "FABRIC",
        "1.20.1",
        {"backup": BACKUP},
    )


def test_scratch_names_fit_and_differ_per_request() -> None:
    long = "a" * 52
    name = scratch_server_name(long, "b" * 200, "2026-03-01T12:00:00Z")
    assert len(name) <= 52 and "-verify-" in name and name[0] == "a"
    assert name != scratch_server_name(long, "b" * 200, "2026-03-02T12:00:00Z")


def test_a_backup_of_a_server_that_verifies_boots_a_scratch_server_owned_by_it() -> None:
    server = ServerView(server_body(SOURCE), server_pod(), world())
    step = plan_backup(seen(backup_body(completed_status()), server))
    patch, create = step.actions[:2]
    assert isinstance(patch, PatchStatus)
    verification = patch.patch["verification"]
    assert verification["state"] == "Running" and verification["requestedAt"] is None
    assert isinstance(create, Create)
    body = create.body
    assert (
        body["kind"] == "MinecraftServer"
        and body["metadata"]["name"] == verification["scratchServer"]
    )
    assert body["metadata"]["labels"] == {LABEL_VERIFIES: BACKUP}
    (owner,) = body["metadata"]["ownerReferences"]
    assert (owner["kind"], owner["uid"], owner["controller"]) == (
        "MinecraftBackup",
        BACKUP_UID,
        True,
    )
    assert body["spec"]["restoreFrom"] == {"backup": BACKUP}
    assert "allowlist" not in body["spec"] and "backups" not in body["spec"]


def test_a_request_annotation_verifies_once_per_value() -> None:
    request = {VERIFY_REQUEST_ANNOTATION: "2026-03-01T11:59:00Z"}
    backup = backup_body(completed_status(), annotations=request)
    step = plan_backup(seen(backup))
    assert step.actions[0].patch["verification"]["requestedAt"] == "2026-03-01T11:59:00Z"  # type: ignore[union-attr]
    answered = {"state": "Verified", "requestedAt": "2026-03-01T11:59:00Z", "scratchServer": "x"}
    done = backup_body(completed_status(verification=answered), annotations=request)
    assert plan_backup(seen(done)).settled
    again = backup_body(
        completed_status(verification=answered), annotations={VERIFY_REQUEST_ANNOTATION: "later"}
    )
    assert isinstance(plan_backup(seen(again)).actions[1], Create)


def verifying(scratch: str = "survival-verify-abc123", **extra: Any) -> dict[str, Any]:
    verification = {"state": "Running", "scratchServer": scratch, "requestedAt": None, **extra}
    return backup_body(completed_status(verification=verification))


def scratch_body(created: str | None = None, **status: Any) -> dict[str, Any]:
    body = server_body(status=status or None)
    body["metadata"].update(
        name="survival-verify-abc123", creationTimestamp=created or ago(minutes=2)
    )
    return body


@pytest.mark.parametrize(
    ("restore", "created", "state", "reason"),
    [
        (restore_body({"phase": "Completed"}), None, "Verified", "Verified"),
        (
            restore_body(
                {
                    "phase": "Failed",
                    "reason": "RestoreFailed",
                    "message": "ciphertext verification failed",
                }
            ),
            None,
            "Failed",
            "RestoreFailed",
        ),
        (restore_body({"phase": "Starting"}), ago(minutes=11), "Failed", "VerifyTimedOut"),
    ],
    ids=["restored and running", "corrupted pack", "never running"],
)
def test_the_verification_ends_and_the_scratch_server_goes(
    restore: dict[str, Any], created: str | None, state: str, reason: str
) -> None:
    step = plan_backup(seen(verifying(), scratch=scratch_body(created), scratch_restore=restore))
    patch = step.actions[0]
    assert isinstance(patch, PatchStatus)
    ended = patch.patch["verification"]
    assert (ended["state"], ended["reason"], ended["at"]) == (state, reason, "2026-03-01T12:00:00Z")
    assert ended["scratchServer"] == "survival-verify-abc123"
    assert Delete("MinecraftServer", "team-a", "survival-verify-abc123") in step.actions
    if reason == "RestoreFailed":
        assert "ciphertext verification failed" in ended["message"]


def test_a_verification_in_progress_waits_until_its_deadline() -> None:
    step = plan_backup(
        seen(
            verifying(),
            scratch=scratch_body(),
            scratch_restore=restore_body({"phase": "Restoring"}),
        )
    )
    assert step.actions == ()
    assert step.requeue_after is not None and step.requeue_after <= 30
    assert CONFIG.verify_deadline == timedelta(minutes=10)


def test_a_refused_scratch_server_fails_the_verification() -> None:
    step = plan_backup(
        seen(verifying(), refusals={"verify": "exceeded quota: count/minecraftservers"})
    )
    patch = step.actions[0]
    assert (
        isinstance(patch, PatchStatus) and patch.patch["verification"]["reason"] == "ScratchRefused"
    )


def test_a_finished_verification_deletes_a_scratch_server_left_behind() -> None:
    done = backup_body(
        completed_status(
            verification={"state": "Failed", "scratchServer": "survival-verify-abc123"}
        )
    )
    step: Step = plan_backup(seen(done, scratch=scratch_body()))
    assert step.actions == (Delete("MinecraftServer", "team-a", "survival-verify-abc123"),)


def test_a_scratch_server_is_never_verified_itself() -> None:
    spec = scratch_spec({"eula": True, **SOURCE}, {}, BACKUP)
    assert "backups" not in spec and "lifecycle" not in spec
