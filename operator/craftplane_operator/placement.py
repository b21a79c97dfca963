"""Placement: where this cluster runs the servers of chosen namespaces, and from which image.

A cluster setting, not a sandbox special case: the sandbox uses it to send the demo tenant's
servers to its real node with the locally built image, and a production cluster can use it
to keep game servers on a dedicated, tainted node pool. Pure: a spec in, the placed spec out.

Applied last, over the scheduling the server's placement profile gave it (see `profiles` for
the whole order): the operator's own configuration wins over the tenant's policy.
"""

from __future__ import annotations

from dataclasses import replace
from fnmatch import fnmatchcase
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from craftplane.contracts.spec import DEFAULT_IMAGE, MinecraftServerSpec, Toleration
from craftplane_operator.builders.context import ServerContext


class Placement(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)

    namespaces: list[str] = Field(
        description="Namespace names or shell patterns (tenant-*) whose servers this places."
    )
    image: str | None = Field(
        default=None,
        description="Image for servers that leave spec.image at its default.",
    )
    node_selector: dict[str, str] = Field(default={}, alias="nodeSelector")
    tolerations: list[Toleration] = Field(default=[])
    storage_class_name: str | None = Field(
        default=None,
        alias="storageClassName",
        description="StorageClass of the placed servers' worlds (the spec's is overridden).",
    )

    def applies_to(self, namespace: str) -> bool:
        return any(fnmatchcase(namespace, pattern) for pattern in self.namespaces)


def place(spec: MinecraftServerSpec, placement: Placement) -> MinecraftServerSpec:
    """The spec as this cluster runs it: the placement's node selector and storage class win
    over the spec's (a tenant can neither leave the pool nor put its world on another node's
    storage), its tolerations come first, and its image replaces only the default image."""
    scheduling = spec.scheduling.model_copy(
        update={
            "node_selector": {**spec.scheduling.node_selector, **placement.node_selector},
            "tolerations": [
                *placement.tolerations,
                *(t for t in spec.scheduling.tolerations if t not in placement.tolerations),
            ],
        }
    )
    update: dict[str, Any] = {"scheduling": scheduling}
    if placement.image and spec.image == DEFAULT_IMAGE:
        update["image"] = placement.image
    if placement.storage_class_name:
        update["storage"] = spec.storage.model_copy(
            update={"storage_class_name": placement.storage_class_name}
        )
    return spec.model_copy(update=update)


def placed(server: ServerContext, placement: Placement | None) -> ServerContext:
    if placement is None or not placement.applies_to(server.namespace):
        return server
    return replace(server, spec=place(server.spec, placement))
