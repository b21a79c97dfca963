"""Reading what the cluster says about backups (pure): Jobs and their pods, restic's JSON
lines, the repository Secret, the server's pod."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from craftplane.contracts import times
from craftplane.contracts.backup import REPOSITORY_KEYS, REPOSITORY_SECRET
from craftplane_operator.backups.names import COPY_CONTAINER
from craftplane_operator.builders.naming import CONTAINER_NAME

Obj = Mapping[str, Any]

SIGNAL_EXIT_BASE: Final = 128
# A Job pod that cannot even start (no image, no Secret, no node) fails the Job this soon,
# not at its deadline hours later: a running server's saves are off meanwhile.
UNSCHEDULABLE_GRACE: Final = timedelta(minutes=5)
_NOT_STARTING: Final = frozenset(
    {
        "ErrImagePull",
        "ImagePullBackOff",
        "InvalidImageName",
        "CreateContainerConfigError",
        "CreateContainerError",
    }
)
MAX_MESSAGE: Final = 1500


def meta(obj: Obj | None) -> Mapping[str, Any]:
    return (obj or {}).get("metadata") or {}


def status(obj: Obj | None) -> Mapping[str, Any]:
    return (obj or {}).get("status") or {}


def annotations_of(obj: Obj | None) -> Mapping[str, str]:
    return meta(obj).get("annotations") or {}


# One reading and writing of API timestamps (the planners call them `o.`).
parse_time = times.parse_time
rfc3339 = times.rfc3339


def deleting(obj: Obj | None) -> bool:
    return bool(meta(obj).get("deletionTimestamp"))


def shorten(text: str, limit: int = MAX_MESSAGE) -> str:
    text = text.strip()
    return text if len(text) <= limit else "…" + text[-(limit - 1) :]


# -- the server's pod ---------------------------------------------------------------------------


def pod_alive(pod: Obj | None) -> bool:
    return pod is not None and not deleting(pod)


def pod_ready(pod: Obj | None) -> bool:
    if not pod_alive(pod):
        return False
    conditions = status(pod).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def _container_status(pod: Obj | None, name: str) -> Mapping[str, Any]:
    statuses = status(pod).get("containerStatuses") or []
    return next((s for s in statuses if s.get("name") == name), {})


def restarted_since(pod: Obj | None, since: datetime | None) -> bool:
    """Whether the server process in `pod` is not the one running at `since` (a new pod, or
    its container restarted, or it does not run at all): such a process saves as usual."""
    if not pod_alive(pod) or since is None:
        return True
    running = (_container_status(pod, CONTAINER_NAME).get("state") or {}).get("running")
    if not running:
        return True
    started = parse_time(running.get("startedAt"))
    return started is not None and started > since


# -- Jobs -----------------------------------------------------------------------------------------


def _condition(job: Obj, kind: str) -> Mapping[str, Any] | None:
    for condition in status(job).get("conditions") or []:
        if condition.get("type") == kind and condition.get("status") == "True":
            return condition  # type: ignore[no-any-return]
    return None


def job_active(job: Obj | None) -> bool:
    """A Job that has not finished (nor is being deleted)."""
    if job is None or deleting(job):
        return False
    return _condition(job, "Complete") is None and _condition(job, "Failed") is None


@dataclass(frozen=True)
class Outcome:
    """How a finished Job ended."""

    succeeded: bool
    reason: str = ""  # e.g. CopyFailed, CopyKilled, DeadlineExceeded
    message: str = ""
    termination: str = ""  # the container's termination message


def terminated(pod: Obj | None) -> Mapping[str, Any]:
    """The Job container's terminated state ({} while it runs or without a pod)."""
    state = _container_status(pod, COPY_CONTAINER)
    return (state.get("state") or {}).get("terminated") or {}


def job_outcome(job: Obj, pod: Obj | None, what: str) -> Outcome | None:
    """None while the Job runs; `what` names the work in reasons ("Copy" -> CopyFailed)."""
    ended = terminated(pod)
    termination = str(ended.get("message") or "")
    if _condition(job, "Complete") is not None:
        return Outcome(True, termination=termination)
    failed = _condition(job, "Failed")
    if failed is None:
        return None
    if failed.get("reason") == "DeadlineExceeded":
        limit = (job.get("spec") or {}).get("activeDeadlineSeconds")
        return Outcome(False, "DeadlineExceeded", f"the Job ran longer than {limit} s", termination)
    code, signal = ended.get("exitCode"), ended.get("signal")
    if ended.get("reason") == "OOMKilled":
        message = (
            "killed for using more memory than its limit (CRAFTPLANE_OPERATOR_BACKUP_MEMORY_LIMIT)"
        )
        return Outcome(False, f"{what}Killed", message, termination)
    if isinstance(code, int) and (signal or code > SIGNAL_EXIT_BASE):
        number = signal or code - SIGNAL_EXIT_BASE
        return Outcome(
            False, f"{what}Killed", f"killed by signal {number} (exit code {code})", termination
        )
    if isinstance(code, int):
        return Outcome(False, f"{what}Failed", f"restic failed (exit code {code})", termination)
    detail = status(pod).get("message") or status(pod).get("reason") or failed.get("message")
    message = "its pod was deleted or evicted before it finished"
    return Outcome(
        False, f"{what}Killed", f"{message}: {detail}" if detail else message, termination
    )


