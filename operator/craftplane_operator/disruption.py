"""Holding back what stops the pod until players were warned and the world saved (pure).

A stop (`spec.stopped`), a restart (requested or scheduled) or a spec change that replaces
the pod is *disruptive*. While the server is Running, the plan keeps the StatefulSet as it
is and asks for an announcement (a countdown over RCON, then `save-all`, run outside the
reconcile); once the announcement for that exact disruption reports done, the change goes
through. A restart is a bump of the pod template's RESTARTED_AT annotation to the request's
value, so a restart already applied is recognised from the StatefulSet itself.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from typing import Any, Final

from craftplane.contracts.quantity import InvalidQuantity, parse_quantity
from craftplane.contracts.times import parse_time, rfc3339
from craftplane_operator.builders.context import ServerContext
from craftplane_operator.builders.naming import CONFIG_HASH_ANNOTATION
from craftplane_operator.maintenance import (
    RestartRequest,
    ScheduleState,
    progress_message,
    requested_restart,
    scheduled,
)
from craftplane_operator.profiles import POD_SCHEDULING_FIELDS

Obj = dict[str, Any]

# On the pod template: the restart request last carried out; a new value rolls the pod.
RESTARTED_AT_ANNOTATION: Final = "craftplane.io/restarted-at"
VERB_RESTART: Final = "restarting"
VERB_STOP: Final = "stopping"
VERB_HIBERNATE: Final = "hibernating"


@dataclass(frozen=True)
class CountdownView:
    """An announcement the operator runs (or ran) for a server, as the plan sees it."""

    request: str
    done: bool
    remaining: int = 0
    players: int = 0
    verb: str = VERB_RESTART


@dataclass(frozen=True)
class Announce:
    """Start the countdown (then save-all) for `request`."""

    request: str
    verb: str
    seconds: int  # 0: only save
    players: int


@dataclass(frozen=True)
class Notice:
    warning: bool
    reason: str
    message: str


@dataclass(frozen=True)
class Upkeep:
    statefulset: Obj | None  # the StatefulSet to apply (bumped); None: held back as it is
    announce: Announce | None = None
    message: str | None = None  # replaces status.message (and makes Progressing True)
    last_restart: Obj | None = None  # status.lastRestart
    next_restart: str | None = None  # status.nextRestart
    notices: tuple[Notice, ...] = ()
    wake_at: datetime | None = None
    disrupting: bool = False  # a disruption is pending or being carried out


def _template_annotations(sts: Mapping[str, Any] | None) -> Mapping[str, str]:
    template = ((sts or {}).get("spec") or {}).get("template") or {}
    return (template.get("metadata") or {}).get("annotations") or {}


def _container(sts: Mapping[str, Any] | None) -> Mapping[str, Any]:
    containers = ((((sts or {}).get("spec") or {}).get("template") or {}).get("spec") or {}).get(
        "containers"
    ) or []
    return containers[0] if containers else {}


def _image(sts: Mapping[str, Any] | None) -> str | None:
    image = _container(sts).get("image")
    return None if image is None else str(image)


def _limits(sts: Mapping[str, Any] | None) -> dict[str, Decimal] | None:
    """The container's limits as numbers: the API server rewrites '0.5' as '500m'."""
    limits = (_container(sts).get("resources") or {}).get("limits")
    if not limits:
        return None
    try:
        return {key: parse_quantity(str(value)) for key, value in limits.items()}
    except InvalidQuantity:
        return None


def _scheduling(sts: Mapping[str, Any] | None) -> dict[str, Any]:
    """Where the pod may run (an empty list or map is the same as none)."""
    pod = (((sts or {}).get("spec") or {}).get("template") or {}).get("spec") or {}
    return {key: pod.get(key) or None for key in POD_SCHEDULING_FIELDS}


def restarts_pod(current: Mapping[str, Any], desired: Mapping[str, Any]) -> bool:
    """Whether applying `desired` over `current` replaces the pod: its configuration (the
    config-hash annotation), its image, its CPU/memory limits or where it may run (a
    placement profile the admin edited) change. What the live object does not say (a
    StatefulSet not written by this operator) is not taken for a change."""
    before = _template_annotations(current).get(CONFIG_HASH_ANNOTATION)
    after = _template_annotations(desired).get(CONFIG_HASH_ANNOTATION)
    image_before, image_after = _image(current), _image(desired)
    limits_before = _limits(current)
    return (
        (before is not None and before != after)
        or (image_before is not None and image_before != image_after)
        or (limits_before is not None and limits_before != _limits(desired))
        or (before is not None and _scheduling(current) != _scheduling(desired))
    )


def _rollout_id(desired: Mapping[str, Any]) -> str:
    """One id per pod shape asked for, so a countdown done for one change is not taken for
    another's (the same config hash and image with other limits or scheduling)."""
    shape = {"limits": _limits(desired), "scheduling": _scheduling(desired)}
    digest = hashlib.sha256(json.dumps(shape, sort_keys=True, default=str).encode()).hexdigest()
    hash_ = _template_annotations(desired).get(CONFIG_HASH_ANNOTATION, "")
    return f"rollout:{hash_}:{_image(desired)}:{digest[:10]}"


