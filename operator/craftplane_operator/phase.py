"""Phase derivation: a pure function from what was observed to what to report.

Gathering (reading the CR, StatefulSet, pod, PVC and Service) happens in the
reconciler; this module only decides, so every case is a table-driven test.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, Final

from craftplane.contracts.status import Address, Phase
from craftplane_operator.addresses import service_address
from craftplane_operator.memory_advice import oom_advice

# A pod may be unschedulable for a moment while the cluster autoscaler adds a
# node or a volume is provisioned; only past this is it reported as an error.
UNSCHEDULABLE_GRACE: Final = timedelta(seconds=120)
# Messages end up in status and in events; a whole log tail does not belong there.
MAX_DETAIL_LENGTH: Final = 300
# Exit codes above 128 mean "killed by signal" (liveness probe, OOM killer),
# not a server refusing its settings.
_SIGNAL_EXIT_BASE: Final = 128

_IMAGE_PULL_REASONS: Final = frozenset({"ImagePullBackOff", "ErrImagePull", "InvalidImageName"})
_REVISION_LABEL: Final = "controller-revision-hash"

Object = Mapping[str, Any]


class Reason(StrEnum):
    """Why a server is in its phase; the reason of its conditions."""

    DELETING = "Deleting"
    INVALID_SPEC = "InvalidSpec"
    STOPPED = "Stopped"
    STOPPING = "Stopping"
    RUNNING = "Running"
    CRASH_LOOP = "CrashLoop"
    OOM_KILLED = "OOMKilled"
    IMAGE_PULL_FAILED = "ImagePullFailed"
    CONFIG_ERROR = "ConfigError"
    SETTINGS_REJECTED = "SettingsRejected"
    UNSCHEDULABLE = "Unschedulable"
    SCHEDULING = "Scheduling"
    WAITING_FOR_VOLUME = "WaitingForVolume"
    CREATING = "Creating"
    POD_STARTING = "PodStarting"
    NOT_READY = "NotReady"
    ROLLING_UPDATE = "RollingUpdate"
    RESTARTING = "Restarting"


@dataclass(frozen=True)
class Observed:
    """Everything the phase depends on, as read from the API server (None: absent)."""

    body: Object
    statefulset: Object | None = None
    pod: Object | None = None
    pvc: Object | None = None
    service: Object | None = None


@dataclass(frozen=True)
class Derived:
    """The phase of a server and what the conditions and status say about it."""

    phase: Phase
    reason: str
    message: str
    ready: bool = False
    progressing: bool = False
    degraded: bool = False
    address: Address | None = None
    # A problem that does not change the phase (the server runs on) but leaves it Degraded,
    # with a reason and message of its own on that condition.
    degraded_reason: str | None = None
    degraded_message: str | None = None


def with_problem(derived: Derived, reason: str, message: str) -> Derived:
    """The same phase, Degraded for `reason`; a server already failing keeps its own reason."""
    if derived.degraded:
        return derived
    return replace(derived, degraded=True, degraded_reason=reason, degraded_message=message)


def derive(observed: Observed, now: datetime) -> Derived:
    """The phase of the server, from the highest-priority rule that applies."""
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    metadata: Object = observed.body.get("metadata") or {}
    spec: Object = observed.body.get("spec") or {}
    if metadata.get("deletionTimestamp"):
        derived = Derived(
            Phase.TERMINATING, Reason.DELETING, "The server is being deleted.", progressing=True
        )
    elif spec.get("stopped"):
        derived = _stopped(observed)
    else:
        derived = _active(observed, now)
    return replace(derived, address=derive_address(observed))


def _starting(reason: Reason, message: str) -> Derived:
    return Derived(Phase.STARTING, reason, message, progressing=True)


def _error(reason: Reason, message: str) -> Derived:
    return Derived(Phase.ERROR, reason, message, degraded=True)


def _stopped(observed: Observed) -> Derived:
    sts = observed.statefulset
    replicas = _get(sts, "spec", "replicas", default=1) if sts is not None else 0
    if replicas == 0 and observed.pod is None:
        return Derived(Phase.STOPPED, Reason.STOPPED, "The server is stopped; its world is kept.")
    # Already Stopped, not Starting: the user asked for it and it is
    # happening; Progressing says it is not finished yet.
    return Derived(
        Phase.STOPPED,
        Reason.STOPPING,
        "The server is saving its world and shutting down.",
        progressing=True,
    )


def _active(observed: Observed, now: datetime) -> Derived:
    sts, pod, pvc = observed.statefulset, observed.pod, observed.pvc
    if pod is not None and not _terminating(pod):
        # A pod of an old revision is about to be replaced: its errors (e.g.
        # the bad image just fixed in the spec) no longer describe the server.
        if _is_stale(pod, sts):
            return _starting(
                Reason.ROLLING_UPDATE, "The server pod is being replaced with the new settings."
            )
        failure = _container_failure(pod)
        if failure is not None:
            return failure
    unschedulable = _unschedulable(pod) if pod is not None else None
    if unschedulable is not None:
        since, detail = unschedulable
        if now - (since or now) > UNSCHEDULABLE_GRACE:
            return _error(Reason.UNSCHEDULABLE, f"No node can run the server: {detail}")
    # Before "Scheduling": an unbound claim is the usual reason the scheduler
    # waits, and the more precise one to report.
    if pvc is not None and _get(pvc, "status", "phase") == "Pending":
        return _starting(
            Reason.WAITING_FOR_VOLUME, "Waiting for the world volume to be provisioned."
        )
    if unschedulable is not None:
        return _starting(
            Reason.SCHEDULING, f"Waiting for a node to run the server: {unschedulable[1]}"
        )
    if sts is None:
        return _starting(Reason.CREATING, "Creating the server's StatefulSet.")
    if pod is None:
        return _starting(Reason.CREATING, "Waiting for the server pod to be created.")
    return _pod_progress(pod, sts)


def _pod_progress(pod: Object, sts: Object) -> Derived:
    if _terminating(pod):
        return _starting(Reason.RESTARTING, "The previous server pod is shutting down.")
    if _get(pod, "status", "phase") in ("Failed", "Succeeded"):
        detail = _get(pod, "status", "message") or _get(pod, "status", "reason") or "it exited"
        return _starting(
            Reason.RESTARTING, f"The server pod is being replaced: {_shorten(str(detail))}"
        )
    if _condition_true(pod, "Ready"):
        if _statefulset_updated(sts):
            return Derived(
                Phase.RUNNING,
                Reason.RUNNING,
                "The server is running and accepting players.",
                ready=True,
            )
        return _starting(Reason.ROLLING_UPDATE, "The server is being updated to the new settings.")
    if not _get(pod, "spec", "nodeName"):
        return _starting(Reason.SCHEDULING, "Waiting for a node to run the server.")
    exited = [_get(s, "state", "terminated") for s in _container_statuses(pod)]
    codes = [t.get("exitCode") for t in exited if t]
    if codes:
        return _starting(
            Reason.RESTARTING, f"The server exited (exit code {codes[0]}) and is restarting."
        )
    if any(status.get("started") for status in _container_statuses(pod)):
        return _starting(Reason.NOT_READY, "The server is not answering its health check.")
    return _starting(
        Reason.POD_STARTING,
        "The server is starting; generating a new world can take a few minutes.",
    )


def _container_failure(pod: Object) -> Derived | None:
    """An Error phase read from the containers' states, by rule priority."""
    statuses = list(_container_statuses(pod))
    for status in statuses:
        if _out_of_memory(status):
            return _error(Reason.OOM_KILLED, _oom_message(pod, status))
    for status in statuses:
        waiting = _get(status, "state", "waiting") or {}
        if waiting.get("reason") == "CrashLoopBackOff":
            # A crash loop is also how a server rejecting its settings looks
            # (it exits at every start); the log tail tells which it is.
            last = _get(status, "lastState", "terminated") or {}
            return _rejection(last) or _error(Reason.CRASH_LOOP, _crash_message(last))
    for status in statuses:
        waiting = _get(status, "state", "waiting") or {}
        if waiting.get("reason") in _IMAGE_PULL_REASONS:
            image = status.get("image") or "the server image"
            detail = waiting.get("message") or waiting["reason"]
            return _error(Reason.IMAGE_PULL_FAILED, f"Cannot pull {image}: {_shorten(str(detail))}")
    for status in statuses:
        waiting = _get(status, "state", "waiting") or {}
        if waiting.get("reason") == "CreateContainerConfigError":
            detail = waiting.get("message") or waiting["reason"]
            return _error(
                Reason.CONFIG_ERROR,
                f"The server container cannot be configured: {_shorten(str(detail))}",
            )
    for status in statuses:
        rejected = _rejection(_get(status, "state", "terminated") or {})
        if rejected is not None:
            return rejected
    return None


