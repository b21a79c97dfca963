"""Status assembly: conditions, the desired status, and whether it needs writing.

Status is written only when it changed, so everything here is stable under
repetition: the same derivation gives the same status, times included.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from pydantic import ValidationError

from craftplane.contracts.hibernation import WAKE_ENABLED_REASON, WAKE_FAILED_REASON
from craftplane.contracts.status import (
    Condition,
    ConditionStatus,
    ConditionType,
    HibernationStatus,
    Phase,
    Players,
    ServerStatus,
)
from craftplane_operator.allowlist_sync import REASON_NOT_RUNNING, SyncOutcome
from craftplane_operator.disruption import Notice
from craftplane_operator.hibernation import Sleep, blocked_message
from craftplane_operator.phase import Derived
from craftplane_operator.routing import Routes

# The status fields this module owns; others (e.g. kopf's own bookkeeping)
# are neither compared nor removed.
MANAGED_STATUS_KEYS: Final = (
    "phase",
    "conditions",
    "observedGeneration",
    "address",
    "players",
    "message",
    "nextRestart",
    "lastRestart",
    "internalAddress",
    "hostnames",
    "hibernation",
)


def _aware(now: datetime) -> datetime:
    return now if now.tzinfo is not None else now.replace(tzinfo=UTC)


def _conditions(
    derived: Derived, previous: Sequence[Mapping[str, Any]], generation: int, now: datetime
) -> list[Condition]:
    flags = (
        (ConditionType.READY, derived.ready),
        (ConditionType.PROGRESSING, derived.progressing),
        (ConditionType.DEGRADED, derived.degraded),
    )
    conditions = []
    for condition_type, flag in flags:
        status = ConditionStatus.TRUE if flag else ConditionStatus.FALSE
        reason, message = derived.reason, derived.message
        if condition_type is ConditionType.DEGRADED and derived.degraded_reason is not None:
            reason = derived.degraded_reason
            message = derived.degraded_message or ""
        conditions.append(
            condition_of(condition_type, status, reason, message, previous, generation, now)
        )
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


def condition_of(
    kind: ConditionType,
    status: ConditionStatus,
    reason: str,
    message: str,
    previous: Sequence[Mapping[str, Any]],
    generation: int,
    now: datetime,
) -> Condition:
    """A condition as of ``now``, keeping ``previous``'s lastTransitionTime while its status
    is the same: the time of the last *transition*, which a new reason or message is not."""
    condition = Condition(
        type=kind,
        status=status,
        reason=reason,
        message=message,
        last_transition_time=_aware(now),
        observed_generation=generation,
    )
    before = _find(previous, kind)
    if before.get("status") == status.value:
        kept = _time(before.get("lastTransitionTime"))
        if kept is not None:
            condition.last_transition_time = kept
    return condition


def build_conditions(
    derived: Derived, previous: Sequence[Mapping[str, Any]], generation: int, now: datetime
) -> list[dict[str, Any]]:
    """Ready, Progressing and Degraded, as JSON, keeping each lastTransitionTime
    from ``previous`` when that condition's status did not change."""
    return [
        c.model_dump(mode="json", by_alias=True, exclude_none=True)
        for c in _conditions(derived, previous, generation, now)
    ]


def allowlist_condition(
    outcome: SyncOutcome | None,
    previous: Sequence[Mapping[str, Any]],
    generation: int,
    now: datetime,
    *,
    running: bool,
) -> Condition | None:
    """AllowlistSynced from the last sync's outcome; while not Running (or before the first
    sync) the last value stays, or Unknown/NotRunning when there never was one."""
    before = next(
        (c for c in previous if isinstance(c, Mapping) and c.get("type") == "AllowlistSynced"),
        None,
    )
    if outcome is None or not running:
        if before is not None:
            try:
                return Condition.model_validate(before)
            except ValidationError:
                pass  # written by hand into something else: say it afresh
        if running:
            return None
        outcome = SyncOutcome(
            ConditionStatus.UNKNOWN, REASON_NOT_RUNNING, "the server is not running"
        )
    return condition_of(
        ConditionType.ALLOWLIST_SYNCED,
        outcome.status,
        outcome.reason,
        outcome.message,
        previous,
        generation,
        now,
    )


REASON_ACCEPTED: Final = "Accepted"


def _find(
    previous: Sequence[Mapping[str, Any]], condition_type: ConditionType
) -> Mapping[str, Any]:
    found = (c for c in previous if isinstance(c, Mapping) and c.get("type") == condition_type)
    return next(found, {})


def hostnames_condition(
    routes: Routes, previous: Sequence[Mapping[str, Any]], generation: int, now: datetime
) -> Condition | None:
    """HostnamesAccepted, only for a server that asks for custom hostnames (like
    AllowlistSynced, nothing to say otherwise): True when every one is routed here, else False
    with the first refusal's reason (Reserved or Taken) and every refusal in the message."""
    if not routes.asked:
        return None
    if routes.refusals:
        status, reason = ConditionStatus.FALSE, routes.refusals[0].reason
        message = "; ".join(refusal.message for refusal in routes.refusals)
    else:
        status, reason = ConditionStatus.TRUE, REASON_ACCEPTED
        message = "every custom hostname is routed to this server"
    return condition_of(
        ConditionType.HOSTNAMES_ACCEPTED, status, reason, message, previous, generation, now
    )


