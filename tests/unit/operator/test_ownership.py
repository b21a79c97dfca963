"""Objects under a child's name that this server does not control, and children the API server
refuses: reported on the status and as Warning Events, never taken over, never silent."""

from __future__ import annotations

import base64
import copy
from typing import Any

import pytest

from craftplane.contracts.names import FINALIZER
from craftplane.kube import KubeError
from craftplane_operator.builders import existing_password
from craftplane_operator.ownership import (
    NAME_CONFLICT,
    NODE_PORT_TAKEN,
    ApplyRefusal,
    controlled_by,
    guard,
    is_refusal,
)
from craftplane_operator.reconciler import ApplyRefused
from tests.unit.operator.factories import NAME, NAMESPACE, OWNED_BY, UID, cr_body
from tests.unit.operator.test_reconciler import KEY, FakeApi, reconciler, status

pytestmark = pytest.mark.unit

NODE_PORT_MESSAGE = (
    f'Service "{NAME}" is invalid: spec.ports[0].nodePort: Invalid value: 30065: '
    "provided port is already allocated"
)

# slot -> (kind, name) of the child gathered in it
CHILDREN = {
    "Secret": ("Secret", f"{NAME}-rcon"),
    "ConfigMap": ("ConfigMap", f"{NAME}-config"),
    "Service": ("Service", NAME),
    "Service/pods": ("Service", f"{NAME}-pods"),
    "StatefulSet": ("StatefulSet", NAME),
}
# A StatefulSet whose pod would mount someone else's Secret or ConfigMap is not started.
HOLDS_THE_STATEFULSET = {"Secret", "ConfigMap", "StatefulSet"}


def foreign(kind: str, name: str, **metadata: Any) -> dict[str, Any]:
    """Someone's object: made by hand, by another tool, or owned by something else."""
    obj: dict[str, Any] = {
        "apiVersion": "apps/v1" if kind == "StatefulSet" else "v1",
        "kind": kind,
        "metadata": {"name": name, "namespace": NAMESPACE, "uid": f"theirs-{kind}", **metadata},
    }
    if kind == "Secret":
        obj["data"] = {"password": base64.b64encode(b"their-password").decode()}
    return obj


class RefusingApi(FakeApi):
    """Refuses applies of one object by name, as an API server's admission would."""

    def __init__(self) -> None:
        super().__init__()
        self.refuse_named: dict[tuple[str, str], KubeError] = {}

    async def apply(self, obj: dict[str, Any], *, field_manager: str) -> dict[str, Any]:
        refused = self.refuse_named.get((obj["kind"], obj["metadata"]["name"]))
        if refused is not None:
            self.writes.append(("apply", obj["kind"]))
            raise refused
        return await super().apply(obj, field_manager=field_manager)


def applied(api: FakeApi) -> list[str]:
    return [kind for verb, kind in api.writes if verb == "apply"]


def condition(api: FakeApi, kind: str = "Degraded") -> dict[str, Any]:
    return next(c for c in status(api)["conditions"] if c["type"] == kind)


def warnings(api: FakeApi) -> list[tuple[str, str]]:
    return [(e["reason"], e["message"]) for e in api.created if e["type"] == "Warning"]


# -- the pure rules ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("refs", "ours"),
    [
        (OWNED_BY, True),
        ([], False),
        ([{**OWNED_BY[0], "controller": False}], False),
        ([{**OWNED_BY[0], "uid": "another-server"}], False),
        ([{**OWNED_BY[0], "controller": None}], False),
    ],
    ids=["controller ref to us", "none", "not controller", "another uid", "controller unset"],
)
def test_only_a_controller_reference_to_this_uid_makes_a_child_ours(
    refs: list[dict[str, Any]], ours: bool
) -> None:
    assert controlled_by({"metadata": {"ownerReferences": refs}}, UID) is ours


def test_a_foreign_statefulset_hides_its_pod_and_volume_too() -> None:
    seen = {
        "StatefulSet": foreign("StatefulSet", NAME),
        "Pod": {"metadata": {"name": f"{NAME}-0"}},
        "PersistentVolumeClaim": {"metadata": {"name": f"data-{NAME}-0"}},
    }
    guarded = guard(UID, seen)
    assert guarded.live["Pod"] is None and guarded.live["PersistentVolumeClaim"] is None
    assert guarded.skip == {"StatefulSet"}


