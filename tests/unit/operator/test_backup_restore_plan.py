"""The MinecraftRestore planner: Pending -> Stopping -> Restoring -> Starting -> Completed."""

from __future__ import annotations

from typing import Any

import pytest

from craftplane.contracts.backup import RESTORE_HOLD_ANNOTATION
from craftplane_operator.backups.actions import (
    Create,
    Delete,
    PatchObject,
    PatchStatus,
    Record,
    Step,
)
from craftplane_operator.backups.names import RESTORED_FROM_ANNOTATION
from craftplane_operator.backups.restore_plan import plan_restore
from craftplane_operator.backups.seen import JobView, RestoreSeen, ServerView
from tests.unit.operator.backup_factories import (
    CONFIG,
    NOW,
    RESTORE,
    RESTORE_UID,
    ago,
    backup_body,
    completed_status,
    finished,
    job,
    job_pod,
    placed_statefulset,
    restore_body,
    running_server,
    running_status,
    server_body,
    server_pod,
    world,
)
from tests.unit.operator.factories import NAME

pytestmark = pytest.mark.unit

JOB = f"{RESTORE}-restore"
HELD = {RESTORE_HOLD_ANNOTATION: RESTORE}


def seen(restore: dict[str, Any], server: ServerView | None = None, **found: Any) -> RestoreSeen:
    found.setdefault("backup", backup_body(completed_status()))
    return RestoreSeen(
        restore=restore,
        now=NOW,
        config=CONFIG,
        server=running_server() if server is None else server,
        **found,
    )


def held_server(pod: bool = False, **extra: Any) -> ServerView:
    body = server_body(annotations=HELD, **extra)
    return ServerView(body, server_pod() if pod else None, world(), placed_statefulset(0))


def statuses(step: Step) -> list[PatchStatus]:
    return [a for a in step.actions if isinstance(a, PatchStatus)]


def own_status(step: Step) -> dict[str, Any]:
    (patch,) = [p.patch for p in statuses(step) if p.kind == "MinecraftRestore"]
    return patch


def holds(step: Step) -> list[Any]:
    return [
        a.patch["metadata"]["annotations"][RESTORE_HOLD_ANNOTATION]
        for a in step.actions
        if isinstance(a, PatchObject) and a.kind == "MinecraftServer"
    ]


@pytest.mark.parametrize(
    ("found", "reason"),
    [
        ({"backup": None}, "BackupNotReady"),
        ({"backup": backup_body(running_status())}, "BackupNotReady"),
        ({"backup": backup_body({"phase": "Failed"})}, "BackupNotReady"),
        ({"server": ServerView()}, "ServerNotFound"),
        (
            {"repository": "no backup repository: the Secret craftplane-backups is missing"},
            "RepositoryNotConfigured",
        ),
    ],
    ids=["no backup", "backup running", "backup failed", "no server", "no repository"],
)
def test_a_restore_that_cannot_run_fails_at_once(found: dict[str, Any], reason: str) -> None:
    step = plan_restore(seen(restore_body(), **found))
    patch = own_status(step)
    assert (patch["phase"], patch["reason"]) == ("Failed", reason)
    assert holds(step) == []


def test_a_restore_waits_for_a_running_backup_of_its_server() -> None:
    me = restore_body()
    busy = backup_body(running_status(savesPaused=True), name="survival-now")
    patch = own_status(plan_restore(seen(me, queue=(me, busy))))
    assert (
        patch["reason"] == "Waiting"
        and "MinecraftBackup survival-now (Running)" in patch["message"]
    )


def test_stopping_holds_the_server_and_tells_both() -> None:
    step = plan_restore(seen(restore_body()))
    patch = own_status(step)
    assert patch["phase"] == "Stopping" and patch["snapshotId"] == "8ed2a234"
    assert patch["startedAt"] == "2026-03-01T12:00:00Z"
    assert holds(step) == [RESTORE]
    reasons = [(a.body["kind"], a.reason) for a in step.actions if isinstance(a, Record)]
    assert reasons == [
        ("MinecraftRestore", "RestoreStarted"),
        ("MinecraftServer", "RestoreStarted"),
    ]


