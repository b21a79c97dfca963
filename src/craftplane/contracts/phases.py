"""How a CR phase is shown outside the cluster (database, dashboard, REST API).

The status words are spelled here and in the SQL migration's CHECK only (a unit test keeps
it so); everything else names them through :class:`ServerState`.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from types import MappingProxyType
from typing import Final

from craftplane.contracts.status import Phase


class ServerState(StrEnum):
    """Projected status of a server: the CR phase as shown outside the cluster, plus
    ``deleted`` for a server whose CR is gone (kept in the timeline)."""

    DEPLOYING = "deploying"
    RUNNING = "running"
    STOPPED = "stopped"
    FAILED = "failed"
    TERMINATING = "terminating"
    DELETED = "deleted"


PROJECTED_STATUS: Final[Mapping[Phase, ServerState]] = MappingProxyType(
    {
        Phase.STARTING: ServerState.DEPLOYING,
        Phase.RUNNING: ServerState.RUNNING,
        Phase.STOPPED: ServerState.STOPPED,
        Phase.ERROR: ServerState.FAILED,
        Phase.TERMINATING: ServerState.TERMINATING,
    }
)

LIVE_STATES: Final[tuple[ServerState, ...]] = tuple(
    s for s in ServerState if s is not ServerState.DELETED
)
"""Every state but deleted, in declaration order."""


def projected_status(phase: Phase) -> ServerState:
    """The projected status of a server in ``phase``."""
    return PROJECTED_STATUS[phase]
