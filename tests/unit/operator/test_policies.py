"""The policy and namespace caches against a fake API, and the reconciler placing a server
through its tenant's CraftplanePolicy (no cluster)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from craftplane.kube import KubeError, path_for
from craftplane_operator.players import PlayerTracker
from craftplane_operator.policies import PolicyDirectory, read_policy
from craftplane_operator.reconciler import Reconciler
from craftplane_operator.recorder import EventRecorder
from craftplane_operator.store import ObjectStore
from craftplane_operator.tenants import TenantDirectory
from tests.unit.operator.factories import NAME, NAMESPACE, cr_body
from tests.unit.operator.test_reconciler import KEY, FakeApi, Outbox, status

pytestmark = pytest.mark.unit

GAME = {"name": "game", "nodeSelector": {"pool": "game"}}


def policy_object(name: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "craftplane.io/v1alpha1",
        "kind": "CraftplanePolicy",
        "metadata": {"name": name},
        "spec": spec,
    }


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class CountingKube:
    """Answers GETs from a dict, counting them; an entry may be an error to raise."""

    def __init__(self, objects: dict[tuple[str, str], Any]) -> None:
        self.objects = objects
        self.gets: list[tuple[str, str | None, str]] = []

    async def get(self, kind: str, namespace: str | None, name: str) -> dict[str, Any] | None:
        self.gets.append((kind, namespace, name))
        await asyncio.sleep(0)  # let concurrent callers interleave, as real I/O would
        found = self.objects.get((kind, name))
        if isinstance(found, Exception):
            raise found
        return found


def directory(kube: CountingKube, clock: Clock, ttl: float = 30) -> PolicyDirectory:
    fake: Any = kube
    return PolicyDirectory(fake, ttl=ttl, clock=clock)


def test_policies_are_addressed_cluster_wide() -> None:
    assert path_for("CraftplanePolicy", None, "gold") == (
        "/apis/craftplane.io/v1alpha1/craftplanepolicies/gold"
    )


async def test_a_policy_is_fetched_once_per_ttl() -> None:
    kube = CountingKube({("CraftplanePolicy", "gold"): policy_object("gold", {})})
    clock = Clock()
    policies = directory(kube, clock)
    first = await policies.get("gold")
    assert first.spec is not None and first.invalid is None
    clock.now += 29
    assert await policies.get("gold") is first
    assert kube.gets == [("CraftplanePolicy", None, "gold")]

    # The admin's edit is seen once the entry expires.
    kube.objects["CraftplanePolicy", "gold"] = policy_object("gold", {"placements": [GAME]})
    clock.now += 2
    second = await policies.get("gold")
    assert second.spec is not None and [p.name for p in second.spec.placements] == ["game"]
    assert len(kube.gets) == 2


async def test_absence_is_cached_too_and_ends_when_the_policy_appears() -> None:
    kube = CountingKube({})
    clock = Clock()
    policies = directory(kube, clock)
    missing = await policies.get("gold")
    assert (missing.name, missing.spec, missing.invalid) == ("gold", None, None)
    await policies.get("gold")
    assert len(kube.gets) == 1
    kube.objects["CraftplanePolicy", "gold"] = policy_object("gold", {})
    clock.now += 31
    assert (await policies.get("gold")).spec is not None


async def test_an_api_error_is_raised_and_not_cached() -> None:
    kube = CountingKube({("CraftplanePolicy", "gold"): KubeError(403, "forbidden")})
    policies = directory(kube, Clock())
    with pytest.raises(KubeError):
        await policies.get("gold")
    kube.objects["CraftplanePolicy", "gold"] = policy_object("gold", {})
    assert (await policies.get("gold")).spec is not None
    assert len(kube.gets) == 2


async def test_concurrent_readers_share_one_fetch() -> None:
    kube = CountingKube({("CraftplanePolicy", "gold"): policy_object("gold", {})})
    policies = directory(kube, Clock())
    found = await asyncio.gather(*(policies.get("gold") for _ in range(8)))
    assert len(kube.gets) == 1
    assert all(f is found[0] for f in found)


def test_a_policy_the_model_refuses_is_invalid_not_missing() -> None:
    stored = read_policy("gold", policy_object("gold", {"placements": [GAME, GAME]}))
    assert stored.spec is None
    assert stored.invalid is not None and "unique" in stored.invalid


async def test_namespace_labels_are_cached_and_name_the_tenant() -> None:
    labels = {"craftplane.io/tenant": "acme", "craftplane.io/policy": "gold"}
    kube = CountingKube({("Namespace", "tenant-acme"): {"metadata": {"labels": labels}}})
    fake: Any = kube
    tenants = TenantDirectory(fake)
    assert await tenants.labels_of("tenant-acme") == labels
    assert await tenants.tenant_of("tenant-acme") == "acme"
    assert await tenants.labels_of("gone") == {}
    assert await tenants.tenant_of("gone") is None
    assert len(kube.gets) == 2


# -- the reconciler, placing through the namespace's policy --------------------------------


def placing_reconciler(api: FakeApi, clock: Clock) -> Reconciler:
    kube: Any = api
    return Reconciler(
        kube,
        ObjectStore(),
        Outbox(),  # type: ignore[arg-type]
        EventRecorder(kube, "test"),
        TenantDirectory(kube, ttl=0),
        PlayerTracker(lambda key: None, interval=60),
        ping_in_cluster=False,
        policies=PolicyDirectory(kube, ttl=30, clock=clock),
    )


def tenant_api(*, policy_spec: dict[str, Any] | None, spec: dict[str, Any]) -> FakeApi:
    api = FakeApi()
    labels = {"craftplane.io/tenant": "acme", "craftplane.io/policy": "gold"}
    api.add({"kind": "Namespace", "metadata": {"name": NAMESPACE, "labels": labels}})
    if policy_spec is not None:
        api.add(policy_object("gold", policy_spec))
    api.add(cr_body(spec))
    return api


def pod_template(api: FakeApi) -> dict[str, Any]:
    spec: dict[str, Any] = api.objects["StatefulSet", NAMESPACE, NAME]["spec"]["template"]["spec"]
    return spec


def degraded(api: FakeApi) -> dict[str, Any]:
    found: dict[str, Any] = next(c for c in status(api)["conditions"] if c["type"] == "Degraded")
    return found


async def test_the_reconciler_places_the_server_with_its_profile_until_it_is_removed() -> None:
    api = tenant_api(policy_spec={"placements": [GAME]}, spec={"placement": "game"})
    clock = Clock()
    rec = placing_reconciler(api, clock)
    await rec.reconcile(KEY)
    assert pod_template(api)["nodeSelector"] == {"pool": "game"}
    assert "CraftplanePolicy" in api.gets

    # The admin removes the profile; once the cache entry expires the next pass says so.
    api.add(policy_object("gold", {"placements": []}))
    clock.now += 31
    before = len(api.writes)
    await rec.reconcile(KEY)
    assert ("apply", "StatefulSet") not in api.writes[before:]
    assert pod_template(api)["nodeSelector"] == {"pool": "game"}
    assert (degraded(api)["status"], degraded(api)["reason"]) == ("True", "PlacementUnknown")
    events = [e for e in api.created if e["kind"] == "Event"]
    assert [(e["type"], e["reason"]) for e in events][-1] == ("Warning", "PlacementUnknown")
    assert "placement game" in events[-1]["message"]

    # A pass that finds the same writes nothing and records no second Warning.
    before, created = len(api.writes), len(api.created)
    await rec.reconcile(KEY)
    assert api.writes[before:] == [] and len(api.created) == created


async def test_the_reconciler_reports_a_missing_policy() -> None:
    api = tenant_api(policy_spec=None, spec={})
    await placing_reconciler(api, Clock()).reconcile(KEY)
    assert ("StatefulSet", NAMESPACE, NAME) not in api.objects
    assert degraded(api)["reason"] == "PolicyNotFound"
    assert status(api)["phase"] == "Error"


async def test_a_forbidden_policy_read_fails_the_reconcile() -> None:
    api = tenant_api(policy_spec={}, spec={})
    original = api.get

    async def refusing(kind: str, namespace: str | None, name: str) -> dict[str, Any] | None:
        if kind == "CraftplanePolicy":
            raise KubeError(403, 'craftplanepolicies.craftplane.io "gold" is forbidden')
        return await original(kind, namespace, name)

    api.get = refusing  # type: ignore[method-assign]
    with pytest.raises(KubeError):
        await placing_reconciler(api, Clock()).reconcile(KEY)
    assert ("StatefulSet", NAMESPACE, NAME) not in api.objects