@pytest.mark.parametrize(
    ("status_code", "refused"), [(400, True), (403, True), (422, True), (429, False), (500, False)]
)
def test_a_4xx_but_429_is_a_refusal(status_code: int, refused: bool) -> None:
    assert is_refusal(status_code) is refused


def test_a_taken_node_port_has_its_own_reason() -> None:
    refusal = ApplyRefusal("Service", "Service", NAME, 422, NODE_PORT_MESSAGE)
    assert refusal.reason == NODE_PORT_TAKEN
    assert guard(UID, {}, [refusal]).problem() == (
        NODE_PORT_TAKEN,
        f"the API server refused Service {NAME}: {NODE_PORT_MESSAGE}",
    )


# -- conflicts, through the reconciler ------------------------------------------------------


@pytest.mark.parametrize("slot", list(CHILDREN))
@pytest.mark.parametrize(
    "owner",
    [None, {**OWNED_BY[0], "uid": "an-older-server"}, {**OWNED_BY[0], "controller": False}],
    ids=["unowned", "another uid", "not controller"],
)
async def test_an_object_under_a_childs_name_is_left_alone_and_reported(
    slot: str, owner: dict[str, Any] | None
) -> None:
    kind, name = CHILDREN[slot]
    api = FakeApi()
    api.add(cr_body(finalizers=[FINALIZER]))
    theirs = api.add(foreign(kind, name, ownerReferences=[owner] if owner else []))
    rec, _ = reconciler(api)
    await rec.reconcile(KEY)

    assert api.objects[kind, NAMESPACE, name] == theirs, "never patched or owner-referenced"
    held = {slot, "StatefulSet"} if slot in HOLDS_THE_STATEFULSET else {slot}
    expected = [k for s, (k, _) in CHILDREN.items() if s not in held]
    assert applied(api) == expected, "the other children apply where that is safe"
    degraded = condition(api)
    assert (degraded["status"], degraded["reason"]) == ("True", NAME_CONFLICT)
    assert f"{kind} {name}" in degraded["message"]
    assert status(api)["phase"] == ("Error" if slot in HOLDS_THE_STATEFULSET else "Starting")
    assert [reason for reason, _ in warnings(api)] == [NAME_CONFLICT]
    assert f"{kind} {name}" in warnings(api)[0][1]

    before, events = len(api.writes), len(api.created)
    await rec.reconcile(KEY)
    assert api.writes[before:] == [], "a second pass changes nothing, status included"
    assert len(api.created) == events
    assert api.objects[kind, NAMESPACE, name] == theirs


