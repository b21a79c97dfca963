"""Placement profiles (pure): where a server runs, as its tenant's CraftplanePolicy says.

The gatherer reads the namespace's labels and the CraftplanePolicy they name (see
`policies`); everything here decides, without I/O. A server's pod scheduling is layered, each
layer winning over the one before it on a conflicting nodeSelector key, tolerations
concatenated in order of precedence:

1. ``spec.scheduling``: only where the policy allows rawScheduling (or governs nothing: a
   namespace that is no tenant's is not held to a policy, as admission does not hold it);
2. the placement profile: ``spec.placement``, or the policy's ``defaultPlacement``;
3. the cluster's own placement (``CRAFTPLANE_OPERATOR_PLACEMENT``, `placement.place`): the
   operator's configuration, applied last by the reconciler, so neither a tenant nor a
   policy takes a server out of the cluster's node pool.

When the placement cannot be resolved (the policy or the profile is missing), nothing is
guessed: the server's StatefulSet keeps the scheduling its pods have (none is created
without one) and the server is Degraded with the reason, until an admin fixes the policy.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, Final

from craftplane.contracts.names import TENANT_LABEL
from craftplane.contracts.policy import (
    DEFAULT_POLICY,
    POLICY_LABEL,
    CraftplanePolicySpec,
    PlacementProfile,
)
from craftplane.contracts.scheduling import Affinity, Scheduling
from craftplane.contracts.spec import MinecraftServerSpec
from craftplane.contracts.status import Phase
from craftplane_operator.builders.context import ServerContext
from craftplane_operator.phase import Derived

Obj = dict[str, Any]

PLACEMENT_UNKNOWN: Final = "PlacementUnknown"
POLICY_NOT_FOUND: Final = "PolicyNotFound"
POLICY_INVALID: Final = "PolicyInvalid"
# The pod template fields a placement decides.
POD_SCHEDULING_FIELDS: Final = ("nodeSelector", "tolerations", "affinity")
_HELD: Final = "the server's pod scheduling is left as it was until then"
# Without its policy nothing vouches for the spec: admission checked none of its rules (a
# namespace naming a policy that does not exist matches no parameter), so nothing is built
# or changed until the admin fixes the namespace or the policy.
UNCHECKED: Final = frozenset({POLICY_NOT_FOUND, POLICY_INVALID})
_UNCHECKED_HELD: Final = "nothing of the server is created or changed until then"
MAX_MESSAGE: Final = 500


@dataclass(frozen=True)
class StoredPolicy:
    """A CraftplanePolicy as the API server holds it: its spec, or why there is none."""

    name: str
    spec: CraftplanePolicySpec | None = None  # None: it does not exist, or is unreadable
    invalid: str | None = None  # why the stored object is not a valid policy


@dataclass(frozen=True)
class Binding:
    """The policy governing a server's namespace."""

    policy: StoredPolicy
    # A tenant's namespace (as admission sees it): spec.scheduling only where allowed.
    enforced: bool


@dataclass(frozen=True)
class PlacementProblem:
    reason: str
    message: str


@dataclass(frozen=True)
class Profiled:
    server: ServerContext  # with the scheduling its placement resolves to
    problem: PlacementProblem | None = None  # set: the placement did not resolve


def governing_policy(
    labels: Mapping[str, str] | None, spec: MinecraftServerSpec
) -> tuple[str, bool] | None:
    """(policy name, enforced) for a server in a namespace with ``labels``; None when no
    policy governs it: a namespace that is no tenant's, for a server naming no profile."""
    labels = labels or {}
    tenant = TENANT_LABEL in labels
    if not tenant and spec.placement is None:
        return None
    return labels.get(POLICY_LABEL) or DEFAULT_POLICY, tenant


