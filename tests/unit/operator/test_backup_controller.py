"""The backup controller against an in-memory API server and a stand-in RCON: the I/O the
plans ask for, in the order they ask for it."""

from __future__ import annotations

import copy
import itertools
from datetime import timedelta
from typing import Any

import pytest

from craftplane import rcon
from craftplane.clock import utcnow
from craftplane.contracts.backup import BACKUP_FINALIZER, RESTORE_HOLD_ANNOTATION
from craftplane.kube import KubeError
from craftplane_operator.backups.controller import BackupController
from craftplane_operator.recorder import EventRecorder
from craftplane_operator.store import ObjectStore
from tests.unit.operator.backup_factories import (
    BACKUP,
    CONFIG,
    RESTORE,
    SUMMARY,
    backup_body,
    completed_status,
    placed_statefulset,
    restore_body,
    running_status,
    server_body,
    server_pod,
    world,
)
from tests.unit.operator.factories import NAME, NAMESPACE

pytestmark = pytest.mark.unit

Key = tuple[str, str, str]
SECRET = {
    "kind": "Secret",
    "metadata": {"name": "craftplane-backups", "namespace": NAMESPACE},
    "data": {
        key: "eA=="
        for key in (
            "RESTIC_REPOSITORY",
            "RESTIC_PASSWORD",
            "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY",
        )
    },
}


