"""What a backup plan asks the controller to do, in order, and the status diff helper.

A plan is one step of a transition: its actions run in order, and the first that fails stops
the rest (the next plan, made from what the cluster then says, decides again). A plan with no
actions is settled; `requeue_after` says when to look again without an event.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

Obj = dict[str, Any]


@dataclass(frozen=True)
class PatchStatus:
    kind: str
    namespace: str
    name: str
    patch: Obj  # merge patch of .status


@dataclass(frozen=True)
class PatchObject:
    kind: str
    namespace: str
    name: str
    patch: Obj  # merge patch of the object (metadata: annotations, finalizers)


@dataclass(frozen=True)
class Create:
    body: Obj
    # Names the creation in the refusals the controller remembers (quota, admission), which
    # the next plan reads back; an object that already exists counts as created.
    tag: str = ""
    # Where a refusal is reported as a Warning Event (once per message), when the plan does
    # not report it itself.
    about: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class Delete:
    kind: str
    namespace: str
    name: str


@dataclass(frozen=True)
class Rcon:
    """Commands to the server's console, in order; a failure is remembered under `tag`."""

    namespace: str
    server: str
    commands: tuple[str, ...]
    tag: str


@dataclass(frozen=True)
class Record:
    """A Kubernetes Event on `body` (the backup, the restore or the server)."""

    body: Mapping[str, Any]
    warning: bool
    reason: str
    message: str


Action = PatchStatus | PatchObject | Create | Delete | Rcon | Record


@dataclass(frozen=True)
class Step:
    actions: tuple[Action, ...] = ()
    requeue_after: float | None = None

    @property
    def settled(self) -> bool:
        return not self.actions


def wait(seconds: float, *actions: Action) -> Step:
    return Step(tuple(actions), requeue_after=seconds)


def changed(current: Mapping[str, Any], desired: Mapping[str, Any]) -> Obj | None:
    """The merge patch turning `current` into `desired` for the keys `desired` names (None
    values remove), or None when it already says so: status is written only when it changes."""
    patch = {key: value for key, value in desired.items() if current.get(key) != value}
    return patch or None


def status_step(body: Mapping[str, Any], desired: Mapping[str, Any], *then: Action) -> Step:
    """Write `desired` into the status of `body` if it differs, then `then`."""
    meta = body["metadata"]
    patch = changed(body.get("status") or {}, desired)
    actions: tuple[Action, ...] = ()
    if patch is not None:
        actions = (PatchStatus(body["kind"], meta["namespace"], meta["name"], patch),)
    return Step(actions + then)


def record_both(
    body: Mapping[str, Any],
    server: Mapping[str, Any] | None,
    warning: bool,
    reason: str,
    message: str,
) -> tuple[Record, ...]:
    """The same Event on the backup or restore and on its server (its timeline)."""
    own = Record(body, warning, reason, message)
    if server is None:
        return (own,)
    return own, Record(
        server, warning, reason, f"{body['kind']} {body['metadata']['name']}: {message}"
    )


def finalizers_patch(body: Mapping[str, Any], finalizers: list[str]) -> PatchObject:
    """Set the finalizers, only on the version of `body` read (a conflict re-reads)."""
    meta = body["metadata"]
    patch = {"metadata": {"finalizers": finalizers, "resourceVersion": meta["resourceVersion"]}}
    return PatchObject(body["kind"], meta["namespace"], meta["name"], patch)