def test_stopping_waits_for_the_pod_to_go_then_restores() -> None:
    stopping = restore_body(
        {"phase": "Stopping", "snapshotId": "8ed2a234", "startedAt": ago(seconds=30)}
    )
    waiting = plan_restore(seen(stopping, held_server(pod=True)))
    assert waiting.actions == () and waiting.requeue_after
    timed_out = restore_body({"phase": "Stopping", "startedAt": ago(hours=1)})
    step = plan_restore(seen(timed_out, held_server(pod=True)))
    assert own_status(step)["reason"] == "StopTimedOut" and holds(step) == [None]
    gone = plan_restore(seen(stopping, held_server()))
    assert own_status(gone)["phase"] == "Restoring"


def test_a_hold_removed_by_hand_is_set_again_while_stopping() -> None:
    stopping = restore_body({"phase": "Stopping", "startedAt": ago(seconds=30)})
    step = plan_restore(seen(stopping, ServerView(server_body(), server_pod(), world())))
    assert holds(step) == [RESTORE]


def test_restoring_creates_the_read_write_restore_job() -> None:
    restoring = restore_body(
        {"phase": "Restoring", "snapshotId": "8ed2a234", "startedAt": ago(minutes=1)}
    )
    step = plan_restore(seen(restoring, held_server()))
    (create,) = step.actions
    assert isinstance(create, Create) and create.body["metadata"]["name"] == JOB
    pod = create.body["spec"]["template"]["spec"]
    assert pod["volumes"][0]["persistentVolumeClaim"] == {
        "claimName": f"data-{NAME}-0",
        "readOnly": False,
    }
    assert pod["containers"][0]["volumeMounts"][0]["readOnly"] is False
    assert create.body["metadata"]["ownerReferences"][0]["uid"] == RESTORE_UID
    script = pod["containers"][0]["command"][2]
    assert "run restic restore 8ed2a234 --target /data/.craftplane-restore --verify" in script


