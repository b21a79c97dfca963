"""Metadata shared by every child: ownership and the standard labels."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from craftplane.contracts import names
from craftplane_operator.builders.context import ServerContext


def owner_reference(server: ServerContext) -> dict[str, Any]:
    """The controller reference that makes the CR own (and garbage-collect) a child."""
    return {
        "apiVersion": names.API_VERSION,
        "kind": names.KIND,
        "name": server.name,
        "uid": server.uid,
        "controller": True,
        # Foreground deletion of the CR then waits for its children.
        "blockOwnerDeletion": True,
    }


def object_meta(
    server: ServerContext, name: str, annotations: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """``metadata`` of a child in the server's namespace."""
    meta: dict[str, Any] = {
        "name": name,
        "namespace": server.namespace,
        "labels": names.standard_labels(server.name),
        "ownerReferences": [owner_reference(server)],
    }
    # Left out when empty: with server-side apply, an annotation the spec no
    # longer lists is then removed because this manager stops owning it.
    if annotations:
        meta["annotations"] = dict(annotations)
    return meta
