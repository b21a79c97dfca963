"""Fakes shared by the gateway's unit tests."""

from __future__ import annotations

import copy
from typing import Any

from craftplane.contracts.names import TENANT_LABEL
from craftplane.kube import KubeError

NAMESPACES = "/api/v1/namespaces/"


class FakeNamespaces:
    """The part of KubeClient the tenant check uses: GET of one namespace, from a dict."""

    def __init__(self, labels: dict[str, dict[str, str]] | None = None) -> None:
        self.labels = dict(labels or {})
        self.reads: list[str] = []
        self.failure: KubeError | None = None

    def tenant(self, tenant: str) -> FakeNamespaces:
        """Add tenant-<tenant>, labelled as the tenant's."""
        self.labels[f"tenant-{tenant}"] = {TENANT_LABEL: tenant}
        return self

    async def request(self, method: str, path: str, **_: Any) -> dict[str, Any]:
        assert method == "GET" and path.startswith(NAMESPACES), (method, path)
        name = path.removeprefix(NAMESPACES)
        self.reads.append(name)
        if self.failure is not None:
            raise self.failure
        if name not in self.labels:
            raise KubeError(404, f'namespaces "{name}" not found')
        return {"metadata": {"name": name, "labels": self.labels[name]}}


class FakeCluster(FakeNamespaces):
    """The part of KubeClient the backup routes use, over objects kept in a dict: get, list
    (with an ``a=b`` label selector), create (409 when the name is taken), merge patch, delete
    (a finalizer keeps the object, marked deleted), and the namespace reads of the tenant
    check. ``failures`` makes the next call of a method raise."""

    def __init__(self) -> None:
        super().__init__()
        self.objects: dict[tuple[str, str | None, str], dict[str, Any]] = {}
        self.failures: dict[str, KubeError] = {}
        self.calls: list[tuple[str, str, str | None, str]] = []
        self._version = 100
        self._uids = 0

    def _fail(self, method: str) -> None:
        failure = self.failures.pop(method, None)
        if failure is not None:
            raise failure

    def _stamp(self, obj: dict[str, Any]) -> None:
        self._version += 1
        obj["metadata"]["resourceVersion"] = str(self._version)

    def put(self, obj: dict[str, Any]) -> dict[str, Any]:
        """Add (or replace) an object as the API server would hold it."""
        obj = copy.deepcopy(obj)
        meta = obj.setdefault("metadata", {})
        if "uid" not in meta:
            self._uids += 1
            meta["uid"] = f"uid-{self._uids}"
        meta.setdefault("creationTimestamp", "2025-01-01T00:00:00Z")
        self._stamp(obj)
        self.objects[obj["kind"], meta.get("namespace"), meta["name"]] = obj
        return copy.deepcopy(obj)

    async def get(self, kind: str, namespace: str | None, name: str) -> dict[str, Any] | None:
        self.calls.append(("get", kind, namespace, name))
        self._fail("get")
        found = self.objects.get((kind, namespace, name))
        return copy.deepcopy(found) if found is not None else None

    async def list_objects(
        self, kind: str, namespace: str | None = None, *, label_selector: str | None = None
    ) -> list[dict[str, Any]]:
        self.calls.append(("list", kind, namespace, label_selector or ""))
        self._fail("list")
        wanted = dict(part.split("=", 1) for part in (label_selector or "").split(",") if part)
        return [
            copy.deepcopy(obj)
            for (k, ns, _), obj in self.objects.items()
            if k == kind
            and (namespace is None or ns == namespace)
            and all(obj["metadata"].get("labels", {}).get(a) == b for a, b in wanted.items())
        ]

    async def create(self, obj: dict[str, Any]) -> dict[str, Any]:
        meta = obj["metadata"]
        self.calls.append(("create", obj["kind"], meta.get("namespace"), meta["name"]))
        self._fail("create")
        if (obj["kind"], meta.get("namespace"), meta["name"]) in self.objects:
            raise KubeError(409, f'{obj["kind"]} "{meta["name"]}" already exists')
        return self.put(obj)

    async def merge_patch(
        self, kind: str, namespace: str | None, name: str, patch: dict[str, Any]
    ) -> dict[str, Any]:
        from craftplane_gateway.schemas import merge_patch

        self.calls.append(("patch", kind, namespace, name))
        self._fail("patch")
        key = (kind, namespace, name)
        if key not in self.objects:
            raise KubeError(404, f'{kind} "{name}" not found')
        obj: dict[str, Any] = merge_patch(self.objects[key], patch)
        self._stamp(obj)
        self.objects[key] = obj
        return copy.deepcopy(obj)

    async def delete(self, kind: str, namespace: str | None, name: str) -> bool:
        self.calls.append(("delete", kind, namespace, name))
        self._fail("delete")
        key = (kind, namespace, name)
        obj = self.objects.get(key)
        if obj is None:
            return False
        if obj["metadata"].get("finalizers"):
            obj["metadata"]["deletionTimestamp"] = "2025-01-02T00:00:00Z"
            self._stamp(obj)
        else:
            del self.objects[key]
        return True