def test_a_server_without_a_world_volume_gets_one_like_its_claim_template() -> None:
    restoring = restore_body({"phase": "Restoring", "snapshotId": "8ed2a234"})
    server = ServerView(server_body(annotations=HELD), None, None, placed_statefulset(0))
    create_pvc, create_job = plan_restore(seen(restoring, server)).actions
    assert isinstance(create_pvc, Create) and isinstance(create_job, Create)
    pvc = create_pvc.body
    assert pvc["metadata"]["name"] == f"data-{NAME}-0"
    assert pvc["metadata"]["annotations"] == {RESTORED_FROM_ANNOTATION: "survival-manual-1"}
    assert pvc["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "craftplane-operator"
    assert pvc["spec"]["storageClassName"] == "local"
    assert "ownerReferences" not in pvc["metadata"], "kept with the server's world (the default)"
    spec = {"storage": {"retainOnDelete": False}}
    # Before the reconciler made the StatefulSet, neither the volume's class nor the Job's
    # node is known: the restore waits for it (else the Job could run on another node).
    unplaced = ServerView(server_body(spec, annotations=HELD), None, None, None)
    early = plan_restore(seen(restoring, unplaced))
    assert early.requeue_after and "waiting for the StatefulSet" in own_status(early)["message"]
    assert not [a for a in early.actions if isinstance(a, Create)]
    statefulset = placed_statefulset(0)
    disposable = ServerView(server_body(spec, annotations=HELD), None, None, statefulset)
    create_owned = plan_restore(seen(restoring, disposable)).actions[0]
    assert isinstance(create_owned, Create)
    (owner,) = create_owned.body["metadata"]["ownerReferences"]
    assert (owner["kind"], owner["name"], owner["controller"]) == ("MinecraftServer", NAME, False)
    template = statefulset["spec"]["volumeClaimTemplates"][0]["spec"]
    assert create_owned.body["spec"]["resources"] == template["resources"]


def test_restore_progress_comes_from_the_scripts_status_lines() -> None:
    restoring = restore_body({"phase": "Restoring"})
    lines = ('{"message_type":"status","bytes_done":40,"total_bytes":100}',)
    step = plan_restore(
        seen(
            restoring,
            held_server(),
            job=JobView(job(JOB, owner_uid=RESTORE_UID), job_pod(JOB), lines),
        )
    )
    assert own_status(step) == {"progress": {"bytesDone": 40, "bytesTotal": 100}}


def test_a_restored_world_lifts_the_hold_and_records_restore_from() -> None:
    restoring = restore_body(
        {"phase": "Restoring", "progress": {"bytesDone": 90, "bytesTotal": 100}}
    )
    server = ServerView(
        server_body({"restoreFrom": {"backup": "survival-manual-1"}}, annotations=HELD),
        None,
        world(),
        placed_statefulset(0),
    )
    step = plan_restore(seen(restoring, server, job=finished(JOB, termination="")))
    kinds = [(type(a).__name__, getattr(a, "kind", "")) for a in step.actions]
    assert kinds[:3] == [
        ("PatchStatus", "MinecraftRestore"),
        ("PatchStatus", "MinecraftServer"),
        ("PatchObject", "MinecraftServer"),
    ]
    assert own_status(step)["phase"] == "Starting"
    assert own_status(step)["progress"] == {"bytesDone": 100, "bytesTotal": 100}
    server_patch = next(p for p in statuses(step) if p.kind == "MinecraftServer")
    assert server_patch.patch == {"restoredFrom": "survival-manual-1"}
    assert holds(step) == [None]


def test_a_failed_restore_lifts_the_hold_and_says_why() -> None:
    restoring = restore_body({"phase": "Restoring"})
    failed = finished(JOB, ok=False, code=1, termination="ciphertext verification failed")
    step = plan_restore(seen(restoring, held_server(), job=failed))
    patch = own_status(step)
    assert (patch["phase"], patch["reason"]) == ("Failed", "RestoreFailed")
    assert "ciphertext verification failed" in patch["message"]
    assert "left as it was" in patch["message"]
    assert holds(step) == [None]


def test_starting_completes_when_the_server_runs_again() -> None:
    starting = restore_body({"phase": "Starting"})
    done = finished(JOB, termination="")
    not_yet = plan_restore(
        seen(starting, ServerView(server_body(status={"phase": "Starting"})), job=done)
    )
    assert not_yet.actions == () and not_yet.requeue_after
    before = ServerView(server_body(status={"phase": "Running"}), server_pod())
    stale = plan_restore(seen(starting, before, job=done))
    assert stale.actions == (), "a pod older than the restore is not the restored world"
    running = ServerView(
        server_body(status={"phase": "Running"}), server_pod(started=ago(seconds=-30))
    )
    step = plan_restore(seen(starting, running, job=done))
    assert own_status(step)["phase"] == "Completed"
    # Unheld as soon as the restore's pod finished, the server may start before the Job
    # controller stamps the Job's completionTime; it still runs the restored world.
    quick = ServerView(
        server_body(status={"phase": "Running"}), server_pod(started=ago(seconds=20))
    )
    assert own_status(plan_restore(seen(starting, quick, job=done)))["phase"] == "Completed"
    completed = restore_body({"phase": "Completed"})
    assert plan_restore(seen(completed, running, job=done)).actions == (
        Delete("Job", "team-a", JOB),
    )
    assert plan_restore(seen(completed, running)).settled


def test_a_stopped_server_completes_its_restore_stopped() -> None:
    starting = restore_body({"phase": "Starting"})
    stopped = ServerView(server_body({"stopped": True}, status={"phase": "Stopped"}))
    assert "stays stopped" in own_status(plan_restore(seen(starting, stopped)))["message"]


def test_a_server_that_does_not_start_after_its_restore_times_out() -> None:
    starting = restore_body({"phase": "Starting"})
    done = finished(JOB, termination="")
    assert done.job is not None
    finished_long_ago = {**done.job["status"], "completionTime": ago(hours=1)}
    done = JobView({**done.job, "status": finished_long_ago}, done.pod)
    step = plan_restore(
        seen(
            starting,
            ServerView(server_body(status={"phase": "Error", "message": "crash loop"})),
            job=done,
        )
    )
    patch = own_status(step)
    assert patch["reason"] == "StartTimedOut" and "crash loop" in patch["message"]


def test_a_volume_grown_since_its_template_comes_back_at_the_grown_size() -> None:
    restoring = restore_body({"phase": "Restoring", "snapshotId": "8ed2a234"})
    statefulset = placed_statefulset(0)
    template = statefulset["spec"]["volumeClaimTemplates"][0]["spec"]
    template_size = template["resources"]["requests"]["storage"]
    grown = ServerView(
        server_body({"storage": {"size": "500Gi"}}, annotations=HELD), None, None, statefulset
    )
    pvc = plan_restore(seen(restoring, grown)).actions[0]
    assert isinstance(pvc, Create)
    assert pvc.body["spec"]["resources"]["requests"]["storage"] == "500Gi" != template_size
    # The template's own (unchanged) size stays.
    plain = ServerView(server_body(annotations=HELD), None, None, placed_statefulset(0))
    same = plan_restore(seen(restoring, plain)).actions[0]
    assert isinstance(same, Create)
    assert same.body["spec"]["resources"]["requests"]["storage"] == template_size