def job_stuck(pod: Obj | None, now: datetime) -> str | None:
    """Why the Job's pod cannot start, once that is certain."""
    if pod is None:
        return None
    for container in status(pod).get("containerStatuses") or []:
        waiting = (container.get("state") or {}).get("waiting") or {}
        if waiting.get("reason") in _NOT_STARTING:
            return f"{waiting['reason']}: {waiting.get('message') or container.get('image')}"
    for condition in status(pod).get("conditions") or []:
        if condition.get("type") == "PodScheduled" and condition.get("reason") == "Unschedulable":
            since = parse_time(condition.get("lastTransitionTime"))
            if since is not None and now - since > UNSCHEDULABLE_GRACE:
                return f"no node can run it: {condition.get('message') or 'unschedulable'}"
    return None


def pods_of_job(pods: Iterable[Obj], job: str) -> Obj | None:
    """The newest pod of Job `job` (there is one: backoffLimit 0)."""
    mine = [p for p in pods if (meta(p).get("labels") or {}).get("job-name") == job]
    return max(mine, key=lambda p: str(meta(p).get("creationTimestamp") or ""), default=None)


# -- restic's JSON lines --------------------------------------------------------------------------


def last_message(lines: Sequence[str] | str | None, message_type: str) -> dict[str, Any] | None:
    """The last JSON line of `message_type` among `lines`."""
    if lines is None:
        return None
    if isinstance(lines, str):
        lines = lines.splitlines()
    for line in reversed(lines):
        line = line.strip()
        if not line.startswith("{") or f'"{message_type}"' not in line:
            continue
        try:
            parsed = json.loads(line)
        except ValueError:
            continue
        if isinstance(parsed, dict) and parsed.get("message_type") == message_type:
            return parsed
    return None


def _count(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        return None
    return int(value)


def progress_of(lines: Sequence[str] | None) -> dict[str, int] | None:
    """status.progress from the last status line: bytes and files done and in all."""
    line = last_message(lines, "status")
    if line is None:
        return None
    fields = {
        "bytesDone": line.get("bytes_done"),
        "bytesTotal": line.get("total_bytes"),
        "filesDone": line.get("files_done"),
        "filesTotal": line.get("total_files"),
    }
    counted = {key: _count(value) for key, value in fields.items()}
    return {key: value for key, value in counted.items() if value is not None}


@dataclass(frozen=True)
class Summary:
    snapshot_id: str
    size_bytes: int
    added_bytes: int
    files: int
    duration_seconds: float


def summary_of(termination: str) -> Summary | None:
    line = last_message(termination, "summary")
    if line is None or not isinstance(line.get("snapshot_id"), str):
        return None
    duration = line.get("total_duration")
    return Summary(
        snapshot_id=line["snapshot_id"],
        size_bytes=_count(line.get("total_bytes_processed")) or 0,
        added_bytes=_count(line.get("data_added")) or 0,
        files=_count(line.get("total_files_processed")) or 0,
        duration_seconds=round(float(duration), 3) if isinstance(duration, int | float) else 0.0,
    )


def kept_ids(termination: str) -> tuple[str, ...] | None:
    """The short ids a retention Job kept; None when its message is missing or cut short."""
    line = last_message(termination, "kept")
    ids = (line or {}).get("short_ids")
    if not isinstance(ids, list) or not all(isinstance(i, str) and i for i in ids):
        return None
    return tuple(ids)


def same_snapshot(a: str, b: str) -> bool:
    """Short and full ids of one snapshot: one is a prefix of the other."""
    return bool(a and b) and (a.startswith(b) or b.startswith(a))


# -- the repository -------------------------------------------------------------------------------


def repository_problem(secret: Obj | None, namespace: str) -> str | None:
    """Why the tenant's repository cannot be used, naming the Secret and its keys."""
    wanted = ", ".join(REPOSITORY_KEYS)
    if secret is None:
        return (
            f"no backup repository: the Secret {REPOSITORY_SECRET} is missing in namespace "
            f"{namespace} (it needs the keys {wanted}); the cluster admin creates it"
        )
    data = {**(secret.get("data") or {}), **(secret.get("stringData") or {})}
    missing = [key for key in REPOSITORY_KEYS if not data.get(key)]
    if missing:
        return (
            f"the Secret {REPOSITORY_SECRET} in namespace {namespace} lacks "
            f"{', '.join(missing)} (it needs {wanted})"
        )
    return None