async def test_someone_elses_secret_is_never_read_for_its_password(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    read: list[dict[str, Any] | None] = []

    def spy(secret: dict[str, Any] | None) -> str | None:
        read.append(copy.deepcopy(secret))
        return existing_password(secret)

    monkeypatch.setattr("craftplane_operator.reconciler.existing_password", spy)
    monkeypatch.setattr("craftplane_operator.planning.existing_password", spy)
    api = FakeApi()
    api.add(cr_body(finalizers=[FINALIZER]))
    theirs = api.add(foreign("Secret", f"{NAME}-rcon"))
    rec, _ = reconciler(api)
    seen = await rec.gather(KEY)
    assert seen.new_password, "a password of our own, not theirs"
    await rec.reconcile(KEY)

    assert all(secret is None or secret.get("data") != theirs["data"] for secret in read)
    assert ("apply", "Secret") not in api.writes and ("apply", "StatefulSet") not in api.writes
    assert api.objects["Secret", NAMESPACE, f"{NAME}-rcon"] == theirs
    assert rec.store.get("Secret", NAMESPACE, f"{NAME}-rcon") is None, "not remembered as ours"


async def test_once_the_object_in_the_way_is_gone_the_child_is_made_and_the_problem_cleared() -> (
    None
):
    api = FakeApi()
    api.add(cr_body(finalizers=[FINALIZER]))
    api.add(foreign("Secret", f"{NAME}-rcon"))
    rec, _ = reconciler(api)
    await rec.reconcile(KEY)
    assert condition(api)["reason"] == NAME_CONFLICT

    del api.objects["Secret", NAMESPACE, f"{NAME}-rcon"]  # no watch event tells us
    await rec.reconcile(KEY)
    secret = api.objects["Secret", NAMESPACE, f"{NAME}-rcon"]
    assert controlled_by(secret, UID)
    assert ("StatefulSet", NAMESPACE, NAME) in api.objects
    assert condition(api)["status"] == "False"
    assert status(api)["phase"] == "Starting"


async def test_a_deleted_server_leaves_someone_elses_object_in_place() -> None:
    api = FakeApi()
    api.add(cr_body(finalizers=[FINALIZER]))
    theirs = api.add(foreign("ConfigMap", f"{NAME}-config"))
    rec, _ = reconciler(api)
    await rec.reconcile(KEY)
    cr = api.objects["MinecraftServer", NAMESPACE, NAME]
    cr["metadata"]["deletionTimestamp"] = "2025-01-01T12:00:00Z"
    rec.store.put(cr)
    with pytest.raises(KubeError, match="modified"):
        await rec.reconcile(KEY)  # the Terminating status made the finalizer patch stale
    await rec.reconcile(KEY)
    assert FINALIZER not in api.objects["MinecraftServer", NAMESPACE, NAME]["metadata"].get(
        "finalizers", []
    )
    assert api.objects["ConfigMap", NAMESPACE, f"{NAME}-config"] == theirs
    assert not theirs["metadata"].get("ownerReferences"), "nothing for the GC to follow"
    assert api.deletes == []


# -- refusals -----------------------------------------------------------------------------


async def test_a_taken_node_port_is_reported_with_the_api_servers_message_and_retried() -> None:
    api = RefusingApi()
    api.add(cr_body({"service": {"type": "NodePort", "nodePort": 30065}}, finalizers=[FINALIZER]))
    api.refuse_named["Service", NAME] = KubeError(
        422, NODE_PORT_MESSAGE, {"message": NODE_PORT_MESSAGE}
    )
    rec, _ = reconciler(api)
    with pytest.raises(ApplyRefused, match="already allocated"):
        await rec.reconcile(KEY)  # so the work queue retries it at its backoff

    assert applied(api) == ["Secret", "ConfigMap", "Service", "Service", "StatefulSet"]
    degraded = condition(api)
    assert (degraded["status"], degraded["reason"]) == ("True", NODE_PORT_TAKEN)
    assert NODE_PORT_MESSAGE in degraded["message"]
    assert (NODE_PORT_TAKEN, degraded["message"]) in warnings(api)

    status_writes = sum(1 for w in api.writes if w == ("patch/status", "MinecraftServer"))
    events = len(api.created)
    with pytest.raises(ApplyRefused):
        await rec.reconcile(KEY)
    assert sum(1 for w in api.writes if w == ("patch/status", "MinecraftServer")) == status_writes
    assert len(api.created) == events, "the same refusal is not announced twice"

    del api.refuse_named["Service", NAME]  # the other tenant let go of the port
    await rec.reconcile(KEY)
    assert condition(api)["status"] == "False"


async def test_a_statefulset_the_api_server_refuses_fails_the_server_with_its_message() -> None:
    message = (
        'StatefulSet.apps "survival" is invalid: spec.template.spec.tolerations[0].operator: '
        'Unsupported value: "Sometimes"'
    )
    api = RefusingApi()
    api.add(cr_body(finalizers=[FINALIZER]))
    api.refuse_named["StatefulSet", NAME] = KubeError(422, message, {"message": message})
    rec, _ = reconciler(api)
    with pytest.raises(ApplyRefused):
        await rec.reconcile(KEY)
    assert status(api)["phase"] == "Error"
    assert condition(api)["reason"] == "ApplyFailed"
    assert message in status(api)["message"]
    assert [reason for reason, _ in warnings(api)] == ["ApplyFailed"], "one Warning, not two"


async def test_a_refused_secret_holds_the_statefulset_back() -> None:
    api = RefusingApi()
    api.add(cr_body(finalizers=[FINALIZER]))
    api.refuse_named["Secret", f"{NAME}-rcon"] = KubeError(403, "forbidden", {"message": "quota"})
    rec, _ = reconciler(api)
    with pytest.raises(ApplyRefused):
        await rec.reconcile(KEY)
    assert "StatefulSet" not in applied(api)
    assert condition(api)["reason"] == "ApplyFailed"


async def test_the_api_servers_own_trouble_still_fails_the_reconcile_as_before() -> None:
    api = RefusingApi()
    api.add(cr_body(finalizers=[FINALIZER]))
    api.refuse_named["ConfigMap", f"{NAME}-config"] = KubeError(500, "etcd timeout")
    rec, _ = reconciler(api)
    with pytest.raises(KubeError, match="etcd"):
        await rec.reconcile(KEY)
