"""The one input of every builder: a MinecraftServer reduced to what children need."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from craftplane.contracts.resource import MinecraftServer
from craftplane.contracts.spec import MinecraftServerSpec


class IncompleteBody(ValueError):
    """A CR body without the metadata the API server always sets on a stored object."""


@dataclass(frozen=True)
class ServerContext:
    """A validated MinecraftServer: identity, generation, spec and annotations."""

    name: str
    namespace: str
    uid: str
    generation: int
    spec: MinecraftServerSpec
    annotations: Mapping[str, str] = field(default_factory=dict)
    # Why the server is held stopped for a restore (spec.stopped then reads true), or None.
    held: str | None = None
    # When it fell asleep (status.hibernation.hibernatedAt) while hibernation plans it stopped
    # (spec.stopped then reads true; the owner's own value is untouched), or None.
    hibernating: str | None = None
    # The hostnames it was granted (status.hostnames), named on its Service for mc-router.
    hostnames: tuple[str, ...] = ()

    @classmethod
    def from_body(cls, body: Mapping[str, Any]) -> ServerContext:
        """Build from a raw CR body (as kopf or the API server hands it over).

        Raises pydantic's ValidationError (located under ``spec``) for a spec
        the contracts refuse, and IncompleteBody when identity is missing.
        """
        metadata: Mapping[str, Any] = body.get("metadata") or {}
        missing = [key for key in ("name", "namespace", "uid") if not metadata.get(key)]
        if missing:
            fields = ", ".join(f"metadata.{key}" for key in missing)
            raise IncompleteBody(f"MinecraftServer body lacks {fields}")
        # Only the spec goes through the wrapper: status may carry keys other
        # writers own (e.g. kopf's), which the strict status model refuses.
        resource = MinecraftServer.model_validate({"spec": body.get("spec") or {}})
        return cls(
            name=str(metadata["name"]),
            namespace=str(metadata["namespace"]),
            uid=str(metadata["uid"]),
            generation=int(metadata.get("generation") or 0),
            spec=resource.spec,
            annotations=dict(metadata.get("annotations") or {}),
        )
