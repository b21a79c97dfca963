"""The reconciler's applier against an in-memory API server: the I/O the plans ask for."""

from __future__ import annotations

import copy
import itertools
from typing import Any

import pytest

from craftplane.contracts.events import Event, EventType
from craftplane.contracts.names import FINALIZER
from craftplane.contracts.status import Phase
from craftplane.kube import KubeError
from craftplane_operator.builders import existing_password
from craftplane_operator.builders.secret import build_secret
from craftplane_operator.players import PlayerTracker
from craftplane_operator.reconciler import Reconciler
from craftplane_operator.recorder import EventRecorder
from craftplane_operator.store import ObjectStore
from craftplane_operator.tenants import TenantDirectory
from tests.unit.operator.factories import NAME, NAMESPACE, cr_body, merge, server

pytestmark = pytest.mark.unit

KEY = f"{NAMESPACE}/{NAME}"
Key = tuple[str, str, str]


class FakeApi:
    """Objects by (kind, namespace, name); writes answer as the API server would, in outline."""

    def __init__(self) -> None:
        self.objects: dict[Key, dict[str, Any]] = {}
        self.writes: list[tuple[str, str]] = []  # (verb, kind)
        self.gets: list[str] = []
        self.refuse: dict[tuple[str, str], KubeError] = {}  # (verb, kind) -> error
        self._versions = itertools.count(100)
        self.requests = 0
        self.created: list[dict[str, Any]] = []
        self.deletes: list[dict[str, Any]] = []

    def add(self, obj: dict[str, Any]) -> dict[str, Any]:
        obj = copy.deepcopy(obj)
        obj["metadata"]["resourceVersion"] = str(next(self._versions))
        meta = obj["metadata"]
        self.objects[obj["kind"], meta.get("namespace", ""), meta["name"]] = obj
        return copy.deepcopy(obj)

    def _check(self, verb: str, kind: str) -> None:
        self.writes.append((verb, kind))
        if (verb, kind) in self.refuse:
            raise self.refuse[verb, kind]

    async def get(self, kind: str, namespace: str | None, name: str) -> dict[str, Any] | None:
        self.gets.append(kind)
        found = self.objects.get((kind, namespace or "", name))
        return copy.deepcopy(found) if found else None

    async def list_objects(self, kind: str, namespace: str | None = None) -> list[dict[str, Any]]:
        return [copy.deepcopy(o) for (k, ns, _), o in self.objects.items() if k == kind]

    async def apply(self, obj: dict[str, Any], *, field_manager: str) -> dict[str, Any]:
        self._check("apply", obj["kind"])
        meta = obj["metadata"]
        current = self.objects.get((obj["kind"], meta["namespace"], meta["name"])) or {}
        if obj["kind"] == "Service" and "clusterIP" not in obj["spec"]:
            obj = merge(obj, {"spec": {"clusterIP": "10.96.0.10"}})
        return self.add(merge(current, obj))

    async def merge_patch(
        self, kind: str, namespace: str, name: str, patch: dict[str, Any], *, subresource: str = ""
    ) -> dict[str, Any]:
        self._check(f"patch{'/' + subresource if subresource else ''}", kind)
        current = self.objects[kind, namespace, name]
        wanted = patch.get("metadata", {}).get("resourceVersion")
        if wanted is not None and wanted != current["metadata"]["resourceVersion"]:
            raise KubeError(409, "the object has been modified")
        updated = _merge_patch(current, patch)
        updated["metadata"].pop("resourceVersion", None)
        return self.add(updated)

    async def create(self, obj: dict[str, Any]) -> dict[str, Any]:
        self._check("create", obj["kind"])
        self.created.append(copy.deepcopy(obj))
        return copy.deepcopy(obj)

    async def request(
        self, method: str, path: str, *, body: Any = None, **_: Any
    ) -> dict[str, Any]:
        """DELETE of a namespaced apps/v1 StatefulSet, the one raw request the reconciler makes:
        an orphaning delete leaves it terminating (the GC's orphan finalizer)."""
        assert method == "DELETE" and "/statefulsets/" in path, (method, path)
        namespace, name = path.split("/namespaces/")[1].split("/statefulsets/")
        self._check("delete", "StatefulSet")
        self.deletes.append(body)
        current = self.objects.get(("StatefulSet", namespace, name))
        if current is None:
            raise KubeError(404, "not found")
        if body["preconditions"]["uid"] != current["metadata"].get("uid"):
            raise KubeError(409, "Precondition failed: UID in precondition")
        return self.add(merge(current, {"metadata": {"deletionTimestamp": "2025-01-01T12:00Z"}}))


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


