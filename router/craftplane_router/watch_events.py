"""The objects a watch carries, as the routing table needs them (pure). The watch lines
themselves are read by ``craftplane.watch``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from craftplane import tokens
from craftplane.contracts.names import TENANT_LABEL


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
