"""The planner with placement profiles: the profile reaches the StatefulSet, and while it
cannot be resolved the StatefulSet keeps its scheduling and the server says why (no cluster)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from craftplane.contracts.cr_events import phase_event
from craftplane.contracts.events import state_key
from craftplane.contracts.policy import CraftplanePolicySpec
from craftplane.contracts.status import Phase
from craftplane_operator.builders import ServerContext
from craftplane_operator.planning import Gathered, Plan, merge_patch, plan
from craftplane_operator.profiles import Binding, StoredPolicy, profiled
from tests.unit.operator.test_planning import KEY, NOW, PASSWORD, body, write

pytestmark = pytest.mark.unit

GAME_TOLERATION = {"key": "pool", "operator": "Equal", "value": "game", "effect": "NoSchedule"}
GAME = {"name": "game", "nodeSelector": {"pool": "game"}, "tolerations": [GAME_TOLERATION]}
FAST = {"name": "fast", "nodeSelector": {"pool": "fast"}}


def stored(*profiles: dict[str, Any], **spec: Any) -> StoredPolicy:
    return StoredPolicy(
        "gold", CraftplanePolicySpec.model_validate({"placements": list(profiles), **spec})
    )


@dataclass
class World:
    """One server as the reconciler would find it, pass after pass."""

    cr: dict[str, Any]
    policy: StoredPolicy
    children: dict[str, Any] = field(default_factory=dict)
    published: str | None = None

    def gather(self) -> Gathered:
        server = ServerContext.from_body(self.cr)
        outcome = profiled(server, Binding(self.policy, enforced=True))
        return Gathered(
            key=KEY,
            body=self.cr,
            now=NOW,
            tenant="acme",
            spec=outcome.server,
            children=dict(self.children),
            new_password=PASSWORD,
            published=self.published,
            placement_problem=outcome.problem,
        )

    def reconcile(self) -> Plan:
        """One reconcile as the reconciler runs it; the world afterwards is remembered."""
        seen = self.gather()
        decided = plan(seen)
        first = decided
        if decided.writes:
            seen = write(decided, seen)
            decided = plan(seen)
        assert seen.body is not None and decided.status is not None
        cr = seen.body
        if decided.status.patch is not None:
            cr = {**cr, "status": merge_patch(cr.get("status") or {}, decided.status.patch)}
        if decided.status.phase_event is not None:
            event = phase_event(cr, "acme")
            assert event is not None
            self.published = state_key(event)
        self.cr, self.children = cr, dict(seen.children)
        return Plan(
            KEY,
            children=first.children,
            status=decided.status,
            finalizer_patch=first.finalizer_patch,
        )

    def pod_template(self) -> dict[str, Any]:
        spec: dict[str, Any] = self.children["StatefulSet"]["spec"]["template"]["spec"]
        return spec

    def degraded(self) -> dict[str, Any]:
        conditions = (self.cr.get("status") or {}).get("conditions") or []
        found: dict[str, Any] = next(c for c in conditions if c["type"] == "Degraded")
        return found


def scheduling(pod: dict[str, Any]) -> dict[str, Any]:
    return {k: pod[k] for k in ("nodeSelector", "tolerations", "affinity") if k in pod}


def applied_kinds(decided: Plan) -> list[str]:
    return [c.desired["kind"] for c in decided.children]


def warnings(decided: Plan) -> list[str]:
    assert decided.status is not None
    return [e.reason for e in decided.status.kube_events if e.warning]


def test_a_new_server_gets_its_profile_and_a_second_pass_changes_nothing() -> None:
    world = World(body({"placement": "game"}), stored(GAME))
    decided = world.reconcile()
    assert "StatefulSet" in applied_kinds(decided)
    assert scheduling(world.pod_template()) == {
        "nodeSelector": {"pool": "game"},
        "tolerations": [GAME_TOLERATION],
    }
    assert world.degraded()["status"] == "False"
    assert plan(world.gather()).changes_nothing


def test_the_default_profile_for_a_server_naming_none() -> None:
    world = World(body(), stored(GAME, FAST, defaultPlacement="fast"))
    world.reconcile()
    assert scheduling(world.pod_template()) == {"nodeSelector": {"pool": "fast"}}


def test_raw_scheduling_merges_under_the_profile_where_the_policy_allows_it() -> None:
    raw = {"nodeSelector": {"pool": "mine", "arch": "arm64"}, "tolerations": [{"key": "own"}]}
    world = World(body({"placement": "game", "scheduling": raw}), stored(GAME, rawScheduling=True))
    world.reconcile()
    assert scheduling(world.pod_template()) == {
        "nodeSelector": {"pool": "game", "arch": "arm64"},
        "tolerations": [GAME_TOLERATION, {"key": "own"}],
    }


def test_an_admins_edit_of_the_profile_reaches_the_statefulset() -> None:
    world = World(body({"placement": "game"}), stored(GAME))
    world.reconcile()
    world.policy = stored({**GAME, "nodeSelector": {"pool": "game-v2"}})
    decided = world.reconcile()
    assert [c.action for c in decided.children] == ["repaired"]
    assert world.pod_template()["nodeSelector"] == {"pool": "game-v2"}


def test_an_unknown_profile_keeps_the_old_scheduling_and_says_why_once() -> None:
    world = World(body({"placement": "game"}), stored(GAME))
    world.reconcile()
    before = scheduling(world.pod_template())
    world.policy = stored(FAST)  # the admin removed "game"

    decided = world.reconcile()
    assert applied_kinds(decided) == [], "the StatefulSet's scheduling is not touched"
    assert scheduling(world.pod_template()) == before
    degraded = world.degraded()
    assert (degraded["status"], degraded["reason"]) == ("True", "PlacementUnknown")
    assert "placement game is not a profile of CraftplanePolicy gold" in degraded["message"]
    assert "(profiles: fast)" in degraded["message"]
    assert warnings(decided) == ["PlacementUnknown"]
    assert decided.status is not None and decided.status.phase is not Phase.ERROR

    # Status is written only when it changed; the Warning is not repeated.
    assert plan(world.gather()).changes_nothing


def test_while_unresolved_other_changes_still_apply_but_not_to_the_scheduling() -> None:
    world = World(body({"placement": "game"}), stored(GAME))
    world.reconcile()
    before = scheduling(world.pod_template())
    world.policy = stored()
    world.cr = {**world.cr, "spec": {**world.cr["spec"], "resources": {"cpu": "2"}}}

    decided = world.reconcile()
    assert "StatefulSet" in applied_kinds(decided)
    assert scheduling(world.pod_template()) == before
    resources = world.pod_template()["containers"][0]["resources"]
    assert resources["limits"]["cpu"] == "2"


def test_a_missing_policy_creates_no_statefulset_and_is_an_error() -> None:
    world = World(body(), StoredPolicy("gold"))
    decided = world.reconcile()
    assert "StatefulSet" not in applied_kinds(decided)
    assert "StatefulSet" not in world.children
    # Admission checked none of the policy's rules: nothing of the server is built.
    assert applied_kinds(decided) == []
    assert decided.status is not None and decided.status.phase is Phase.ERROR
    degraded = world.degraded()
    assert degraded["reason"] == "PolicyNotFound"
    assert "CraftplanePolicy gold" in degraded["message"]
    assert warnings(decided) == ["PolicyNotFound"]
    assert plan(world.gather()).changes_nothing

    # The admin creates it: the server is placed and the problem is gone.
    world.policy = stored()
    decided = world.reconcile()
    assert "StatefulSet" in applied_kinds(decided)
    assert world.degraded()["status"] == "False"


def test_a_policy_gone_missing_changes_nothing_of_a_running_server() -> None:
    world = World(body(), stored())
    world.reconcile()
    before = dict(world.children)
    world.policy = StoredPolicy("gold")
    world.cr = body({"image": "ghcr.io/evil/miner:1", "service": {"type": "LoadBalancer"}})
    decided = world.reconcile()
    assert applied_kinds(decided) == []
    assert world.children == before
    assert world.degraded()["reason"] == "PolicyNotFound"


def test_the_profile_back_in_the_policy_clears_the_problem() -> None:
    world = World(body({"placement": "game"}), stored(GAME))
    world.reconcile()
    world.policy = stored()
    world.reconcile()
    assert world.degraded()["reason"] == "PlacementUnknown"
    world.policy = stored({**GAME, "nodeSelector": {"pool": "game-v2"}})
    world.reconcile()
    assert world.degraded()["status"] == "False"
    assert world.pod_template()["nodeSelector"] == {"pool": "game-v2"}