class Outbox:
    def __init__(self) -> None:
        self.events: list[Event] = []

    def submit(self, event: Event) -> None:
        self.events.append(event)

    def types(self) -> list[EventType]:
        return [e.type for e in self.events]


def reconciler(api: FakeApi) -> tuple[Reconciler, Outbox]:
    outbox = Outbox()
    kube: Any = api
    players = PlayerTracker(lambda key: None, interval=60)
    return (
        Reconciler(
            kube,
            ObjectStore(),
            outbox,  # type: ignore[arg-type]
            EventRecorder(kube, "test"),
            TenantDirectory(kube),
            players,
            ping_in_cluster=True,
        ),
        outbox,
    )


def status(api: FakeApi) -> dict[str, Any]:
    return dict(api.objects["MinecraftServer", NAMESPACE, NAME].get("status") or {})


async def test_a_new_server_is_created_and_a_second_reconcile_writes_nothing() -> None:
    api = FakeApi()
    api.add(cr_body())
    rec, outbox = reconciler(api)
    await rec.reconcile(KEY)
    assert api.writes == [
        ("patch", "MinecraftServer"),  # the finalizer
        ("apply", "Secret"),
        ("apply", "ConfigMap"),
        ("apply", "Service"),
        ("apply", "Service"),  # the headless governing Service
        ("apply", "StatefulSet"),
        ("patch/status", "MinecraftServer"),
        ("create", "Event"),
    ]
    assert FINALIZER in api.objects["MinecraftServer", NAMESPACE, NAME]["metadata"]["finalizers"]
    assert status(api)["phase"] == "Starting"
    assert outbox.types() == [EventType.SERVER_CREATED, EventType.K8S_STARTING]
    written = api.objects["MinecraftServer", NAMESPACE, NAME]["metadata"]["resourceVersion"]
    assert outbox.events[1].revision == written, "the id names the written revision"
    assert rec.phases.phases == {KEY: Phase.STARTING}

    before = len(api.writes)
    await rec.reconcile(KEY)
    assert api.writes[before:] == [] and len(outbox.events) == 2


async def test_an_rcon_secret_the_watch_has_not_delivered_is_read_and_kept() -> None:
    api = FakeApi()
    api.add(cr_body(finalizers=[FINALIZER]))
    api.add(build_secret(server(), "the-running-password"))
    rec, _ = reconciler(api)
    await rec.reconcile(KEY)
    assert "Secret" in api.gets
    assert ("apply", "Secret") not in api.writes
    secret = api.objects["Secret", NAMESPACE, f"{NAME}-rcon"]
    assert existing_password(secret) == "the-running-password"


def world_volume(size: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": f"data-{NAME}-0", "namespace": NAMESPACE},
        "spec": {"resources": {"requests": {"storage": size}}},
        "status": {"phase": "Bound"},
    }


async def test_a_volume_resize_refused_by_admission_is_reported_not_raised() -> None:
    api = FakeApi()
    api.add(cr_body({"storage": {"size": "20Gi"}}, finalizers=[FINALIZER]))
    watched = api.add(world_volume("10Gi"))
    api.refuse["patch", "PersistentVolumeClaim"] = KubeError(
        403, "forbidden", {"message": "only dynamically provisioned pvc can be resized"}
    )
    rec, _ = reconciler(api)
    rec.store.put(watched)  # the reconciler reads children from the watches' store
    await rec.reconcile(KEY)
    (degraded,) = [c for c in status(api)["conditions"] if c["type"] == "Degraded"]
    assert degraded["reason"] == "StorageNotApplied"
    assert degraded["message"] == (
        "the world volume cannot grow to 20Gi: only dynamically provisioned pvc can be resized"
    )


async def test_a_volume_resize_that_fails_otherwise_fails_the_reconcile() -> None:
    api = FakeApi()
    api.add(cr_body({"storage": {"size": "20Gi"}}, finalizers=[FINALIZER]))
    watched = api.add(world_volume("10Gi"))
    api.refuse["patch", "PersistentVolumeClaim"] = KubeError(500, "etcd timeout")
    rec, _ = reconciler(api)
    rec.store.put(watched)
    with pytest.raises(KubeError, match="etcd"):
        await rec.reconcile(KEY)


async def test_a_volume_is_grown() -> None:
    api = FakeApi()
    api.add(cr_body({"storage": {"size": "20Gi"}}, finalizers=[FINALIZER]))
    watched = api.add(world_volume("10Gi"))
    rec, _ = reconciler(api)
    rec.store.put(watched)
    await rec.reconcile(KEY)
    assert (
        rec.store.get("PersistentVolumeClaim", NAMESPACE, f"data-{NAME}-0")
        == api.objects["PersistentVolumeClaim", NAMESPACE, f"data-{NAME}-0"]
    )
    pvc = api.objects["PersistentVolumeClaim", NAMESPACE, f"data-{NAME}-0"]
    assert pvc["spec"]["resources"]["requests"]["storage"] == "20Gi"


