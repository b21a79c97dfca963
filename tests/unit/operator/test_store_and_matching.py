"""The watch store and the "is the live object already what we would apply" check."""

from __future__ import annotations

import pytest

from craftplane_operator.matching import up_to_date
from craftplane_operator.store import ObjectStore

pytestmark = pytest.mark.unit


def obj(rv: str, uid: str = "u1", **extra: object) -> dict[str, object]:
    return {
        "kind": "Service",
        "metadata": {"name": "s", "namespace": "n", "uid": uid, "resourceVersion": rv},
        **extra,
    }


def test_a_late_watch_event_does_not_replace_a_newer_write() -> None:
    store = ObjectStore()
    store.put(obj("20", spec={"v": "new"}))
    store.put(obj("10", spec={"v": "old"}))
    assert store.get("Service", "n", "s")["spec"] == {"v": "new"}  # type: ignore[index]


def test_a_recreated_object_replaces_the_old_one_whatever_its_version() -> None:
    store = ObjectStore()
    store.put(obj("20"))
    store.put(obj("5", uid="u2"))
    assert store.get("Service", "n", "s")["metadata"]["uid"] == "u2"  # type: ignore[index]
    store.drop("Service", "n", "s")
    assert store.get("Service", "n", "s") is None


@pytest.mark.parametrize(
    ("live", "desired", "expected"),
    [
        (None, {"spec": {"a": 1}}, False),
        ({"spec": {"a": 1, "defaulted": True}}, {"spec": {"a": 1}}, True),
        ({"spec": {"a": 2}}, {"spec": {"a": 1}}, False),
        ({"spec": {"l": [{"x": 1, "y": 2}]}}, {"spec": {"l": [{"x": 1}]}}, True),
        ({"spec": {"l": [{"x": 1}]}}, {"spec": {"l": [{"x": 1}, {"x": 2}]}}, False),
        ({"kind": "Other", "spec": {}}, {"kind": "Service", "spec": {}}, True),
    ],
)
def test_up_to_date(live: dict | None, desired: dict, expected: bool) -> None:
    assert up_to_date(live, desired) is expected


def test_the_store_keeps_no_managed_fields_or_last_applied_copy() -> None:
    store = ObjectStore()
    body = obj(
        "5",
        spec={"v": 1},
    )
    body["metadata"]["managedFields"] = [{"manager": "kubectl", "fieldsV1": {"f:spec": {}}}]  # type: ignore[index]
    body["metadata"]["annotations"] = {  # type: ignore[index]
        "kubectl.kubernetes.io/last-applied-configuration": '{"spec": {"v": 1}}',
        "keep": "me",
    }
    store.put(body)
    kept = store.get("Service", "n", "s")
    assert kept is not None
    assert "managedFields" not in kept["metadata"]
    assert kept["metadata"]["annotations"] == {"keep": "me"}
    assert kept["spec"] == {"v": 1}
    # The caller's body is not modified.
    assert "managedFields" in body["metadata"]  # type: ignore[operator]