def _merge_patch(target: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    result = copy.deepcopy(target)
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        elif isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = _merge_patch(result[key], value)
        else:
            result[key] = copy.deepcopy(value)
    return result


class FakeKube:
    """Objects by (kind, namespace, name); every write is logged as (verb, kind, name)."""

    def __init__(self) -> None:
        self.objects: dict[Key, dict[str, Any]] = {}
        self.log: list[tuple[str, str, str]] = []
        self.deletes: list[tuple[str, str, str | None]] = []
        self.refuse: set[str] = set()  # kinds whose creation is refused (quota)
        self._versions = itertools.count(100)

    def add(self, obj: dict[str, Any]) -> dict[str, Any]:
        obj = copy.deepcopy(obj)
        meta = obj["metadata"]
        meta["resourceVersion"] = str(next(self._versions))
        meta.setdefault("uid", f"uid-{meta['name']}")
        meta.setdefault("creationTimestamp", "2026-03-01T11:59:00Z")
        self.objects[obj["kind"], meta.get("namespace", ""), meta["name"]] = obj
        return copy.deepcopy(obj)

    def body(self, kind: str, name: str) -> dict[str, Any]:
        return self.objects[kind, NAMESPACE, name]

    async def get(self, kind: str, namespace: str | None, name: str) -> dict[str, Any] | None:
        found = self.objects.get((kind, namespace or "", name))
        return copy.deepcopy(found) if found else None

    async def list_objects(
        self, kind: str, namespace: str | None = None, *, label_selector: str | None = None
    ) -> list[dict[str, Any]]:
        wanted = dict(s.split("=", 1) for s in (label_selector or "").split(",") if s)
        return [
            copy.deepcopy(o)
            for (k, _, _), o in self.objects.items()
            if k == kind
            and all((o["metadata"].get("labels") or {}).get(a) == b for a, b in wanted.items())
        ]

    async def merge_patch(
        self, kind: str, namespace: str, name: str, patch: dict[str, Any], *, subresource: str = ""
    ) -> dict[str, Any]:
        self.log.append((f"patch{'/' + subresource if subresource else ''}", kind, name))
        current = self.objects.get((kind, namespace, name))
        if current is None:
            raise KubeError(404, "not found")
        wanted = (patch.get("metadata") or {}).get("resourceVersion")
        if wanted is not None and wanted != current["metadata"]["resourceVersion"]:
            raise KubeError(409, "the object has been modified")
        updated = _merge_patch(current, patch)
        updated["metadata"].pop("resourceVersion", None)
        if not updated["metadata"].get("finalizers") and updated["metadata"].get(
            "deletionTimestamp"
        ):
            del self.objects[kind, namespace, name]  # the last finalizer went: it is gone
            return updated
        return self.add(updated)

    async def create(self, obj: dict[str, Any]) -> dict[str, Any]:
        obj = copy.deepcopy(obj)
        meta = obj["metadata"]
        if "generateName" in meta:
            meta["name"] = f"{meta.pop('generateName')}{next(self._versions)}"
        self.log.append(("create", obj["kind"], meta["name"]))
        if obj["kind"] in self.refuse:
            raise KubeError(403, f"exceeded quota: {obj['kind']}", {"message": "exceeded quota"})
        if (obj["kind"], meta["namespace"], meta["name"]) in self.objects:
            raise KubeError(409, "already exists")
        return self.add(obj)

    async def delete(
        self, kind: str, namespace: str | None, name: str, *, propagation: str | None = None
    ) -> bool:
        self.log.append(("delete", kind, name))
        self.deletes.append((kind, name, propagation))
        return self.objects.pop((kind, namespace or "", name), None) is not None

    async def pod_log_tail(
        self, namespace: str, pod: str, *, lines: int, container: str | None = None
    ) -> list[str]:
        return [
            '{"message_type":"status","total_bytes":100,"bytes_done":25,"total_files":4,"files_done":1}'
        ]


class Console:
    """The servers' RCON: every command run, and whether it answers."""

    def __init__(self) -> None:
        self.commands: list[str] = []
        self.down = False

    async def locate(self, namespace: str, name: str) -> rcon.Target:
        if self.down:
            raise rcon.RconError("the server is not running")
        return rcon.Target(f"{name}.{namespace}", 25575, "pw")

    async def run(self, target: rcon.Target, command: str, timeout: float) -> str:
        self.commands.append(command)
        return "Saved the game" if command.startswith("save-all") else ""


class Harness:
    def __init__(self, kube: FakeKube | None = None) -> None:
        self.kube = kube or FakeKube()
        self.store = ObjectStore()
        self.console = Console()
        self.added: list[str] = []
        self.later: list[tuple[str, float]] = []
        fake: Any = self.kube
        self.controller = BackupController(
            fake,
            self.store,
            EventRecorder(fake, "test"),
            locate=self.console.locate,
            run=self.console.run,
            config=CONFIG,
            players=lambda key: 0,
            add=self.added.append,
            add_after=lambda key, delay: self.later.append((key, delay)),
        )

    def put(self, *objects: dict[str, Any]) -> None:
        """In the API and, as the watches would have it, in the store."""
        for obj in objects:
            self.store.put(self.kube.add(obj))

    def sync(self) -> None:
        """The watches catch up with the API."""
        for obj in self.kube.objects.values():
            self.store.put(obj)
        for kind, namespace, name in list(self.store._objects):
            if (kind, namespace, name) not in self.kube.objects:
                self.store.drop(kind, namespace, name)

    def writes(self) -> list[tuple[str, str, str]]:
        return [w for w in self.kube.log if w[1] != "Event"]

    def events(self) -> list[tuple[str, str]]:
        return [
            (o["involvedObject"]["kind"], o["reason"])
            for (k, _, _), o in self.kube.objects.items()
            if k == "Event"
        ]


def running_cluster(harness: Harness) -> None:
    harness.put(
        server_body(status={"phase": "Running"}),
        server_pod(),
        world(),
        placed_statefulset(),
        SECRET,
    )


def complete(harness: Harness, job: str, *, ok: bool = True, message: str = SUMMARY) -> None:
    """The Job controller's part: the Job finished, its pod says how."""
    body = harness.kube.body("Job", job)
    condition = "Complete" if ok else "Failed"
    reason = "" if ok else "BackoffLimitExceeded"
    body["status"] = {
        "conditions": [{"type": condition, "status": "True", "reason": reason}],
        "completionTime": utcnow().strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    terminated = {
        "exitCode": 0 if ok else 1,
        "reason": "Completed" if ok else "Error",
        "message": message,
    }
    harness.put(
        body,
        {
            "kind": "Pod",
            "metadata": {
                "name": f"{job}-x1y2z",
                "namespace": NAMESPACE,
                "labels": {"job-name": job},
            },
            "status": {
                "phase": "Succeeded" if ok else "Failed",
                "containerStatuses": [{"name": "restic", "state": {"terminated": terminated}}],
            },
        },
    )


async def test_a_running_server_is_backed_up_consistently_and_saves_resume() -> None:
    harness = Harness()
    running_cluster(harness)
    harness.put(
        {**backup_body(finalizers=[]), "metadata": {**backup_body()["metadata"], "finalizers": []}}
    )
    key = f"MinecraftBackup/{NAMESPACE}/{BACKUP}"
    await harness.controller.reconcile(key)
    assert harness.writes() == [
        ("patch", "MinecraftBackup", BACKUP),  # the finalizer
        ("patch/status", "MinecraftBackup", BACKUP),  # Running, savesPaused: before any RCON
        ("create", "Job", f"{BACKUP}-copy"),
        ("patch/status", "MinecraftBackup", BACKUP),  # copying
    ]
    assert harness.console.commands == ["save-off", "save-all flush"]
    status = harness.kube.body("MinecraftBackup", BACKUP)["status"]
    assert status["savesPaused"] is True and status["message"] == "copying the world (saves paused)"
    assert (
        BACKUP_FINALIZER in harness.kube.body("MinecraftBackup", BACKUP)["metadata"]["finalizers"]
    )
    assert ("MinecraftServer", "BackupStarted") in harness.events()

    complete(harness, f"{BACKUP}-copy")
    await harness.controller.reconcile(key)
    status = harness.kube.body("MinecraftBackup", BACKUP)["status"]
    assert status["phase"] == "Completed" and status["snapshotId"] == "65ecbb4b"
    assert status["savesPaused"] is False
    assert harness.console.commands[-1] == "save-on"
    assert ("Job", f"{BACKUP}-copy", "Background") in harness.kube.deletes
    assert {("MinecraftBackup", "BackupCompleted"), ("MinecraftBackup", "SavesResumed")} <= set(
        harness.events()
    )

    before = len(harness.writes())
    await harness.controller.reconcile(key)
    assert harness.writes()[before:] == [], "settled: nothing more to do"


async def test_a_job_outcome_ahead_of_its_pod_in_the_store_is_read_from_the_api() -> None:
    harness = Harness()
    running_cluster(harness)
    harness.put(backup_body(running_status(savesPaused=True)))
    key = f"MinecraftBackup/{NAMESPACE}/{BACKUP}"
    await harness.controller.reconcile(key)
    complete(harness, f"{BACKUP}-copy")
    harness.store.drop("Pod", NAMESPACE, f"{BACKUP}-copy-x1y2z")  # its event not there yet
    await harness.controller.reconcile(key)
    status = harness.kube.body("MinecraftBackup", BACKUP)["status"]
    assert (status["phase"], status["snapshotId"]) == ("Completed", "65ecbb4b")


async def test_a_running_copy_reports_its_progress_from_the_pod_log() -> None:
    harness = Harness()
    running_cluster(harness)
    harness.put(backup_body(running_status(savesPaused=True)))
    key = f"MinecraftBackup/{NAMESPACE}/{BACKUP}"
    await harness.controller.reconcile(key)  # save-off, the Job
    harness.put(
        {
            "kind": "Pod",
            "metadata": {
                "name": f"{BACKUP}-copy-abcde",
                "namespace": NAMESPACE,
                "labels": {"job-name": f"{BACKUP}-copy"},
            },
            "status": {
                "phase": "Running",
                "containerStatuses": [{"name": "restic", "state": {"running": {}}}],
            },
        }
    )
    await harness.controller.reconcile(key)
    progress = harness.kube.body("MinecraftBackup", BACKUP)["status"]["progress"]
    assert progress == {"bytesDone": 25, "bytesTotal": 100, "filesDone": 1, "filesTotal": 4}
    assert (key, CONFIG.progress_seconds) in harness.later


async def test_after_an_operator_restart_saves_paused_by_the_old_process_resume() -> None:
    """A fresh process (empty memory, a store filled by the watches) finds a failed backup
    whose status still says savesPaused: save-on goes out."""
    harness = Harness()
    running_cluster(harness)
    failed = {**running_status(savesPaused=True), "phase": "Failed", "reason": "CopyKilled"}
    harness.put(backup_body(failed))
    await harness.controller.reconcile(f"MinecraftBackup/{NAMESPACE}/{BACKUP}")
    assert harness.console.commands == ["save-on"]
    assert harness.kube.body("MinecraftBackup", BACKUP)["status"]["savesPaused"] is False


async def test_rcon_down_while_pausing_is_retried_without_a_copy() -> None:
    harness = Harness()
    running_cluster(harness)
    harness.put(backup_body(running_status(savesPaused=True)))
    harness.console.down = True
    key = f"MinecraftBackup/{NAMESPACE}/{BACKUP}"
    await harness.controller.reconcile(key)
    assert ("create", "Job", f"{BACKUP}-copy") not in harness.writes()
    status = harness.kube.body("MinecraftBackup", BACKUP)["status"]
    assert "cannot pause saves over RCON" in status["message"]
    assert any(k == key for k, _ in harness.later)


async def test_a_refused_copy_job_fails_the_backup_and_resumes_saves() -> None:
    harness = Harness()
    running_cluster(harness)
    harness.kube.refuse.add("Job")
    harness.put(backup_body(running_status(savesPaused=True)))
    await harness.controller.reconcile(f"MinecraftBackup/{NAMESPACE}/{BACKUP}")
    status = harness.kube.body("MinecraftBackup", BACKUP)["status"]
    assert (status["phase"], status["reason"]) == ("Failed", "CopyNotStarted")
    assert harness.console.commands == ["save-off", "save-all flush", "save-on"]


async def test_deleting_a_backup_forgets_its_snapshot_then_lets_it_go() -> None:
    harness = Harness()
    running_cluster(harness)
    harness.put(backup_body(completed_status()))
    key = f"MinecraftBackup/{NAMESPACE}/{BACKUP}"
    harness.kube.body("MinecraftBackup", BACKUP)["metadata"]["deletionTimestamp"] = (
        "2026-03-01T12:00:00Z"
    )
    harness.sync()
    await harness.controller.reconcile(key)
    assert ("create", "Job", f"{BACKUP}-forget") in harness.writes()
    complete(harness, f"{BACKUP}-forget", message="")
    await harness.controller.reconcile(key)
    assert ("MinecraftBackup", NAMESPACE, BACKUP) not in harness.kube.objects
    assert ("Job", f"{BACKUP}-forget", "Background") in harness.kube.deletes


async def test_a_restore_holds_the_server_restores_and_starts_it_again() -> None:
    harness = Harness()
    running_cluster(harness)
    harness.put(backup_body(completed_status()), restore_body())
    key = f"MinecraftRestore/{NAMESPACE}/{RESTORE}"
    await harness.controller.reconcile(key)
    server = harness.kube.body("MinecraftServer", NAME)
    assert server["metadata"]["annotations"][RESTORE_HOLD_ANNOTATION] == RESTORE
    assert harness.kube.body("MinecraftRestore", RESTORE)["status"]["phase"] == "Stopping"
    assert ("create", "Job", f"{RESTORE}-restore") not in harness.writes(), "the pod still runs"

    # The server's own reconcile stops it (the day-2 path); its pod goes.
    del harness.kube.objects["Pod", NAMESPACE, f"{NAME}-0"]
    harness.kube.body("MinecraftServer", NAME)["status"] = {"phase": "Stopped"}
    harness.sync()
    await harness.controller.reconcile(key)
    assert harness.kube.body("MinecraftRestore", RESTORE)["status"]["phase"] == "Restoring"
    assert ("create", "Job", f"{RESTORE}-restore") in harness.writes()

    complete(harness, f"{RESTORE}-restore", message="")
    await harness.controller.reconcile(key)
    assert harness.kube.body("MinecraftRestore", RESTORE)["status"]["phase"] == "Starting"
    annotations = harness.kube.body("MinecraftServer", NAME)["metadata"].get("annotations") or {}
    assert RESTORE_HOLD_ANNOTATION not in annotations

    harness.kube.body("MinecraftServer", NAME)["status"] = {"phase": "Running"}
    later = utcnow() + timedelta(seconds=30)
    harness.put(server_pod(started=later.strftime("%Y-%m-%dT%H:%M:%SZ")))
    harness.sync()
    await harness.controller.reconcile(key)
    status = harness.kube.body("MinecraftRestore", RESTORE)["status"]
    assert status["phase"] == "Completed"
    assert ("Job", f"{RESTORE}-restore", "Background") in harness.kube.deletes
    assert ("MinecraftServer", "WorldRestored") in harness.events()


async def test_a_server_change_moves_its_backups_in_progress_on() -> None:
    harness = Harness()
    running_cluster(harness)
    harness.put(backup_body(running_status()), backup_body(completed_status(), name="done-one"))
    await harness.controller.reconcile(f"MinecraftServer/{NAMESPACE}/{NAME}")
    assert harness.added == [f"MinecraftBackup/{NAMESPACE}/{BACKUP}"]


async def test_a_due_slot_creates_the_scheduled_backup_once() -> None:
    harness = Harness()
    spec = {"backups": {"schedule": "0 * * * *"}}
    status = {"phase": "Running", "nextBackup": "2020-01-01T00:00:00Z"}
    harness.put(
        server_body(spec, status=status), server_pod(), world(), placed_statefulset(), SECRET
    )
    key = f"MinecraftServer/{NAMESPACE}/{NAME}"
    await harness.controller.reconcile(key)
    created = [w for w in harness.writes() if w[0] == "create"]
    assert created == [("create", "MinecraftBackup", f"{NAME}-20200101-0000")]
    status = harness.kube.body("MinecraftServer", NAME)["status"]
    assert status["lastScheduledBackup"] == "2020-01-01T00:00:00Z"
    await harness.controller.reconcile(key)
    assert [w for w in harness.writes() if w[0] == "create"] == created
    harness.controller.stop()