def _replicas(sts: Mapping[str, Any] | None) -> int:
    return int(((sts or {}).get("spec") or {}).get("replicas") or 0)


def _set_mark(desired: Obj, value: str | None) -> None:
    if value is None:
        return
    template = desired["spec"].setdefault("template", {})
    template.setdefault("metadata", {}).setdefault("annotations", {})[RESTARTED_AT_ANNOTATION] = (
        value
    )


@dataclass(frozen=True)
class Inputs:
    server: ServerContext
    status: Mapping[str, Any]
    current: Obj | None  # the live StatefulSet
    desired: Obj  # the StatefulSet the builders want
    running: bool
    players: int
    countdown: CountdownView | None
    now: datetime


def _schedule(given: Inputs) -> ScheduleState | None:
    schedule = given.server.spec.lifecycle.restart_schedule
    if schedule is None:
        return None
    answered = (given.status.get("lastRestart") or {}).get("requestedAt")
    noted = parse_time(given.status.get("nextRestart"))
    if given.server.spec.stopped:
        noted = None  # a stopped server has nothing to restart: the next slot counts
    return scheduled(schedule, noted, answered, given.now, given.players)


def _disruption(given: Inputs, restart: RestartRequest | None) -> tuple[str, str] | None:
    """(request id, verb) of what would stop the pod, most disruptive first."""
    current = given.current
    if current is None or _replicas(current) < 1:
        return None
    if given.server.spec.stopped:
        if given.server.hibernating is not None:
            # One request per sleep: a countdown done for an earlier one does not count.
            return f"hibernate:{given.server.hibernating}", VERB_HIBERNATE
        return f"stop@{given.server.generation}", VERB_STOP
    if restart is not None:
        return f"restart:{restart.requested_at}", VERB_RESTART
    if restarts_pod(current, given.desired):
        return _rollout_id(given.desired), VERB_RESTART
    return None


def plan_upkeep(given: Inputs) -> Upkeep:
    """The StatefulSet to apply and what the stop/restart machinery must do now."""
    schedule = _schedule(given)
    next_restart = rfc3339(schedule.next_restart) if schedule else None
    wake_at = schedule.wake_at if schedule else None
    previous = given.status.get("lastRestart")
    restart = requested_restart(given.server.annotations, previous)
    if restart is None and schedule is not None and not given.server.spec.stopped:
        restart = schedule.due
    desired = copy.deepcopy(given.desired)
    mark = _template_annotations(given.current).get(RESTARTED_AT_ANNOTATION)
    _set_mark(desired, mark)
    base = Upkeep(desired, next_restart=next_restart, wake_at=wake_at)
    if restart is not None and given.server.spec.stopped:
        skipped = {"requestedAt": restart.requested_at, "by": restart.by}
        notice = Notice(False, "RestartSkipped", "restart request ignored: the server is stopped")
        return _with(base, last_restart=skipped, notices=(notice,))
    if restart is not None and mark == restart.requested_at:
        # Bumped by an earlier pass whose status write did not happen: only record it.
        return _with(base, **_restarted(restart, given.now))
    disruption = _disruption(given, restart)
    if disruption is None:
        if restart is not None:  # no pod to announce to (starting, failing): restart now
            _set_mark(desired, restart.requested_at)
            return _with(base, disrupting=True, **_restarted(restart, given.now))
        return _with(base, message=schedule.message if schedule else None)
    request, verb = disruption
    view = given.countdown
    if given.running and not (view is not None and view.request == request and view.done):
        # Nothing of the StatefulSet changes meanwhile: whatever differs replaces the pod.
        held = None
        if view is not None and view.request == request:
            message = progress_message(verb, view.remaining, view.players)
            return _with(base, statefulset=held, message=message, disrupting=True)
        seconds = given.server.spec.lifecycle.announce_seconds if given.players > 0 else 0
        announce = Announce(request, verb, seconds, given.players)
        message = f"Saving the world before {verb}"
        return _with(base, statefulset=held, announce=announce, message=message, disrupting=True)
    if restart is not None and request.startswith("restart:"):
        _set_mark(desired, restart.requested_at)
        return _with(base, disrupting=True, **_restarted(restart, given.now))
    return _with(base, disrupting=True)


def _restarted(restart: RestartRequest, now: datetime) -> dict[str, Any]:
    record = {"requestedAt": restart.requested_at, "by": restart.by, "doneAt": rfc3339(now)}
    who = f" (requested by {restart.by})" if restart.by else ""
    return {"last_restart": record, "notices": (Notice(False, "Restarted", f"restarted{who}"),)}


def _with(base: Upkeep, **changes: Any) -> Upkeep:
    return replace(base, **changes)