def merge_scheduling(profile: PlacementProfile, raw: Scheduling) -> Scheduling:
    """``raw`` under ``profile``: the profile's node selector keys and affinity kinds win,
    its tolerations come first (the raw ones not already among them follow)."""
    affinity = profile.affinity
    if affinity is None:
        affinity = raw.affinity
    elif raw.affinity is not None:
        kinds = ("node_affinity", "pod_affinity", "pod_anti_affinity")
        affinity = Affinity.model_construct(
            **{
                kind: getattr(profile.affinity, kind) or getattr(raw.affinity, kind)
                for kind in kinds
            }
        )
    # Not validated again: each side was, and their sum may exceed one side's list bound.
    return raw.model_copy(
        update={
            "node_selector": {**raw.node_selector, **profile.node_selector},
            "tolerations": [
                *profile.tolerations,
                *(t for t in raw.tolerations if t not in profile.tolerations),
            ],
            "affinity": affinity,
        }
    )


def _unresolved(server: ServerContext, reason: str, message: str) -> Profiled:
    return Profiled(server, PlacementProblem(reason, message[:MAX_MESSAGE]))


def profiled(server: ServerContext, binding: Binding | None) -> Profiled:
    """The server with the scheduling its policy gives it, or the problem that stops it."""
    if binding is None:
        return Profiled(server)
    stored, spec = binding.policy, server.spec
    if stored.invalid is not None:
        return _unresolved(
            server,
            POLICY_INVALID,
            f"CraftplanePolicy {stored.name} cannot be read ({stored.invalid}); {_UNCHECKED_HELD}",
        )
    policy = stored.spec
    if policy is None:
        return _unresolved(
            server,
            POLICY_NOT_FOUND,
            f"CraftplanePolicy {stored.name}, the namespace's policy (label {POLICY_LABEL}), "
            f"does not exist; {_UNCHECKED_HELD}",
        )
    wanted = spec.placement if spec.placement is not None else policy.default_placement
    profile = policy.profile(spec.placement)
    if wanted is not None and profile is None:
        names = ", ".join(p.name for p in policy.placements) or "none"
        return _unresolved(
            server,
            PLACEMENT_UNKNOWN,
            f"placement {wanted} is not a profile of CraftplanePolicy {stored.name} "
            f"(profiles: {names}); {_HELD}",
        )
    raw = spec.scheduling if policy.raw_scheduling or not binding.enforced else Scheduling()
    scheduling = raw if profile is None else merge_scheduling(profile, raw)
    if scheduling == spec.scheduling:
        return Profiled(server)
    return Profiled(replace(server, spec=spec.model_copy(update={"scheduling": scheduling})))


def hold_placement(
    desired: list[Obj], live: Obj | None, problem: PlacementProblem | None
) -> list[Obj]:
    """The children to apply: while the placement is unresolved, the StatefulSet keeps the
    scheduling its pod template has, and none is created (it would run anywhere); while the
    policy itself is missing or unreadable, none at all."""
    if problem is None:
        return desired
    if problem.reason in UNCHECKED:
        return []
    held = []
    for child in desired:
        if child["kind"] == "StatefulSet":
            if live is None:
                continue
            child = with_scheduling_of(child, live)
        held.append(child)
    return held


def with_scheduling_of(desired: Obj, live: Obj) -> Obj:
    """``desired`` with the pod scheduling fields exactly as ``live`` has them (absent ones
    absent: applying them would give up the field, and the API server would drop it)."""
    result = copy.deepcopy(desired)
    pod = result["spec"]["template"]["spec"]
    kept = ((live.get("spec") or {}).get("template") or {}).get("spec") or {}
    for key in POD_SCHEDULING_FIELDS:
        pod.pop(key, None)
        if kept.get(key) is not None:
            pod[key] = copy.deepcopy(kept[key])
    return result


def judge_placement(
    derived: Derived, problem: PlacementProblem | None, statefulset: Obj | None
) -> Derived:
    """`derived` Degraded for the problem (over a problem of the phase's own: it is what an
    admin must fix); Error while nothing runs because of it."""
    if problem is None:
        return derived
    judged = replace(
        derived, degraded=True, degraded_reason=problem.reason, degraded_message=problem.message
    )
    if statefulset is None and derived.phase is Phase.STARTING:
        return replace(judged, phase=Phase.ERROR, reason=problem.reason, message=problem.message)
    return judged
