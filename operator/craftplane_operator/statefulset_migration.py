"""Replacing a StatefulSet whose immutable serviceName no longer matches the builders.

A StatefulSet's serviceName cannot change in place (the API server refuses the apply with
422). Servers created before the headless `<name>-pods` Service existed are governed by the
game Service `<name>`; they move over by an orphaning delete (the pod and the world's PVC
keep running, merely losing their owner reference) and a fresh StatefulSet, created by the
next reconcile once the old one is gone, which adopts the pod by its labels and rolls it.

Level-based: the plan looks only at the live StatefulSet. Mismatched and alive: delete it,
orphaning. Being deleted: leave it alone (an apply would land on an object on its way out);
its DELETED watch event triggers the reconcile that creates the new one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from craftplane import logs
from craftplane.kube import KubeClient, KubeError, path_for
from craftplane_operator.builders.naming import headless_service_name
from craftplane_operator.recorder import EventRecorder
from craftplane_operator.store import ObjectStore

log = logs.get_logger(__name__)

REPLACED_REASON: Final = "StatefulSetReplaced"


@dataclass(frozen=True)
class OrphanReplace:
    """Delete StatefulSet `name` (only the one with `uid`), orphaning its pod and PVC."""

    name: str
    uid: str
    old_service: str
    new_service: str

    @property
    def message(self) -> str:
        return (
            f"replacing StatefulSet {self.name}: its serviceName {self.old_service} cannot "
            f"change in place to {self.new_service}; the pod and the world volume keep "
            "running and the new StatefulSet adopts and rolls them"
        )


def _terminating(current: Mapping[str, Any]) -> bool:
    return bool((current.get("metadata") or {}).get("deletionTimestamp"))


def replacement(server_name: str, current: Mapping[str, Any] | None) -> OrphanReplace | None:
    """The replacement the live StatefulSet needs, if any (pure)."""
    if current is None or _terminating(current):
        return None
    have = (current.get("spec") or {}).get("serviceName")
    want = headless_service_name(server_name)
    if have == want:
        return None
    meta = current.get("metadata") or {}
    return OrphanReplace(str(meta.get("name")), str(meta.get("uid", "")), str(have), want)


def fit_immutable(
    server_name: str, desired: dict[str, Any], current: Mapping[str, Any] | None
) -> bool:
    """Make `desired` applicable over `current`; False: it must not be applied now (the live
    one is being replaced or deleted)."""
    if current is None:
        return True
    if _terminating(current) or replacement(server_name, current) is not None:
        return False
    # volumeClaimTemplates are immutable: keep what the StatefulSet was created with (a new
    # size reaches the PVC itself, see volume.py).
    desired["spec"]["volumeClaimTemplates"] = (current.get("spec") or {}).get(
        "volumeClaimTemplates", []
    )
    return True


async def replace_statefulset(
    kube: KubeClient,
    recorder: EventRecorder,
    store: ObjectStore,
    body: Mapping[str, Any],
    step: OrphanReplace,
) -> dict[str, Any] | None:
    """Perform `step`: the StatefulSet as the delete left it (terminating), or None if gone."""
    meta = body["metadata"]
    namespace, server = meta["namespace"], meta["name"]
    options = {
        "apiVersion": "v1",
        "kind": "DeleteOptions",
        "propagationPolicy": "Orphan",
        # Only the StatefulSet the plan saw: never one created since by someone else.
        "preconditions": {"uid": step.uid},
    }
    try:
        answer = await kube.request(
            "DELETE", path_for("StatefulSet", namespace, step.name), body=options
        )
    except KubeError as exc:
        if exc.not_found or exc.conflict:
            return None  # already gone, or already replaced: the next reconcile sees which
        raise
    log.info(step.message, extra={"server": f"{namespace}/{server}", "child": "StatefulSet"})
    await recorder.record(body, warning=False, reason=REPLACED_REASON, message=step.message)
    if answer.get("kind") != "StatefulSet":
        return None  # a Status: deleted at once
    # Remembered terminating, so a reconcile before its watch event neither deletes it again
    # nor applies over it.
    store.put(answer)
    return answer
