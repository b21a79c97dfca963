"""Kubernetes watch lines and the objects they carry, as the routing table needs them (pure)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from craftplane import tokens
from craftplane.contracts.names import TENANT_LABEL
from craftplane.kube import Obj

GONE: Final = 410


@dataclass(frozen=True)
class WatchEvent:
    type: str  # ADDED, MODIFIED, DELETED, BOOKMARK or ERROR
    object: Obj

    @property
    def version(self) -> str:
        """The resourceVersion to resume from after this event ("" for an ERROR)."""
        if self.type == "ERROR":
            return ""
        version = (self.object.get("metadata") or {}).get("resourceVersion")
        return version if isinstance(version, str) else ""

    @property
    def code(self) -> int:
        """An ERROR's HTTP code (410: the version is too old, list again)."""
        code = self.object.get("code")
        return code if isinstance(code, int) else 0

    @property
    def message(self) -> str:
        return str(self.object.get("message") or self.object.get("reason") or "watch error")


def parse_line(line: str) -> WatchEvent:
    """One line of a watch; ValueError for a line that is not a watch event."""
    data = json.loads(line)
    if not isinstance(data, dict) or not isinstance(data.get("type"), str):
        raise ValueError("not a watch event")
    obj = data.get("object")
    if not isinstance(obj, dict):
        raise ValueError("a watch event without an object")
    return WatchEvent(data["type"], obj)


def is_tenant_namespace(obj: Mapping[str, Any]) -> bool:
    """A namespace labelled as a tenant's, whose name is that tenant's namespace name: a label
    alone on some other namespace does not make its servers reachable through the router."""
    meta = obj.get("metadata") or {}
    labels = meta.get("labels") or {}
    tenant = labels.get(TENANT_LABEL) if isinstance(labels, Mapping) else None
    name = meta.get("name")
    return (
        isinstance(tenant, str)
        and isinstance(name, str)
        and tokens.tenant_for_namespace(name) == tenant
    )


def name_of(obj: Mapping[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("name") or "")


def key_of(obj: Mapping[str, Any]) -> tuple[str, str]:
    meta = obj.get("metadata") or {}
    return str(meta.get("namespace") or ""), str(meta.get("name") or "")
