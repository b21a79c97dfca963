"""The MinecraftBackup planner, transition by transition (pure: no cluster, no RCON)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from craftplane.contracts.backup import BACKUP_FINALIZER
from craftplane_operator.backups.actions import (
    Create,
    Delete,
    PatchObject,
    PatchStatus,
    Rcon,
    Record,
    Step,
)
from craftplane_operator.backups.backup_plan import PAUSE_DEADLINE, plan_backup
from craftplane_operator.backups.names import PRUNED_ANNOTATION
from craftplane_operator.backups.seen import BackupSeen, Failure, JobView, ServerView
from tests.unit.operator.backup_factories import (
    BACKUP,
    CONFIG,
    NOW,
    ago,
    backup_body,
    completed_status,
    finished,
    job,
    job_pod,
    restore_body,
    running_server,
    running_status,
    server_body,
    server_pod,
    stopped_server,
    world,
)
from tests.unit.operator.factories import NAME, UID

pytestmark = pytest.mark.unit

COPY = f"{BACKUP}-copy"
FORGET = f"{BACKUP}-forget"
NO_REPOSITORY = "no backup repository: the Secret craftplane-backups is missing"


def seen(backup: dict[str, Any], server: ServerView | None = None, **found: Any) -> BackupSeen:
    return BackupSeen(
        backup=backup,
        now=NOW,
        config=CONFIG,
        server=running_server() if server is None else server,
        **found,
    )


def status_patches(step: Step) -> list[dict[str, Any]]:
    return [a.patch for a in step.actions if isinstance(a, PatchStatus)]


def only_status(step: Step) -> dict[str, Any]:
    (patch,) = status_patches(step)
    return patch


def kinds(step: Step) -> list[str]:
    return [type(a).__name__ for a in step.actions]


def events(step: Step) -> list[tuple[str, str, bool]]:
    return [(a.body["kind"], a.reason, a.warning) for a in step.actions if isinstance(a, Record)]


def test_the_finalizer_comes_first() -> None:
    step = plan_backup(seen(backup_body(finalizers=[])))
    (action,) = step.actions
    assert isinstance(action, PatchObject)
    assert action.patch["metadata"]["finalizers"] == [BACKUP_FINALIZER]
    assert action.patch["metadata"]["resourceVersion"] == "10"


# -- Pending ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("found", "reason", "words"),
    [
        ({"server": ServerView()}, "ServerNotFound", "no MinecraftServer survival"),
        (
            {
                "repository": f"{NO_REPOSITORY} in namespace team-a (it needs the keys RESTIC_REPOSITORY, ...)"
            },
            "RepositoryNotConfigured",
            "craftplane-backups",
        ),
        (
            {"server": ServerView(server_body(), None, None, None)},
            "NoWorld",
            "no world volume yet",
        ),
        (
            {
                "server": ServerView(
                    server_body({"rcon": {"enabled": False}}), server_pod(), world()
                )
            },
            "SavesNotPaused",
            "RCON disabled",
        ),
    ],
    ids=["server missing", "no repository", "never started", "rcon disabled"],
)
def test_a_pending_backup_that_cannot_run_fails_with_a_reason(
    found: dict[str, Any], reason: str, words: str
) -> None:
    step = plan_backup(seen(backup_body(), **found))
    patch = only_status(step)
    assert patch["phase"] == "Failed" and patch["reason"] == reason
    assert words in patch["message"]
    assert patch["completedAt"] == "2026-03-01T12:00:00Z"
    assert ("MinecraftBackup", "BackupFailed", True) in events(step)


def test_the_repository_message_names_the_secret_and_its_keys() -> None:
    from craftplane_operator.backups.observe import repository_problem

    missing = repository_problem(None, "team-a")
    assert missing is not None and "craftplane-backups" in missing and "RESTIC_PASSWORD" in missing
    partial = repository_problem({"data": {"RESTIC_REPOSITORY": "cw=="}}, "team-a")
    assert partial is not None and "lacks RESTIC_PASSWORD, AWS_ACCESS_KEY_ID" in partial
    full = {
        "data": {
            k: "eA=="
            for k in (
                "RESTIC_REPOSITORY",
                "RESTIC_PASSWORD",
                "AWS_ACCESS_KEY_ID",
                "AWS_SECRET_ACCESS_KEY",
            )
        }
    }
    assert repository_problem(full, "team-a") is None


@pytest.mark.parametrize(
    ("queue", "jobs", "words"),
    [
        (
            [backup_body(running_status(), name="survival-older")],
            [],
            "MinecraftBackup survival-older (Running)",
        ),
        (
            [restore_body({"phase": "Restoring"})],
            [],
            "MinecraftRestore survival-restore-1 (Restoring)",
        ),
        (
            [backup_body(name="survival-0-older", created=ago(minutes=30))],
            [],
            "survival-0-older (Pending)",
        ),
        (
            [],
            [
                job(
                    "other-retention",
                    metadata={"labels": {"app.kubernetes.io/component": "backup-prune"}},
                )
            ],
            "Job other-retention",
        ),
    ],
    ids=["a backup runs", "a restore runs", "an older one waits", "a prune holds the repository"],
)
def test_a_backup_waits_its_turn_and_says_for_what(
    queue: list[dict[str, Any]], jobs: list[dict[str, Any]], words: str
) -> None:
    me = backup_body()
    step = plan_backup(seen(me, queue=(me, *queue), repository_jobs=tuple(jobs)))
    patch = only_status(step)
    assert patch["phase"] == "Pending" and patch["reason"] == "Waiting"
    assert words in patch["message"]
    assert step.requeue_after
    # Written once: the same wait again writes nothing.
    again = plan_backup(seen(backup_body(patch), queue=(me, *queue), repository_jobs=tuple(jobs)))
    assert again.actions == () and again.requeue_after


def test_a_newer_pending_backup_does_not_hold_up_an_older_one() -> None:
    me = backup_body(created=ago(minutes=10))
    newer = backup_body(name="survival-newer", created=ago(minutes=1))
    step = plan_backup(seen(me, queue=(me, newer)))
    assert only_status(step)["phase"] == "Running"


def test_a_starting_server_is_waited_for_then_given_up_on() -> None:
    starting = ServerView(server_body(), server_pod(ready=False), world())
    step = plan_backup(seen(backup_body(), starting))
    assert only_status(step)["message"] == "waiting for server survival to be Running or stopped"
    old = backup_body(created=ago(hours=2))
    assert only_status(plan_backup(seen(old, starting)))["reason"] == "ServerNotReady"


def test_a_running_server_records_saves_paused_before_anything_else() -> None:
    backup = backup_body(labels={"craftplane.io/backup-trigger": "scheduled"})
    step = plan_backup(seen(backup))
    assert kinds(step) == ["PatchStatus", "Record", "Record"]
    patch = only_status(step)
    assert patch == {
        "phase": "Running",
        "reason": "PausingSaves",
        "message": "pausing saves on the running server",
        "trigger": "scheduled",
        "serverUid": UID,
        "gameVersion": "LATEST",
        "serverType": "VANILLA",
        "startedAt": "2026-03-01T12:00:00Z",
        "savesPaused": True,
        "observedGeneration": 1,
    }
    assert [e[:2] for e in events(step)] == [
        ("MinecraftBackup", "BackupStarted"),
        ("MinecraftServer", "BackupStarted"),
    ]


def test_then_save_off_and_flush_precede_the_copy_job() -> None:
    step = plan_backup(seen(backup_body(running_status(savesPaused=True))))
    assert kinds(step) == ["Rcon", "Create", "PatchStatus"]
    rcon, create, _ = step.actions
    assert isinstance(rcon, Rcon) and rcon.commands == ("save-off", "save-all flush")
    assert isinstance(create, Create) and create.body["kind"] == "Job"
    assert create.body["metadata"]["name"] == COPY
    # Beside the running pod, where its volume is.
    affinity = create.body["spec"]["template"]["spec"]["affinity"]["nodeAffinity"]
    term = affinity["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"][0]
    assert term["matchFields"] == [{"key": "metadata.name", "operator": "In", "values": ["node-1"]}]


def test_a_stopped_server_is_copied_without_rcon() -> None:
    start = plan_backup(seen(backup_body(), stopped_server()))
    patch = only_status(start)
    assert patch["phase"] == "Running" and "savesPaused" not in patch
    step = plan_backup(seen(backup_body(running_status()), stopped_server()))
    assert kinds(step) == ["Create", "PatchStatus"]
    assert not any(isinstance(a, Rcon) for a in step.actions)


def test_a_server_that_stopped_after_save_off_is_copied_as_it_is() -> None:
    step = plan_backup(seen(backup_body(running_status(savesPaused=True)), stopped_server()))
    assert kinds(step) == ["Create", "PatchStatus", "Record"]
    assert status_patches(step)[0]["savesPaused"] is None


def test_a_server_that_started_meanwhile_gets_its_saves_paused_first() -> None:
    step = plan_backup(seen(backup_body(running_status())))
    assert kinds(step) == ["PatchStatus"] and only_status(step)["savesPaused"] is True


def test_save_off_failing_is_retried_then_fails_the_backup() -> None:
    paused = backup_body(running_status(savesPaused=True))
    fresh = Failure("RCON at x failed", NOW - timedelta(seconds=20), NOW - timedelta(seconds=2))
    step = plan_backup(seen(paused, failures={"save-off": fresh}))
    assert not any(isinstance(a, Rcon) for a in step.actions)
    assert "cannot pause saves over RCON" in only_status(step)["message"]
    assert step.requeue_after == pytest.approx(8)
    due = replace(fresh, last=NOW - timedelta(seconds=15))
    assert kinds(plan_backup(seen(paused, failures={"save-off": due})))[0] == "Rcon"
    old = Failure(
        "refused", NOW - PAUSE_DEADLINE - timedelta(seconds=1), NOW - timedelta(seconds=30)
    )
    patch = only_status(plan_backup(seen(paused, failures={"save-off": old})))
    assert patch["phase"] == "Failed" and patch["reason"] == "SavesNotPaused"


def test_a_refused_copy_job_fails_the_backup() -> None:
    step = plan_backup(
        seen(
            backup_body(running_status(savesPaused=True)), refusals={"copy": "exceeded quota: pods"}
        )
    )
    patch = only_status(step)
    assert patch["reason"] == "CopyNotStarted" and "exceeded quota" in patch["message"]


# -- Running ----------------------------------------------------------------------------------


def test_progress_comes_from_the_last_status_line() -> None:
    lines = (
        '{"message_type":"status","percent_done":0.1,"total_files":9,"files_done":1,"total_bytes":1000,"bytes_done":100}',
        '{"message_type":"status","percent_done":0.5,"total_files":9,"files_done":4,"total_bytes":1000,"bytes_done":500}',
        "not json",
    )
    view = JobView(job(COPY), job_pod(COPY), lines)
    step = plan_backup(seen(backup_body(running_status(savesPaused=True)), copy=view))
    assert only_status(step) == {
        "progress": {"bytesDone": 500, "bytesTotal": 1000, "filesDone": 4, "filesTotal": 9}
    }
    assert step.requeue_after == CONFIG.progress_seconds
    unchanged = backup_body(
        running_status(savesPaused=True, progress=only_status(step)["progress"])
    )
    assert plan_backup(seen(unchanged, copy=view)).actions == ()


def test_a_job_pod_that_cannot_start_fails_the_backup_at_once() -> None:
    waiting = {"reason": "ImagePullBackOff", "message": "pull access denied"}
    view = JobView(job(COPY), job_pod(COPY, waiting=waiting, phase="Pending"))
    patch = only_status(plan_backup(seen(backup_body(running_status(savesPaused=True)), copy=view)))
    assert patch["reason"] == "CopyNotStarted" and "ImagePullBackOff" in patch["message"]


def test_a_succeeded_copy_completes_with_restic_summary_then_saves_resume() -> None:
    view = finished(COPY)
    running = backup_body(running_status(savesPaused=True))
    step = plan_backup(seen(running, copy=view))
    patch = only_status(step)
    assert patch["phase"] == "Completed"
    assert (patch["snapshotId"], patch["sizeBytes"], patch["addedBytes"], patch["files"]) == (
        "65ecbb4b",
        17000,
        1783,
        3,
    )
    assert patch["durationSeconds"] == 2.5
    assert patch["progress"]["bytesDone"] == patch["progress"]["bytesTotal"] == 17000
    assert ("MinecraftServer", "BackupCompleted", False) in events(step)
    done = backup_body({**running_status(savesPaused=True), **patch})
    resume = plan_backup(seen(done, copy=view))
    assert kinds(resume)[:2] == ["Rcon", "PatchStatus"]
    assert resume.actions[0] == Rcon("team-a", NAME, ("save-on",), "save-on")
    assert only_status(resume) == {"savesPaused": False}
    resumed = backup_body({**running_status(), **patch, "savesPaused": False})
    cleanup = plan_backup(seen(resumed, copy=view))
    assert cleanup.actions == (Delete("Job", "team-a", COPY),)
    assert plan_backup(seen(resumed)).settled


@pytest.mark.parametrize(
    ("view", "reason", "words"),
    [
        (
            finished(COPY, ok=False, code=1, termination="Fatal: unable to open repository"),
            "CopyFailed",
            "exit code 1): Fatal: unable to open repository",
        ),
        (finished(COPY, ok=False, code=137, termination=""), "CopyKilled", "signal 9"),
        (
            finished(COPY, ok=False, code=137, termination="", reason="OOMKilled"),
            "CopyKilled",
            "memory",
        ),
        (
            JobView(job(COPY, "Failed", reason="DeadlineExceeded"), None, None),
            "DeadlineExceeded",
            "longer than 21600 s",
        ),
        (
            JobView(job(COPY, "Failed", reason="BackoffLimitExceeded"), None, ("last line",)),
            "CopyKilled",
            "deleted or evicted",
        ),
        (finished(COPY, termination="no summary here"), "CopyFailed", "without restic's summary"),
    ],
    ids=["restic fails", "killed", "out of memory", "deadline", "pod gone", "no summary"],
)
def test_a_failed_copy_says_why_and_saves_resume(view: JobView, reason: str, words: str) -> None:
    step = plan_backup(seen(backup_body(running_status(savesPaused=True)), copy=view))
    patch = only_status(step)
    assert patch["phase"] == "Failed" and patch["reason"] == reason
    assert words in patch["message"]
    failed = backup_body({**running_status(savesPaused=True), **patch})
    resume = plan_backup(seen(failed, copy=view))
    assert isinstance(resume.actions[0], Rcon) and resume.actions[0].commands == ("save-on",)


def test_the_log_tail_explains_a_failure_without_a_termination_message() -> None:
    view = replace(
        finished(COPY, ok=False, code=1, termination=""),
        log=("Fatal: repository is already locked exclusively",),
    )
    patch = only_status(plan_backup(seen(backup_body(running_status(savesPaused=True)), copy=view)))
    assert "already locked exclusively" in patch["message"]


# -- save-on whatever happens -------------------------------------------------------------------


def test_after_an_operator_restart_a_terminal_backup_still_paused_resumes_saves() -> None:
    """The Job was deleted and the status says Failed, but save-on never went out."""
    stuck = backup_body(
        {**running_status(savesPaused=True), "phase": "Failed", "reason": "CopyFailed"}
    )
    step = plan_backup(seen(stuck))
    assert step.actions[0] == Rcon("team-a", NAME, ("save-on",), "save-on")


@pytest.mark.parametrize(
    "server",
    [
        ServerView(server_body(), server_pod(started=ago(seconds=10)), world()),
        ServerView(server_body(), None, world()),
        ServerView(),
    ],
    ids=["process restarted", "server stopped", "server deleted"],
)
def test_a_new_server_process_saves_as_usual_so_the_flag_is_cleared(server: ServerView) -> None:
    stuck = backup_body(completed_status(savesPaused=True))
    step = plan_backup(seen(stuck, server))
    assert not any(isinstance(a, Rcon) for a in step.actions)
    assert only_status(step) == {"savesPaused": False}
    assert "SavesResumed" in [e[1] for e in events(step)]


def test_save_on_failing_is_retried_after_a_pause() -> None:
    stuck = backup_body(completed_status(savesPaused=True, startedAt=ago(minutes=5)))
    failure = Failure("timed out", NOW - timedelta(seconds=5), NOW - timedelta(seconds=5))
    step = plan_backup(seen(stuck, failures={"save-on": failure}))
    assert step.actions == () and step.requeue_after == pytest.approx(5)


# -- deletion ---------------------------------------------------------------------------------


def test_deleting_a_running_backup_resumes_saves_stops_the_copy_and_lets_go() -> None:
    deleting = backup_body(running_status(savesPaused=True), deleting=True)
    step = plan_backup(seen(deleting, copy=JobView(job(COPY))))
    assert isinstance(step.actions[0], Rcon)
    resumed = backup_body(running_status(savesPaused=False), deleting=True)
    step = plan_backup(seen(resumed, copy=JobView(job(COPY))))
    assert step.actions == (Delete("Job", "team-a", COPY),)
    step = plan_backup(seen(resumed))
    (release,) = step.actions
    assert isinstance(release, PatchObject) and release.patch["metadata"]["finalizers"] == []


def test_deleting_a_completed_backup_forgets_its_snapshot_first() -> None:
    deleting = backup_body(completed_status(), deleting=True)
    step = plan_backup(seen(deleting))
    create = step.actions[0]
    assert isinstance(create, Create) and create.body["metadata"]["name"] == FORGET
    assert "ownerReferences" not in create.body["metadata"]
    script = create.body["spec"]["template"]["spec"]["containers"][0]["command"][2]
    assert "run restic forget 8ed2a234 --prune" in script
    assert plan_backup(seen(deleting, forget=JobView(job(FORGET, owner_uid="")))).requeue_after
    done = plan_backup(seen(deleting, forget=finished(FORGET, termination="")))
    assert kinds(done) == ["Delete", "Record", "Record", "PatchObject"]
    assert "SnapshotForgotten" in [e[1] for e in events(done)]


def test_a_failed_forget_warns_and_lets_the_backup_go() -> None:
    deleting = backup_body(completed_status(), deleting=True)
    step = plan_backup(
        seen(deleting, forget=finished(FORGET, ok=False, code=1, termination="Fatal: no repo"))
    )
    assert kinds(step)[-1] == "PatchObject"
    assert ("MinecraftBackup", "SnapshotKept", True) in events(step)


@pytest.mark.parametrize(
    ("backup", "found"),
    [
        (
            backup_body(completed_status(), deleting=True, annotations={PRUNED_ANNOTATION: "true"}),
            {},
        ),
        (backup_body({"phase": "Failed"}, deleting=True), {}),
        (backup_body(completed_status(), deleting=True), {"repository": NO_REPOSITORY}),
    ],
    ids=["retention forgot it", "no snapshot", "repository gone"],
)
def test_a_backup_with_nothing_to_forget_goes_at_once(
    backup: dict[str, Any], found: dict[str, Any]
) -> None:
    step = plan_backup(seen(backup, **found))
    assert not any(isinstance(a, Create) for a in step.actions)
    release = step.actions[-1]
    assert isinstance(release, PatchObject) and release.patch["metadata"]["finalizers"] == []


def test_a_backup_deleted_without_our_finalizer_is_left_alone() -> None:
    assert plan_backup(seen(backup_body(completed_status(), deleting=True, finalizers=[]))).settled


def terminating_pod() -> dict[str, Any]:
    pod = server_pod(ready=False)
    pod["metadata"]["deletionTimestamp"] = ago(seconds=5)
    return pod


def test_a_server_still_saving_on_its_way_out_is_not_copied_yet() -> None:
    stopping = ServerView(server_body({"stopped": True}), terminating_pod(), world())
    step = plan_backup(seen(backup_body(), stopping))
    assert only_status(step)["phase"] == "Pending" and step.requeue_after
    running = plan_backup(seen(backup_body(running_status()), stopping))
    assert not any(isinstance(a, Create) for a in running.actions)


@pytest.mark.parametrize(
    ("status", "server"),
    [
        (
            running_status(savesPaused=True),
            ServerView(server_body(), server_pod(started=ago(seconds=10)), world()),
        ),
        (running_status(savesPaused=True), ServerView(server_body(), terminating_pod(), world())),
        (
            running_status(),
            ServerView(server_body(), server_pod(ready=False, started=ago(seconds=5)), world()),
        ),
    ],
    ids=["restarted", "stopping", "started during a stopped copy"],
)
def test_a_world_that_changes_under_the_copy_fails_it(
    status: dict[str, Any], server: ServerView
) -> None:
    view = JobView(job(COPY), job_pod(COPY), None)
    step = plan_backup(seen(backup_body(status), server, copy=view))
    patch = only_status(step)
    assert (patch["phase"], patch["reason"]) == ("Failed", "WorldChanged")
    assert step.actions[-1] == Delete("Job", "team-a", COPY)


@pytest.mark.parametrize(
    ("state", "kept"), [("Archived", True), ("Restoring", True), ("Failed", False)]
)
def test_the_archive_of_a_server_without_a_volume_is_kept_until_its_world_is_back(
    state: str, kept: bool
) -> None:
    deleting = backup_body(completed_status(), deleting=True)
    archive = {"state": state, "backup": BACKUP}
    server = ServerView(server_body(status={"archive": archive}), None, None, None)
    step = plan_backup(seen(deleting, server))
    if kept:
        assert step.requeue_after and kinds(step) == ["PatchStatus"]
        patch = next(a.patch for a in step.actions if isinstance(a, PatchStatus))
        assert "only copy" in patch["message"]
    else:
        assert isinstance(step.actions[0], Create)  # forgets the snapshot as any backup
