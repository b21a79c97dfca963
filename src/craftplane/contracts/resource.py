"""A whole MinecraftServer object, for parsing what kopf or the API server hands over."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from craftplane.contracts.spec import MinecraftServerSpec
from craftplane.contracts.status import ServerStatus


class MinecraftServer(BaseModel):
    """A MinecraftServer custom resource.

    Validation errors are located under ``spec``/``status`` (e.g.
    ``("spec", "resources", "memory")``), matching the field paths the API
    server reports. Unknown top-level keys are ignored: the API server owns
    metadata and may add fields we do not model.
    """

    model_config = ConfigDict(populate_by_name=True, extra="ignore")

    api_version: Literal["craftplane.io/v1alpha1"] = Field(
        default="craftplane.io/v1alpha1", alias="apiVersion"
    )
    kind: Literal["MinecraftServer"] = "MinecraftServer"
    metadata: dict[str, Any] = Field(default={})
    spec: MinecraftServerSpec
    status: ServerStatus | None = None