def _rejection(terminated: Object) -> Derived | None:
    """SettingsRejected when a container exited on its own with an error and a message."""
    code = terminated.get("exitCode")
    message = str(terminated.get("message") or "").strip()
    if not isinstance(code, int) or code == 0 or code > _SIGNAL_EXIT_BASE or not message:
        return None
    if terminated.get("reason") == "OOMKilled":
        return None
    return _error(
        Reason.SETTINGS_REJECTED,
        f"The server refused to start (exit code {code}): {_headline(message)}",
    )


def _out_of_memory(status: Object) -> bool:
    """Killed by the kernel for its memory limit, now or in the run before this not-yet-ready
    one: a server that dies of memory at every start must not flap back to Starting."""
    state: Object = status.get("state") or {}
    if _get(state, "terminated", "reason") == "OOMKilled":
        return True
    last_oom = _get(status, "lastState", "terminated", "reason") == "OOMKilled"
    return last_oom and not status.get("ready")


def _oom_message(pod: Object, status: Object) -> str:
    containers = _get(pod, "spec", "containers") or []
    mine: Object = next((c for c in containers if c.get("name") == status.get("name")), {})
    limit = _get(mine, "resources", "limits", "memory")
    return oom_advice(str(limit) if limit else None)


def _crash_message(last: Object) -> str:
    if last.get("reason") == "OOMKilled":
        return "The server keeps running out of memory (OOMKilled); raise spec.resources.memory."
    code = last.get("exitCode")
    suffix = f" (last exit code {code})" if code is not None else ""
    return f"The server keeps crashing{suffix}; see the pod logs."


