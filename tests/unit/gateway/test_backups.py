"""The backup routes over a fake cluster: list, create, get, delete, verify, restore (into an
existing server and as a new one), the tenant boundary, 409s, 422 field paths and the
timeline entries each write leaves."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from craftplane import tokens
from craftplane.contracts.backup import VERIFY_REQUEST_ANNOTATION
from craftplane.kube import KubeError
from craftplane_gateway import problems
from craftplane_gateway.db.revocations import DenyList
from craftplane_gateway.hub import Hub
from craftplane_gateway.ratelimit import TokenBuckets
from craftplane_gateway.revocations import Revocations
from craftplane_gateway.routes import backups as backup_routes
from craftplane_gateway.routes import table
from craftplane_gateway.tenants import TenantNamespaces
from tests.unit.gateway.fakes import FakeCluster

pytestmark = pytest.mark.unit

KEY = "k" * 48
NOW = datetime(2025, 3, 4, 5, 6, 7, tzinfo=UTC)
ACME = "tenant-acme"
OTHER = "tenant-other"


class RecordingPool:
    """A database that keeps the timeline entries written to it (and finds nothing)."""

    def __init__(self) -> None:
        self.entries: list[dict[str, Any]] = []

    @contextlib.asynccontextmanager
    async def acquire(self, **_: Any) -> AsyncIterator[RecordingPool]:
        yield self

    async def execute(self, _query: str, *args: Any) -> None:
        keys = ("id", "uid", "tenant", "namespace", "name", "type", "message", "actor", "time")
        self.entries.append(dict(zip(keys, args, strict=True)))

    async def fetch(self, *_: Any) -> list[Any]:
        return []

    async def fetchrow(self, *_: Any) -> None:
        return None


def server(name: str, namespace: str = ACME, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "craftplane.io/v1alpha1",
        "kind": "MinecraftServer",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"eula": True, "type": "PAPER", "version": "1.21.4", **spec},
    }


def backup(
    name: str, of: str, namespace: str = ACME, phase: str | None = "Completed", **status: Any
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "apiVersion": "craftplane.io/v1alpha1",
        "kind": "MinecraftBackup",
        "metadata": {"name": name, "namespace": namespace, "labels": {"craftplane.io/server": of}},
        "spec": {"server": of},
        "status": {"phase": phase, **status} if phase else status,
    }
    return body


@pytest.fixture
def kube() -> FakeCluster:
    cluster = FakeCluster()
    cluster.tenant("acme").tenant("other")
    return cluster


@pytest.fixture
def pool() -> RecordingPool:
    return RecordingPool()


@pytest.fixture
def gw(kube: FakeCluster, pool: RecordingPool) -> SimpleNamespace:
    revocations = Revocations(lambda: None)
    revocations.install(DenyList())
    return SimpleNamespace(
        settings=SimpleNamespace(
            token_key=KEY,
            allowed_origins=[],
            token_max_lifetime=tokens.MAX_LIFETIME,
            write_rate=10.0,
            write_burst=1000,
            max_body_bytes=1024 * 1024,
        ),
        db=SimpleNamespace(get=lambda: pool),
        kube=kube,
        hub=Hub(64),
        write_limit=TokenBuckets(10, 1000),
        console_limit=TokenBuckets(10, 1000),
        revocations=revocations,
        tenants=TenantNamespaces(kube),  # type: ignore[arg-type]
    )


@pytest.fixture
def client(gw: SimpleNamespace, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    monkeypatch.setattr(backup_routes, "utcnow", lambda: NOW)

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[dict[str, Any]]:
        yield {"gw": gw}

    app = Starlette(
        routes=table.routes(),
        lifespan=lifespan,
        exception_handlers=dict(problems.EXCEPTION_HANDLERS),
    )
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


def auth(tenant: str = "acme", subject: str | None = None) -> dict[str, str]:
    token = tokens.mint(tenant, KEY, subject=subject or f"alice@{tenant}")
    return {"authorization": f"Bearer {token}"}


A = auth("acme")
B = auth("other")


# --- list ---------------------------------------------------------------------------


def test_list_is_the_servers_backups_newest_first(client: TestClient, kube: FakeCluster) -> None:
    kube.put(server("alpha"))
    old = backup("alpha-1", "alpha", sizeBytes=2048, files=3, trigger="scheduled")
    old["metadata"]["creationTimestamp"] = "2025-01-01T00:00:00Z"
    new = backup("alpha-2", "alpha", phase="Running", progress={"bytesDone": 5, "bytesTotal": 10})
    new["metadata"]["creationTimestamp"] = "2025-01-02T00:00:00Z"
    stray = backup("beta-1", "beta")
    stray["metadata"]["labels"]["craftplane.io/server"] = "alpha"  # the label lies
    for obj in (old, new, stray, backup("alpha-9", "alpha", namespace=OTHER)):
        kube.put(obj)
    listed = client.get("/api/v1/servers/alpha/backups", headers=A)
    assert listed.status_code == 200, listed.text
    items = listed.json()["items"]
    assert [b["name"] for b in items] == ["alpha-2", "alpha-1"]
    assert items[0]["progress"] == {
        "bytesDone": 5,
        "bytesTotal": 10,
        "filesDone": 0,
        "filesTotal": 0,
    }
    assert items[1] | {"uid": ""} == {
        "name": "alpha-1",
        "namespace": ACME,
        "server": "alpha",
        "uid": "",
        "phase": "Completed",
        "trigger": "scheduled",
        "sizeBytes": 2048,
        "files": 3,
        "createdAt": "2025-01-01T00:00:00Z",
        "deleting": False,
    }


def test_a_deleted_servers_backups_are_still_listed(client: TestClient, kube: FakeCluster) -> None:
    kube.put(backup("gone-1", "gone"))
    listed = client.get("/api/v1/servers/gone/backups", headers=A)
    assert [b["name"] for b in listed.json()["items"]] == ["gone-1"]
    kube.put(server("empty"))
    assert client.get("/api/v1/servers/empty/backups", headers=A).json() == {"items": []}
    missing = client.get("/api/v1/servers/never/backups", headers=A)
    assert missing.status_code == 404
    assert missing.json()["detail"] == "server 'never' not found"


def test_a_malformed_status_field_is_left_out(client: TestClient, kube: FakeCluster) -> None:
    kube.put(server("alpha"))
    kube.put(backup("alpha-1", "alpha", phase="Exploded", sizeBytes=-1, files="many", message="m"))
    item = client.get("/api/v1/servers/alpha/backups", headers=A).json()["items"][0]
    assert item["message"] == "m"
    assert not {"phase", "sizeBytes", "files"} & set(item)


# --- create -------------------------------------------------------------------------


def test_back_up_now(client: TestClient, kube: FakeCluster, pool: RecordingPool) -> None:
    kube.put(server("alpha"))
    made = client.post("/api/v1/servers/alpha/backups", headers=A, json={"verify": True})
    assert made.status_code == 202, made.text
    assert made.headers["location"] == "/api/v1/backups/alpha-20250304-050607"
    assert made.json()["name"] == "alpha-20250304-050607"
    stored = kube.objects["MinecraftBackup", ACME, "alpha-20250304-050607"]
    assert stored["spec"] == {"server": "alpha", "verify": True}
    labels = stored["metadata"]["labels"]
    assert labels["craftplane.io/server"] == "alpha"
    assert labels["craftplane.io/backup-trigger"] == "manual"
    assert labels["craftplane.io/tenant"] == "acme"
    [entry] = pool.entries
    uid = kube.objects["MinecraftServer", ACME, "alpha"]["metadata"]["uid"]
    assert (entry["type"], entry["uid"], entry["actor"]) == ("request.backup", uid, "alice@acme")
    assert "alpha-20250304-050607" in entry["message"]


def test_an_empty_body_is_an_empty_request(client: TestClient, kube: FakeCluster) -> None:
    kube.put(server("alpha"))
    assert client.post("/api/v1/servers/alpha/backups", headers=A).status_code == 202
    stored = kube.objects["MinecraftBackup", ACME, "alpha-20250304-050607"]
    assert stored["spec"] == {"server": "alpha"}


def test_two_in_one_second_is_a_conflict(client: TestClient, kube: FakeCluster) -> None:
    kube.put(server("alpha"))
    assert client.post("/api/v1/servers/alpha/backups", headers=A).status_code == 202
    again = client.post("/api/v1/servers/alpha/backups", headers=A)
    assert again.status_code == 409
    assert again.json()["detail"] == "a backup named 'alpha-20250304-050607' already exists"


def test_back_up_an_unknown_server(client: TestClient, kube: FakeCluster) -> None:
    kube.put(server("alpha", namespace=OTHER))
    refused = client.post("/api/v1/servers/alpha/backups", headers=A, json={})
    assert refused.status_code == 404
    assert not [c for c in kube.calls if c[0] == "create"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"verify": "yes"}, "verify"),
        ({"verify": 1}, "verify"),
        ({"namespace": OTHER}, "namespace"),
        ([], "body"),
    ],
)
def test_bad_backup_bodies_name_the_field(
    client: TestClient, kube: FakeCluster, body: Any, field: str
) -> None:
    kube.put(server("alpha"))
    refused = client.post("/api/v1/servers/alpha/backups", headers=A, json=body)
    assert refused.status_code == 422, refused.text
    assert [e["field"] for e in refused.json()["errors"]] == [field]


def test_a_body_that_is_not_json(client: TestClient, kube: FakeCluster) -> None:
    kube.put(server("alpha"))
    url = "/api/v1/servers/alpha/backups"
    plain = client.post(url, headers={**A, "content-type": "text/plain"}, content=b"x")
    assert plain.status_code == 415
    broken = client.post(url, headers={**A, "content-type": "application/json"}, content=b"{")
    assert broken.status_code == 400


def test_kube_errors_are_problems_never_5xx(client: TestClient, kube: FakeCluster) -> None:
    kube.put(server("alpha"))
    kube.failures["create"] = KubeError(0, "API server unreachable")
    down = client.post("/api/v1/servers/alpha/backups", headers=A)
    assert down.status_code == 503 and "Retry-After" in down.headers
    kube.failures["create"] = KubeError(403, "forbidden")
    assert client.post("/api/v1/servers/alpha/backups", headers=A).status_code == 403
    kube.failures["list"] = KubeError(500, "etcd")
    assert client.get("/api/v1/servers/alpha/backups", headers=A).status_code == 503


# --- one backup ---------------------------------------------------------------------


def test_get_a_backup(client: TestClient, kube: FakeCluster) -> None:
    kube.put(backup("alpha-1", "alpha", verification={"state": "Verified", "scratchServer": "s"}))
    got = client.get("/api/v1/backups/alpha-1", headers=A)
    assert got.status_code == 200
    assert got.json()["verification"] == {"state": "Verified"}


@pytest.mark.parametrize("name", ["UPPER", "a..b", "-a", "a" * 254])
def test_a_name_no_backup_can_have_is_404_without_asking_the_cluster(
    client: TestClient, kube: FakeCluster, name: str
) -> None:
    assert client.get(f"/api/v1/backups/{name}", headers=A).status_code == 404
    assert client.get(f"/api/v1/restores/{name}", headers=A).status_code == 404
    assert not [c for c in kube.calls if c[1] in ("MinecraftBackup", "MinecraftRestore")]


def test_delete_a_backup(client: TestClient, kube: FakeCluster, pool: RecordingPool) -> None:
    uid = kube.put(server("alpha"))["metadata"]["uid"]
    held = backup("alpha-1", "alpha")
    held["metadata"]["finalizers"] = ["craftplane.io/backup-snapshot"]
    kube.put(held)
    gone = client.delete("/api/v1/backups/alpha-1", headers=A)
    assert gone.status_code == 202, gone.text
    assert gone.json()["deleting"] is True
    assert gone.headers["location"] == "/api/v1/backups/alpha-1"
    # The finalizer keeps it until the operator has forgotten the snapshot.
    assert kube.objects["MinecraftBackup", ACME, "alpha-1"]["metadata"]["deletionTimestamp"]
    assert [(e["type"], e["uid"]) for e in pool.entries] == [("request.backup_delete", uid)]


def test_a_deleted_servers_backup_is_filed_under_its_old_server(
    client: TestClient, kube: FakeCluster, pool: RecordingPool
) -> None:
    kube.put(backup("gone-1", "gone", serverUid="old-uid"))
    assert client.delete("/api/v1/backups/gone-1", headers=A).status_code == 202
    assert ("MinecraftBackup", ACME, "gone-1") not in kube.objects
    [entry] = pool.entries
    assert (entry["uid"], entry["name"], entry["namespace"]) == ("old-uid", "gone", ACME)


def test_verify_only_a_completed_backup(
    client: TestClient, kube: FakeCluster, pool: RecordingPool
) -> None:
    kube.put(server("alpha"))
    kube.put(backup("alpha-1", "alpha", phase="Running"))
    early = client.post("/api/v1/backups/alpha-1/verify", headers=A)
    assert early.status_code == 409
    assert "Running" in early.json()["detail"]
    kube.put(backup("alpha-2", "alpha"))
    asked = client.post("/api/v1/backups/alpha-2/verify", headers=A)
    assert asked.status_code == 202, asked.text
    annotations = kube.objects["MinecraftBackup", ACME, "alpha-2"]["metadata"]["annotations"]
    assert annotations == {VERIFY_REQUEST_ANNOTATION: "2025-03-04T05:06:07Z"}
    assert [e["type"] for e in pool.entries] == ["request.verify"]


def test_a_backup_being_deleted_is_not_verified(client: TestClient, kube: FakeCluster) -> None:
    doomed = backup("alpha-1", "alpha")
    doomed["metadata"]["deletionTimestamp"] = "2025-01-01T00:00:00Z"
    kube.put(doomed)
    refused = client.post("/api/v1/backups/alpha-1/verify", headers=A)
    assert refused.status_code == 409 and "being deleted" in refused.json()["detail"]


# --- restore ------------------------------------------------------------------------


def test_restore_into_its_own_server(
    client: TestClient, kube: FakeCluster, pool: RecordingPool
) -> None:
    uid = kube.put(server("alpha"))["metadata"]["uid"]
    kube.put(backup("alpha-1", "alpha"))
    asked = client.post("/api/v1/backups/alpha-1/restore", headers=A)
    assert asked.status_code == 202, asked.text
    body = asked.json()
    assert body["newServer"] is False and body["server"] == "alpha"
    assert body["restore"]["name"] == "alpha-restore-20250304-050607"
    assert asked.headers["location"] == "/api/v1/restores/alpha-restore-20250304-050607"
    stored = kube.objects["MinecraftRestore", ACME, "alpha-restore-20250304-050607"]
    assert stored["spec"] == {"backup": "alpha-1", "server": "alpha"}
    assert [(e["type"], e["uid"]) for e in pool.entries] == [("request.restore", uid)]
    got = client.get("/api/v1/restores/alpha-restore-20250304-050607", headers=A)
    assert got.status_code == 200 and got.json()["backup"] == "alpha-1"


def test_restore_into_another_existing_server(client: TestClient, kube: FakeCluster) -> None:
    kube.put(server("alpha"))
    kube.put(server("beta"))
    kube.put(backup("alpha-1", "alpha"))
    asked = client.post("/api/v1/backups/alpha-1/restore", headers=A, json={"server": "beta"})
    assert asked.status_code == 202
    stored = kube.objects["MinecraftRestore", ACME, "beta-restore-20250304-050607"]
    assert stored["spec"] == {"backup": "alpha-1", "server": "beta"}


@pytest.mark.parametrize("phase", [None, "Pending", "Running", "Failed"])
def test_restore_only_a_completed_backup(
    client: TestClient, kube: FakeCluster, phase: str | None
) -> None:
    kube.put(server("alpha"))
    kube.put(backup("alpha-1", "alpha", phase=phase))
    refused = client.post("/api/v1/backups/alpha-1/restore", headers=A)
    assert refused.status_code == 409
    assert not [c for c in kube.calls if c[0] == "create"]


def test_a_server_held_by_a_restore_takes_no_other(client: TestClient, kube: FakeCluster) -> None:
    held = server("alpha")
    held["metadata"]["annotations"] = {"craftplane.io/restore-in-progress": "alpha-restore-x"}
    kube.put(held)
    kube.put(backup("alpha-1", "alpha"))
    refused = client.post("/api/v1/backups/alpha-1/restore", headers=A)
    assert refused.status_code == 409 and "alpha-restore-x" in refused.json()["detail"]


def test_restore_into_a_new_server_copies_the_source_spec(
    client: TestClient, kube: FakeCluster, pool: RecordingPool
) -> None:
    kube.put(
        server(
            "alpha",
            allowlist=["Steve"],
            ops=["Alex"],
            stopped=True,
            service={"type": "NodePort", "nodePort": 30001},
            properties={"motd": "home"},
        )
    )
    kube.put(backup("alpha-1", "alpha"))
    asked = client.post("/api/v1/backups/alpha-1/restore", headers=A, json={"server": "copy"})
    assert asked.status_code == 202, asked.text
    assert asked.json() == {
        "server": "copy",
        "backup": "alpha-1",
        "newServer": True,
        "location": "/api/v1/servers/copy",
    }
    made = kube.objects["MinecraftServer", ACME, "copy"]
    spec = made["spec"]
    assert spec["restoreFrom"] == {"backup": "alpha-1"}
    assert (spec["allowlist"], spec["ops"], spec["properties"]) == (
        ["Steve"],
        ["Alex"],
        {"motd": "home"},
    )
    assert "stopped" not in spec and spec["service"] == {"type": "NodePort"}
    assert made["metadata"]["labels"]["craftplane.io/tenant"] == "acme"
    [entry] = pool.entries
    assert (entry["type"], entry["name"], entry["uid"]) == (
        "request.restore",
        "copy",
        made["metadata"]["uid"],
    )


def test_restore_a_deleted_servers_backup_by_its_type_and_version(
    client: TestClient, kube: FakeCluster
) -> None:
    kube.put(backup("gone-1", "gone", serverType="VANILLA", gameVersion="1.20.6"))
    asked = client.post("/api/v1/backups/gone-1/restore", headers=A)
    assert asked.status_code == 202, asked.text
    spec = kube.objects["MinecraftServer", ACME, "gone"]["spec"]
    assert spec == {
        "eula": True,
        "type": "VANILLA",
        "version": "1.20.6",
        "restoreFrom": {"backup": "gone-1"},
    }


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"server": "Not A Name"}, "server"),
        ({"server": "x" * 53}, "server"),
        ({"server": 5}, "server"),
        ({"server": "copy", "namespace": OTHER}, "namespace"),
    ],
)
def test_bad_restore_bodies_name_the_field(
    client: TestClient, kube: FakeCluster, body: Any, field: str
) -> None:
    kube.put(server("alpha"))
    kube.put(backup("alpha-1", "alpha"))
    refused = client.post("/api/v1/backups/alpha-1/restore", headers=A, json=body)
    assert refused.status_code == 422, refused.text
    assert [e["field"] for e in refused.json()["errors"]] == [field]
    assert not [c for c in kube.calls if c[0] == "create"]


def test_a_new_server_spec_the_model_refuses_is_422(client: TestClient, kube: FakeCluster) -> None:
    kube.put(backup("gone-1", "gone", serverType="NOT-A-TYPE"))
    refused = client.post("/api/v1/backups/gone-1/restore", headers=A)
    assert refused.status_code == 422
    assert [e["field"] for e in refused.json()["errors"]] == ["spec.type"]


def test_a_name_taken_meanwhile_is_409(client: TestClient, kube: FakeCluster) -> None:
    kube.put(backup("gone-1", "gone"))
    kube.failures["create"] = KubeError(409, "already exists")
    refused = client.post("/api/v1/backups/gone-1/restore", headers=A, json={"server": "copy"})
    assert refused.status_code == 409
    assert refused.json()["detail"] == "a server named 'copy' already exists"


# --- the tenant boundary ------------------------------------------------------------


CROSS_TENANT = [
    ("get", "/api/v1/servers/alpha/backups", None),
    ("post", "/api/v1/servers/alpha/backups", {}),
    ("get", "/api/v1/backups/alpha-1", None),
    ("delete", "/api/v1/backups/alpha-1", None),
    ("post", "/api/v1/backups/alpha-1/verify", None),
    ("post", "/api/v1/backups/alpha-1/restore", {}),
    ("post", "/api/v1/backups/alpha-1/restore", {"server": "alpha"}),
    ("get", "/api/v1/restores/alpha-restore-1", None),
]


@pytest.mark.parametrize(("method", "path", "body"), CROSS_TENANT)
def test_another_tenants_server_and_backups_are_not_found(
    client: TestClient, kube: FakeCluster, method: str, path: str, body: Any
) -> None:
    kube.put(server("alpha"))
    kube.put(backup("alpha-1", "alpha"))
    restore = {
        "kind": "MinecraftRestore",
        "metadata": {"name": "alpha-restore-1", "namespace": ACME},
        "spec": {"backup": "alpha-1", "server": "alpha"},
    }
    kube.put(restore)
    before = dict(kube.objects)
    refused = client.request(method, path, headers=B, json=body)
    assert refused.status_code == 404, refused.text
    assert kube.objects == before
    # Every object the other tenant's request touched is in its own namespace.
    assert {c[2] for c in kube.calls if c[1] != "Namespace"} <= {OTHER}


def test_the_other_tenant_sees_the_same_404_as_for_nothing(
    client: TestClient, kube: FakeCluster
) -> None:
    kube.put(backup("alpha-1", "alpha"))
    theirs = client.get("/api/v1/backups/alpha-1", headers=B)
    kube.objects.clear()
    mine = client.get("/api/v1/backups/alpha-1", headers=A)
    assert theirs.json() == mine.json()
    assert mine.json()["detail"] == "backup 'alpha-1' not found"


def test_writes_are_rate_limited(
    client: TestClient, gw: SimpleNamespace, kube: FakeCluster
) -> None:
    gw.write_limit = TokenBuckets(0.001, 1)
    kube.put(server("alpha"))
    kube.put(backup("alpha-1", "alpha"))
    assert client.post("/api/v1/backups/alpha-1/verify", headers=A).status_code == 202
    limited = client.delete("/api/v1/backups/alpha-1", headers=A)
    assert limited.status_code == 429 and "Retry-After" in limited.headers


@pytest.mark.parametrize(
    "kind", ["request.backup", "request.backup_delete", "request.verify", "request.restore"]
)
def test_the_new_request_types_are_timeline_entries_and_frames(kind: str) -> None:
    from craftplane_gateway import audit
    from craftplane_gateway.schemas import TimelineEntry
    from craftplane_gateway.ws_frames import SERVER_FRAME

    entry = TimelineEntry.model_validate(
        {"id": "req-1", "type": kind, "time": "2025-01-01T00:00:00Z", "actor": "alice@acme"}
    )
    assert entry.type == kind
    ref = audit.ServerRef(uid="u", tenant="acme", namespace=ACME, name="alpha")
    frame = audit.AuditEntry(ref, audit.RequestType(kind), "alice@acme", "m", NOW).frame()
    SERVER_FRAME.validate_python(frame)


def test_messages() -> None:
    from craftplane_gateway import audit

    assert audit.backup_message("a-1") == "asked for backup a-1"
    assert audit.backup_message("a-1", True) == "asked for backup a-1 (verified by booting it)"
    assert audit.restore_message("a-1", "a", new_server=True) == "created from backup a-1 of a"
    assert audit.restore_message("a-1", "a", new_server=False) == "asked to restore backup a-1 of a"


def test_a_backup_schedule_change_does_not_restart_the_server() -> None:
    from craftplane_gateway import audit

    assert not audit.restarts_server(["spec.backups.schedule", "spec.backups.retention.keepLast"])
    assert audit.restarts_server(["spec.backups.schedule", "spec.version"])
