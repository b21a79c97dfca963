"""How a CR phase is shown outside the cluster (database, dashboard, REST API)."""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from types import MappingProxyType
from typing import Final

from craftplane.contracts.status import Phase


class ProjectedStatus(StrEnum):
    """Server status in the projection, named after the reference architecture's."""

    DEPLOYING = "deploying"
    RUNNING = "running"
    STOPPED = "stopped"
    FAILED = "failed"
    TERMINATING = "terminating"


PROJECTED_STATUS: Final[Mapping[Phase, ProjectedStatus]] = MappingProxyType(
    {
        Phase.STARTING: ProjectedStatus.DEPLOYING,
        Phase.RUNNING: ProjectedStatus.RUNNING,
        Phase.STOPPED: ProjectedStatus.STOPPED,
        Phase.ERROR: ProjectedStatus.FAILED,
        Phase.TERMINATING: ProjectedStatus.TERMINATING,
    }
)


def projected_status(phase: Phase) -> ProjectedStatus:
    """The projected status of a server in ``phase``."""
    return PROJECTED_STATUS[phase]