def _headline(log_tail: str) -> str:
    """The line of a log tail most likely to explain a failure: the last that
    mentions an error, else the last one."""
    lines = [line.strip() for line in log_tail.splitlines() if line.strip()]
    errors = [line for line in lines if "error" in line.lower()]
    return _shorten((errors or lines)[-1])


def _shorten(text: str) -> str:
    text = " ".join(text.split())
    if len(text) <= MAX_DETAIL_LENGTH:
        return text
    return text[: MAX_DETAIL_LENGTH - 1] + "…"


def _unschedulable(pod: Object) -> tuple[datetime | None, str] | None:
    """(since when, scheduler message) when the scheduler found no node."""
    for condition in _get(pod, "status", "conditions") or []:
        if (
            condition.get("type") == "PodScheduled"
            and condition.get("status") == "False"
            and condition.get("reason") == "Unschedulable"
        ):
            detail = _shorten(str(condition.get("message") or "no node fits the pod"))
            return _parse_time(condition.get("lastTransitionTime")), detail
    return None


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _is_stale(pod: Object, sts: Object | None) -> bool:
    """Whether the pod belongs to an older revision than the StatefulSet's update revision."""
    if sts is None:
        return False
    labels = _get(pod, "metadata", "labels") or {}
    revision = labels.get(_REVISION_LABEL)
    update = _get(sts, "status", "updateRevision")
    return bool(revision and update and revision != update)


def _statefulset_updated(sts: Object) -> bool:
    """The StatefulSet controller has seen the latest spec and rolled it out."""
    generation = _get(sts, "metadata", "generation") or 0
    if (_get(sts, "status", "observedGeneration") or 0) < generation:
        return False
    update = _get(sts, "status", "updateRevision")
    if update and update == _get(sts, "status", "currentRevision"):
        return True
    replicas = _get(sts, "spec", "replicas", default=1)
    return bool(_get(sts, "status", "updatedReplicas") == replicas)


def _terminating(pod: Object) -> bool:
    return bool(_get(pod, "metadata", "deletionTimestamp"))


def _condition_true(obj: Object, condition_type: str) -> bool:
    return any(
        c.get("type") == condition_type and c.get("status") == "True"
        for c in _get(obj, "status", "conditions") or []
    )


def _container_statuses(pod: Object) -> Iterator[Object]:
    status: Object = pod.get("status") or {}
    yield from status.get("initContainerStatuses") or []
    yield from status.get("containerStatuses") or []


def _get(obj: Object | None, *path: str, default: Any = None) -> Any:
    """obj[path...] or default, for objects whose fields may all be absent."""
    current: Any = obj
    for key in path:
        if not isinstance(current, Mapping) or key not in current:
            return default
        current = current[key]
    return default if current is None else current


def derive_address(observed: Observed) -> Address | None:
    """Where the Service lets players in, from the Service as it is (not as the spec wants
    it); whether they join through the router instead is `routing`'s to say."""
    return service_address(observed.service, observed.pod)