def wake_condition(
    sleep: Sleep, previous: Sequence[Mapping[str, Any]], generation: int, now: datetime
) -> Condition | None:
    """WakeOnJoin, only for a server with spec.hibernation: False once failed wakes stopped
    joins from waking it (the router then refuses such logins instead of asking)."""
    if sleep.record is None:
        return None
    if sleep.blocked:
        status, reason = ConditionStatus.FALSE, WAKE_FAILED_REASON
        message = blocked_message(sleep.record)
    else:
        status, reason = ConditionStatus.TRUE, WAKE_ENABLED_REASON
        message = "a player joining through the router wakes the server when it hibernates"
    return condition_of(
        ConditionType.WAKE_ON_JOIN, status, reason, message, previous, generation, now
    )


def hostname_events(
    previous: Sequence[Mapping[str, Any]], condition: Condition | None
) -> tuple[Notice, ...]:
    """A Warning when a hostname is newly refused (or refused for another reason), a Normal
    event when the last refusal is lifted: on transitions, not on every pass."""
    if condition is None:
        return ()
    before = _find(previous, ConditionType.HOSTNAMES_ACCEPTED)
    now = (condition.status.value, condition.reason, condition.message)
    if (before.get("status"), before.get("reason"), before.get("message")) == now:
        return ()
    if condition.status is ConditionStatus.FALSE:
        return (Notice(True, f"Hostname{condition.reason}", condition.message),)
    if before.get("status") == ConditionStatus.FALSE.value:
        return (Notice(False, "HostnamesAccepted", condition.message),)
    return ()


@dataclass(frozen=True)
class Upkept:
    """The parts of the status that stops, restarts and the allowlist add."""

    allowlist: Condition | None = None
    next_restart: str | None = None
    last_restart: Mapping[str, Any] | None = None
    hibernation: HibernationStatus | None = None  # status.hibernation
    wake_on_join: Condition | None = None


def desired_status(
    derived: Derived,
    previous_status: Mapping[str, Any] | None,
    generation: int,
    now: datetime,
    players: Players | None = None,
    upkept: Upkept | None = None,
    routes: Routes | None = None,
) -> dict[str, Any]:
    """The whole status to write, in the CRD's shape.

    ``players`` is only reported while Running: a count from before a stop or
    a crash would be a lie. Without ``routes`` (an invalid spec, a deletion) the server is
    routed nowhere: no hostnames, no internal address.
    """
    previous = (previous_status or {}).get("conditions") or []
    extra = upkept or Upkept()
    conditions = _conditions(derived, previous, generation, now)
    if extra.allowlist is not None:
        conditions.append(extra.allowlist)
    accepted = (
        hostnames_condition(routes, previous, generation, now) if routes is not None else None
    )
    if accepted is not None:
        conditions.append(accepted)
    if extra.wake_on_join is not None:
        conditions.append(extra.wake_on_join)
    status = ServerStatus.model_validate(
        {
            "phase": derived.phase,
            "conditions": conditions,
            "observedGeneration": generation,
            "address": derived.address,
            "players": players if derived.phase is Phase.RUNNING else None,
            "message": derived.message,
            "nextRestart": extra.next_restart,
            "lastRestart": extra.last_restart,
            "internalAddress": routes.internal if routes is not None else None,
            "hostnames": list(routes.hostnames) if routes is not None else [],
            "hibernation": extra.hibernation,
        }
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
        elif isinstance(current.get(key), Mapping) and isinstance(desired_status.get(key), Mapping):
            patch[key] = _removing(current[key], desired_status[key])
    return patch


def _removing(current: Mapping[str, Any], desired: Mapping[str, Any]) -> dict[str, Any]:
    """``desired`` as a merge patch over ``current``: a merge patch keeps what it does not
    name, so every key ``current`` has and ``desired`` no longer does is named, as None (e.g.
    status.hibernation.emptySince once players came back), at every depth of objects."""
    patch = dict(desired)
    for key, value in current.items():
        if key not in desired:
            if value is not None:
                patch[key] = None
        elif isinstance(value, Mapping) and isinstance(desired[key], Mapping):
            patch[key] = _removing(value, desired[key])
    return patch


def problem_events(previous: Mapping[str, Any], derived: Derived) -> tuple[Notice, ...]:
    """A Warning when a phase-neutral problem appears or changes (not on every pass)."""
    if derived.degraded_reason is None or derived.degraded_message is None:
        return ()
    conditions: list[Mapping[str, Any]] = previous.get("conditions") or []
    before: Mapping[str, Any] = next((c for c in conditions if c.get("type") == "Degraded"), {})
    if (before.get("reason"), before.get("message")) == (
        derived.degraded_reason,
        derived.degraded_message,
    ):
        return ()
    return (Notice(True, derived.degraded_reason, derived.degraded_message),)
