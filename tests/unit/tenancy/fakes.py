"""An in-memory API server for the tenant applier and the CLI: get, list, server-side apply."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from craftplane.contracts.policy import POLICY_KIND
from craftplane.kube import KubeError

Obj = dict[str, Any]
Key = tuple[str, str | None, str]


def policy(name: str, **spec: Any) -> Obj:
    return {"apiVersion": "craftplane.io/v1alpha1", "kind": POLICY_KIND,
            "metadata": {"name": name}, "spec": spec}  # fmt: skip


def namespace(name: str, **labels: str) -> Obj:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}}


class FakeKube:
    """Objects by (kind, namespace, name). An apply that changes nothing keeps the
    resourceVersion, as the API server does; the quota controller is instant (status.hard)."""

    host = "https://fake.example:6443"

    def __init__(self, *objects: Obj) -> None:
        self.objects: dict[Key, Obj] = {}
        self.version = 0
        self.applied: list[Key] = []
        # Raised by the apply with this index (0-based), to stand for a refusal part-way.
        self.refuse_apply_at: int | None = None
        self.counts_quota = True
        # Called at the start of every apply: another writer acting between a read and it.
        self.meanwhile: Callable[[Obj], None] | None = None
        self.closed = False
        for obj in objects:
            self.put(obj)

    @staticmethod
    def key(obj: Obj) -> Key:
        meta = obj["metadata"]
        return (obj["kind"], meta.get("namespace"), meta["name"])

    def put(self, obj: Obj) -> Obj:
        self.version += 1
        stored = copy.deepcopy(obj)
        stored["metadata"]["resourceVersion"] = str(self.version)
        if stored["kind"] == "ResourceQuota" and self.counts_quota:
            stored["status"] = {"hard": dict(stored["spec"]["hard"])}
        self.objects[self.key(obj)] = stored
        return copy.deepcopy(stored)

    async def get(self, kind: str, namespace: str | None, name: str) -> Obj | None:
        found = self.objects.get((kind, namespace, name))
        return copy.deepcopy(found) if found is not None else None

    async def list_objects(
        self, kind: str, namespace: str | None = None, *, label_selector: str | None = None
    ) -> list[Obj]:
        assert label_selector is None or "=" not in label_selector  # "key exists" only
        return [
            copy.deepcopy(obj)
            for (k, ns, _), obj in sorted(self.objects.items(), key=lambda item: str(item[0]))
            if k == kind
            and (namespace is None or ns == namespace)
            and (label_selector is None or label_selector in obj["metadata"].get("labels", {}))
        ]

    async def apply(self, obj: Obj, *, field_manager: str, force: bool = True) -> Obj:
        assert field_manager == "craftplane-tenancy" and force
        if self.refuse_apply_at is not None and len(self.applied) == self.refuse_apply_at:
            raise KubeError(403, f"{obj['kind']} is forbidden")
        if self.meanwhile is not None:
            self.meanwhile(obj)
        key = self.key(obj)
        self.applied.append(key)
        current = self.objects.get(key)
        if current is not None and _content(current) == _content(obj):
            return copy.deepcopy(current)
        return self.put(obj)

    async def close(self) -> None:
        self.closed = True


def _content(obj: Obj) -> Obj:
    meta = {k: v for k, v in obj["metadata"].items() if k != "resourceVersion"}
    return {**{k: v for k, v in obj.items() if k not in ("metadata", "status")}, "metadata": meta}
