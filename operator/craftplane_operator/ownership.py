"""Which children a server may touch, and what to report when it may not (pure: no I/O).

A child is found by name (`<name>`, `<name>-pods`, `<name>-config`, `<name>-rcon`), so an
object of that name may exist that this server never made: someone's Secret, another tool's
Service. Server-side apply with force would take its fields over and add our owner reference,
and the garbage collector would then delete it with the server. So an object is ours only
when it carries a controller reference to this server's uid; anything else under a child's
name is left untouched and reported as a `NameConflict`.

The API server may also refuse an apply (a NodePort another Service holds, a field its schema
does not know): the refusal is reported as `NodePortTaken` or `ApplyFailed` with the API
server's own message, instead of failing the reconcile before any status is written.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any, Final

from craftplane.contracts.status import Phase
from craftplane_operator.builders.naming import PODS_SERVICE_SLOT, slot_kind
from craftplane_operator.phase import Derived

Obj = dict[str, Any]

NAME_CONFLICT: Final = "NameConflict"
APPLY_FAILED: Final = "ApplyFailed"
NODE_PORT_TAKEN: Final = "NodePortTaken"

# The children the operator applies (the Pod and the world's PVC are the StatefulSet's).
APPLIED_SLOTS: Final = ("Secret", "ConfigMap", "Service", PODS_SERVICE_SLOT, "StatefulSet")
# What the server's pod mounts: a StatefulSet started without its own Secret and ConfigMap
# would run with someone else's password and settings.
STATEFULSET_NEEDS: Final = frozenset({"Secret", "ConfigMap"})
# Owned by the StatefulSet: when that is someone else's, so are they.
STATEFULSET_OWNS: Final = ("Pod", "PersistentVolumeClaim")
MAX_MESSAGE: Final = 500


def controlled_by(obj: Mapping[str, Any] | None, uid: str) -> bool:
    """Whether `obj` names the server `uid` as its controller."""
    if obj is None or not uid:
        return False
    refs = (obj.get("metadata") or {}).get("ownerReferences") or []
    return any(
        isinstance(ref, Mapping) and ref.get("controller") is True and ref.get("uid") == uid
        for ref in refs
    )


@dataclass(frozen=True)
class Conflict:
    slot: str
    kind: str
    name: str


@dataclass(frozen=True)
class ApplyRefusal:
    """The API server's answer to applying one child: a 4xx other than 429."""

    slot: str
    kind: str
    name: str
    status: int
    message: str

    @property
    def reason(self) -> str:
        taken = "port is already allocated" in self.message.lower()
        return NODE_PORT_TAKEN if self.kind == "Service" and taken else APPLY_FAILED


def is_refusal(status: int) -> bool:
    """A 4xx says the request itself is wrong, so retrying it soon will not help; 429 (and
    5xx, or no answer) are the API server's momentary trouble, retried as failures."""
    return 400 <= status < 500 and status != 429


@dataclass(frozen=True)
class Guard:
    """The children as this server may use them, and the problem to report, if any."""

    live: Mapping[str, Obj | None]  # foreign objects (and what their StatefulSet owns) as None
    skip: frozenset[str]  # slots not to apply
    conflicts: tuple[Conflict, ...] = ()
    refusals: tuple[ApplyRefusal, ...] = ()

    def problem(self) -> tuple[str, str] | None:
        """(reason, message) naming every object in the way, conflicts first."""
        if self.conflicts:
            named = ", ".join(f"{c.kind} {c.name}" for c in self.conflicts)
            verb = "exists" if len(self.conflicts) == 1 else "exist"
            return NAME_CONFLICT, (
                f"{named} already {verb} and {'is' if verb == 'exists' else 'are'} not "
                "controlled by this MinecraftServer; left untouched (remove or rename it)"
            )
        if self.refusals:
            first = self.refusals[0]
            text = "; ".join(f"{r.kind} {r.name}: {r.message}" for r in self.refusals)
            return first.reason, f"the API server refused {text}"[:MAX_MESSAGE]
        return None

    def judge(self, derived: Derived) -> Derived:
        """`derived` with the problem on its Degraded condition, overriding any other (it is
        why nothing else can be fixed); Error when the server cannot start because of it."""
        problem = self.problem()
        if problem is None:
            return derived
        reason, message = problem
        judged = replace(derived, degraded=True, degraded_reason=reason, degraded_message=message)
        held = "StatefulSet" in self.skip or any(r.slot == "StatefulSet" for r in self.refusals)
        if held and derived.phase is Phase.STARTING and self.live.get("StatefulSet") is None:
            # Nothing will run until the object in the way is gone.
            return replace(judged, phase=Phase.ERROR, reason=reason, message=message)
        return judged


def guard(
    uid: str, children: Mapping[str, Obj | None], refusals: Iterable[ApplyRefusal] = ()
) -> Guard:
    live = dict(children)
    conflicts = []
    for slot in APPLIED_SLOTS:
        found = live.get(slot)
        if found is not None and not controlled_by(found, uid):
            meta = found.get("metadata") or {}
            conflicts.append(Conflict(slot, slot_kind(slot), str(meta.get("name", ""))))
            live[slot] = None
    skip = {c.slot for c in conflicts}
    if "StatefulSet" in skip:
        for owned in STATEFULSET_OWNS:
            live[owned] = None
    if skip & STATEFULSET_NEEDS:
        skip.add("StatefulSet")
    return Guard(live, frozenset(skip), tuple(conflicts), tuple(refusals))