async def test_an_invalid_spec_is_reported_without_children() -> None:
    api = FakeApi()
    api.add(cr_body({"properties": {"maxPlayers": 0}}))
    rec, outbox = reconciler(api)
    await rec.reconcile(KEY)
    assert not [w for w in api.writes if w[0] == "apply"]
    assert (status(api)["phase"], status(api)["conditions"][0]["reason"]) == (
        "Error",
        "InvalidSpec",
    )
    assert outbox.types() == [EventType.SERVER_CREATED, EventType.K8S_ERROR]


@pytest.mark.parametrize("status_fails", [False, True], ids=["status written", "status refused"])
async def test_a_deleted_server_is_finalized(status_fails: bool) -> None:
    api = FakeApi()
    api.add(cr_body(finalizers=[FINALIZER], deletionTimestamp="2025-01-01T12:00:00Z"))
    if status_fails:
        api.refuse["patch/status", "MinecraftServer"] = KubeError(500, "no")
    rec, outbox = reconciler(api)
    # As before the planner: the finalizer patch carries the revision the CR was read at, which
    # the Terminating status write has made stale, so that pass conflicts and the retry (the
    # work queue's) finalizes.
    if not status_fails:
        with pytest.raises(KubeError, match="modified"):
            await rec.reconcile(KEY)
        assert status(api)["phase"] == "Terminating"
    await rec.reconcile(KEY)
    assert api.objects["MinecraftServer", NAMESPACE, NAME]["metadata"]["finalizers"] == []
    assert outbox.types()[-1] is EventType.SERVER_DELETED
    assert KEY not in rec.phases.phases
    assert rec.store.get("MinecraftServer", NAMESPACE, NAME) is None


async def test_republish_publishes_the_current_state_even_if_published() -> None:
    api = FakeApi()
    api.add(cr_body(finalizers=[FINALIZER]))
    rec, outbox = reconciler(api)
    await rec.reconcile(KEY)
    phase_events = [e for e in outbox.events if e.type is EventType.K8S_STARTING]
    assert await rec.republish(NAMESPACE, NAME) == 1
    assert outbox.events[-1].id == phase_events[-1].id
    assert await rec.republish(None, None) == 1
    assert len([e for e in outbox.events if e.type is EventType.K8S_STARTING]) == 3


async def test_a_server_gone_is_forgotten() -> None:
    api = FakeApi()
    rec, _ = reconciler(api)
    rec.phases.set(KEY, Phase.RUNNING)
    await rec.reconcile(KEY)
    assert KEY not in rec.phases.phases and api.writes == []


async def test_a_statefulset_governed_by_the_game_service_is_replaced_orphaning_its_pod() -> None:
    api = FakeApi()
    api.add(cr_body(finalizers=[FINALIZER]))
    rec, _ = reconciler(api)
    await rec.reconcile(KEY)
    old = api.objects["StatefulSet", NAMESPACE, NAME]
    # As created before the headless Service existed.
    old["spec"]["serviceName"] = NAME
    old["metadata"]["uid"] = "old-uid"
    rec.store.put(old)
    api.writes.clear()
    api.created.clear()

    await rec.reconcile(KEY)
    assert ("apply", "StatefulSet") not in api.writes, "serviceName is immutable"
    assert api.deletes == [
        {
            "apiVersion": "v1",
            "kind": "DeleteOptions",
            "propagationPolicy": "Orphan",
            "preconditions": {"uid": "old-uid"},
        }
    ]
    events = [e for e in api.created if e["kind"] == "Event"]
    assert [e["reason"] for e in events] == ["StatefulSetReplaced"]
    assert events[0]["involvedObject"]["name"] == NAME
    assert "survival-pods" in events[0]["message"]

    # While it is terminating nothing is applied over it, nor deleted again.
    api.writes.clear()
    await rec.reconcile(KEY)
    assert ("apply", "StatefulSet") not in api.writes
    assert ("delete", "StatefulSet") not in api.writes

    # The garbage collector is done: the next reconcile creates the new one.
    del api.objects["StatefulSet", NAMESPACE, NAME]
    rec.store.drop("StatefulSet", NAMESPACE, NAME)
    await rec.reconcile(KEY)
    assert ("apply", "StatefulSet") in api.writes
    assert api.objects["StatefulSet", NAMESPACE, NAME]["spec"]["serviceName"] == f"{NAME}-pods"
