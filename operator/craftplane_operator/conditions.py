"""Status assembly: conditions, the desired status, and whether it needs writing.

Status is written only when it changed, so everything here is stable under
repetition: the same derivation gives the same status, times included.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Final

from pydantic import ValidationError

from craftplane.contracts.status import (
    Condition,
    ConditionStatus,
    ConditionType,
    Phase,
    Players,
    ServerStatus,
)
from craftplane_operator.phase import Derived

# The status fields this module owns; others (e.g. kopf's own bookkeeping)
# are neither compared nor removed.
MANAGED_STATUS_KEYS: Final = (
    "phase",
    "conditions",
    "observedGeneration",
    "address",
    "players",
    "message",
)


def _aware(now: datetime) -> datetime:
    return now if now.tzinfo is not None else now.replace(tzinfo=UTC)


def _conditions(
    derived: Derived, previous: Sequence[Mapping[str, Any]], generation: int, now: datetime
) -> list[Condition]:
    by_type = {c.get("type"): c for c in previous if isinstance(c, Mapping)}
    flags = (
        (ConditionType.READY, derived.ready),
        (ConditionType.PROGRESSING, derived.progressing),
        (ConditionType.DEGRADED, derived.degraded),
    )
    conditions = []
    for condition_type, flag in flags:
        status = ConditionStatus.TRUE if flag else ConditionStatus.FALSE
        own = condition_type is ConditionType.DEGRADED and derived.degraded_reason is not None
        condition = Condition(
            type=condition_type,
            status=status,
            reason=derived.degraded_reason if own else derived.reason,
            message=derived.degraded_message if own else derived.message,
            last_transition_time=_aware(now),
            observed_generation=generation,
        )
        before = by_type.get(condition_type.value)
        if before is not None and before.get("status") == status.value:
            # The time of the last *transition*: a reason or message change
            # within the same status is not one.
            kept = _time(before.get("lastTransitionTime"))
            if kept is not None:
                condition.last_transition_time = kept
        conditions.append(condition)
    return conditions


def _time(value: Any) -> datetime | None:
    # Kubernetes writes times as strings; pydantic would also read a number
    # as a Unix timestamp, which no API server ever wrote here.
    if not isinstance(value, str):
        return None
    try:
        return Condition.model_validate(
            {"type": "Ready", "status": "True", "lastTransitionTime": value}
        ).last_transition_time
    except ValidationError:
        return None


def build_conditions(
    derived: Derived, previous: Sequence[Mapping[str, Any]], generation: int, now: datetime
) -> list[dict[str, Any]]:
    """Ready, Progressing and Degraded, as JSON, keeping each lastTransitionTime
    from ``previous`` when that condition's status did not change."""
    return [
        c.model_dump(mode="json", by_alias=True, exclude_none=True)
        for c in _conditions(derived, previous, generation, now)
    ]


def desired_status(
    derived: Derived,
    previous_status: Mapping[str, Any] | None,
    generation: int,
    now: datetime,
    players: Players | None = None,
) -> dict[str, Any]:
    """The whole status to write, in the CRD's shape.

    ``players`` is only reported while Running: a count from before a stop or
    a crash would be a lie.
    """
    previous = (previous_status or {}).get("conditions") or []
    status = ServerStatus(
        phase=derived.phase,
        conditions=_conditions(derived, previous, generation, now),
        observed_generation=generation,
        address=derived.address,
        players=players if derived.phase is Phase.RUNNING else None,
        message=derived.message,
    )
    return status.model_dump(mode="json", by_alias=True, exclude_none=True)


def _comparable(status: Mapping[str, Any]) -> dict[str, Any]:
    view = {key: status[key] for key in MANAGED_STATUS_KEYS if status.get(key) is not None}
    if isinstance(view.get("conditions"), list):
        # Conditions are a map keyed by type (x-kubernetes-list-type: map);
        # their order carries no meaning.
        view["conditions"] = sorted(
            view["conditions"], key=lambda c: str(c.get("type")) if isinstance(c, Mapping) else ""
        )
    return view


def status_patch(
    current_status: Mapping[str, Any] | None, desired_status: Mapping[str, Any]
) -> dict[str, Any] | None:
    """A JSON merge patch for ``status`` (send as ``{"status": patch}``), or None
    when the current status already says the same.

    Managed fields absent from ``desired_status`` are set to None, which a
    merge patch reads as "remove" (e.g. ``players`` once the server stops).
    """
    current = current_status or {}
    if _comparable(current) == _comparable(desired_status):
        return None
    patch = dict(desired_status)
    for key in MANAGED_STATUS_KEYS:
        if key not in desired_status and current.get(key) is not None:
            patch[key] = None
    return patch
