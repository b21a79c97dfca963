"""The watches feed the backup queue: backups, restores, and Jobs by the owner they name."""

from __future__ import annotations

from typing import Any

import kopf
import pytest

from craftplane_operator.handlers import build_registry, watch_only_owned_children
from craftplane_operator.store import ObjectStore

pytestmark = pytest.mark.unit


class Keys:
    def __init__(self) -> None:
        self.keys: list[str] = []

    def add(self, key: str) -> None:
        self.keys.append(key)


class Backups:
    def __init__(self) -> None:
        self.keys: list[str] = []

    def add(self, kind: str, namespace: str, name: str) -> None:
        self.keys.append(f"{kind}/{namespace}/{name}")

    def server_changed(self, key: str) -> None:
        self.keys.append(f"MinecraftServer/{key}")


def handlers(queue: Keys, store: ObjectStore, backups: Backups) -> dict[str, Any]:
    registry = build_registry(queue, store, backups)  # type: ignore[arg-type]
    return {h.id: h.fn for h in registry._watching.get_all_handlers()}


def test_jobs_are_watched_only_when_ours() -> None:
    settings = kopf.OperatorSettings()
    watch_only_owned_children(settings)
    assert settings.watching.label_selectors["batch", "v1", "jobs"] == (
        "app.kubernetes.io/managed-by=craftplane-operator"
    )


def test_a_job_event_reaches_its_backup_and_its_server() -> None:
    queue, store, backups = Keys(), ObjectStore(), Backups()
    job = {"kind": "Job", "metadata": {"name": "b-copy", "namespace": "team-a"}}
    handlers(queue, store, backups)["child-jobs"](
        namespace="team-a",
        labels={"craftplane.io/server": "survival"},
        annotations={"craftplane.io/backup-owner": "MinecraftBackup/b"},
        event={"type": "MODIFIED", "object": job},
    )
    assert queue.keys == ["team-a/survival"]
    assert backups.keys == ["MinecraftServer/team-a/survival", "MinecraftBackup/team-a/b"]
    assert store.get("Job", "team-a", "b-copy") is not None


@pytest.mark.parametrize(
    ("handler", "kind"),
    [("minecraftbackups", "MinecraftBackup"), ("minecraftrestores", "MinecraftRestore")],
)
def test_backups_and_restores_are_remembered_and_queued(handler: str, kind: str) -> None:
    queue, store, backups = Keys(), ObjectStore(), Backups()
    body = {"kind": kind, "metadata": {"name": "x", "namespace": "team-a"}}
    fn = handlers(queue, store, backups)[handler]
    fn(namespace="team-a", name="x", event={"type": "ADDED", "object": body})
    assert backups.keys == [f"{kind}/team-a/x"] and store.get(kind, "team-a", "x") == body
    fn(namespace="team-a", name="x", event={"type": "DELETED", "object": body})
    assert store.get(kind, "team-a", "x") is None


class ListingKube:
    requests = 0

    def __init__(self, objects: dict[str, list[dict[str, Any]]]) -> None:
        self.objects = objects

    async def list_objects(self, kind: str, namespace: str | None = None) -> list[dict[str, Any]]:
        return self.objects.get(kind, [])


async def test_the_resync_looks_at_servers_backup_sides_and_unsettled_backups() -> None:
    from craftplane_operator.main import Operator
    from craftplane_operator.settings import OperatorSettings

    def obj(kind: str, name: str, status: dict[str, Any] | None = None) -> dict[str, Any]:
        meta = {"name": name, "namespace": "team-a"}
        return {"kind": kind, "metadata": meta, "spec": {"server": "s"}, "status": status or {}}

    kube = ListingKube(
        {
            "MinecraftServer": [obj("MinecraftServer", "s")],
            "MinecraftBackup": [
                obj("MinecraftBackup", "running", {"phase": "Running"}),
                obj("MinecraftBackup", "done", {"phase": "Completed", "trigger": "manual"}),
            ],
            "MinecraftRestore": [obj("MinecraftRestore", "r", {"phase": "Restoring"})],
        }
    )
    operator = Operator(OperatorSettings(), kube)  # type: ignore[arg-type]
    assert operator.backups.gatherer.config.jobs.image == "docker.io/restic/restic:0.14.0"
    await operator._resync_once()
    assert operator.queue._pending == {"team-a/s"}
    assert operator.backup_queue._pending == {
        "MinecraftServer/team-a/s",
        "MinecraftBackup/team-a/running",
        "MinecraftRestore/team-a/r",
    }


def claiming(namespace: str, name: str, created: str) -> dict[str, Any]:
    meta = {"name": name, "namespace": namespace, "creationTimestamp": created}
    spec = {"eula": True, "service": {"hostnames": ["shop.example.com"]}}
    return {"kind": "MinecraftServer", "metadata": meta, "spec": spec}


def test_deleting_a_hostnames_holder_reconciles_the_server_that_gets_it() -> None:
    from craftplane_operator.hostname_index import HostnameIndex
    from craftplane_operator.routing import RouterConfig

    queue, store, index = Keys(), ObjectStore(), HostnameIndex(RouterConfig())
    holder = claiming("a", "hub", "2026-01-01T00:00:00Z")
    index.prime([holder, claiming("b", "thief", "2026-02-01T00:00:00Z")])
    registry = build_registry(queue, store, None, index)  # type: ignore[arg-type]
    (changed,) = [h.fn for h in registry._watching.get_all_handlers() if "server" in h.id]
    changed(namespace="a", name="hub", event={"type": "DELETED", "object": holder})
    assert queue.keys == ["b/thief", "a/hub"]


async def test_the_hostname_claims_are_read_before_the_first_reconcile() -> None:
    from craftplane_operator.main import Operator
    from craftplane_operator.settings import OperatorSettings

    kube = ListingKube({"MinecraftServer": [claiming("a", "hub", "2026-01-01T00:00:00Z")]})
    operator = Operator(OperatorSettings(), kube)  # type: ignore[arg-type]
    await operator._prime_hostnames()
    held = operator.hostnames.holders_of(["shop.example.com"])
    assert held["shop.example.com"].name == "hub"
    assert operator.reconciler.hostnames is operator.hostnames
