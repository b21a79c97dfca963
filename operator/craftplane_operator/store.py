"""What the watches last said about each object: the reconciler reads here, not the API.

Every watched object (MinecraftServers and their children) arrives through kopf's watch
streams; keeping the latest body of each means a reconcile costs no GET at all, only the
writes it decides on. Objects this process wrote are stored from the write's response, so a
reconcile right after its own write sees it. The store can lag the cluster by a watch event;
that is safe because every change produces a new event and a new reconcile (level-based).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

Obj = dict[str, Any]


class ObjectStore:
    def __init__(self) -> None:
        self._objects: dict[tuple[str, str, str], Obj] = {}
        # Names by (kind, namespace), for the few readers that look at all of a kind there
        # (the backups and restores of a server, the Jobs sharing a repository).
        self._names: dict[tuple[str, str], set[str]] = {}

    def __len__(self) -> int:
        return len(self._objects)

    @staticmethod
    def _key(kind: str, namespace: str, name: str) -> tuple[str, str, str]:
        return kind, namespace, name

    def put(self, body: Mapping[str, Any]) -> None:
        meta = body.get("metadata") or {}
        kind, name = body.get("kind"), meta.get("name")
        if not kind or not name:
            return
        key = self._key(kind, meta.get("namespace", ""), name)
        current = self._objects.get(key)
        if current is not None and _older(body, current):
            return  # a late watch event must not replace what a newer write returned
        self._objects[key] = _slim(body)
        self._names.setdefault((key[0], key[1]), set()).add(key[2])

    def drop(self, kind: str, namespace: str, name: str) -> None:
        self._objects.pop(self._key(kind, namespace, name), None)
        names = self._names.get((kind, namespace))
        if names is not None:
            names.discard(name)

    def of_kind(self, kind: str, namespace: str) -> list[Obj]:
        """Every stored object of `kind` in `namespace`, by name."""
        names = sorted(self._names.get((kind, namespace), ()))
        return [self._objects[kind, namespace, name] for name in names]

    def get(self, kind: str, namespace: str, name: str) -> Obj | None:
        return self._objects.get(self._key(kind, namespace, name))


_LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"


def _slim(body: Mapping[str, Any]) -> Obj:
    """The body without what no reconcile reads: managedFields (often larger than the rest of
    the object) and kubectl's last-applied copy of the spec. At a thousand servers these made
    up most of the operator's memory."""
    slim = dict(body)
    meta = dict(slim.get("metadata") or {})
    meta.pop("managedFields", None)
    annotations = meta.get("annotations")
    if annotations and _LAST_APPLIED in annotations:
        meta["annotations"] = {k: v for k, v in annotations.items() if k != _LAST_APPLIED}
    slim["metadata"] = meta
    return slim


def _older(candidate: Mapping[str, Any], current: Mapping[str, Any]) -> bool:
    """True when candidate is an older version of the same object (same uid)."""
    a, b = candidate.get("metadata") or {}, current.get("metadata") or {}
    if a.get("uid") != b.get("uid"):
        return False
    try:
        return int(a.get("resourceVersion", 0)) < int(b.get("resourceVersion", 0))
    except (TypeError, ValueError):
        return False
