"""What one reconcile gathered (the CR, its children, the player count, what was last
published, who holds its hostnames): the one input of `planning.plan`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from craftplane.contracts.hostnames import Claim
from craftplane.contracts.status import Players
from craftplane_operator.allowlist_sync import SyncOutcome
from craftplane_operator.builders.context import ServerContext
from craftplane_operator.disruption import CountdownView
from craftplane_operator.ownership import ApplyRefusal
from craftplane_operator.profiles import PlacementProblem
from craftplane_operator.routing import RouterConfig

Obj = dict[str, Any]


def read_spec(body: Mapping[str, Any]) -> ServerContext | ValidationError | None:
    """The validated server, the reason its spec is invalid, or None while it is deleted."""
    if body["metadata"].get("deletionTimestamp"):
        return None
    try:
        return ServerContext.from_body(body)
    except ValidationError as exc:
        return exc


@dataclass(frozen=True)
class Gathered:
    """What one reconcile of `key` found; `body` None: the server no longer exists."""

    key: str
    body: Obj | None
    now: datetime
    tenant: str | None = None
    # read_spec(body), parsed once by the gatherer (which needs it to know what to read).
    spec: ServerContext | ValidationError | None = None
    children: Mapping[str, Obj | None] = field(default_factory=dict)
    # A fresh RCON password, used only when no Secret holds one: randomness is gathered too.
    new_password: str = ""
    players: Players | None = None
    published: str | None = None  # state key of the last phase event published for the uid
    ping_in_cluster: bool = False
    ping_target_annotation: bool = False  # honour craftplane.io/ping-target (outside the cluster)

    @property
    def ping_reach(self) -> dict[str, bool]:
        return {"in_cluster": self.ping_in_cluster, "annotation": self.ping_target_annotation}

    volume_refusal: str | None = None  # the API server's 403/422 to the last plan's resize
    refusals: tuple[ApplyRefusal, ...] = ()  # its 4xx answers to the last plan's applies
    countdown: CountdownView | None = None  # the announcement running or run for the server
    allowlist: SyncOutcome | None = None  # the last allowlist sync's outcome
    # Why the server's placement profile did not resolve (the spec then holds its scheduling).
    placement_problem: PlacementProblem | None = None
    # The platform's game domain and router (settings), and the claim holding each custom
    # hostname the server asks for (from the cluster-wide index; absent: nobody holds it).
    routing: RouterConfig = field(default_factory=RouterConfig)
    holders: Mapping[str, Claim] = field(default_factory=dict)
    # Seconds in a minute of spec.hibernation.afterEmptyMinutes (60; tests shorten it).
    hibernation_minute: float = 60.0

    @classmethod
    def of(cls, key: str, body: Obj | None, now: datetime, **found: Any) -> Gathered:
        spec = read_spec(body) if body is not None else None
        return cls(key=key, body=body, now=now, spec=spec, **found)
