"""Applying tenant plans against an in-memory API server: create, re-run, refuse, sync."""

from __future__ import annotations

import pytest

from craftplane import tenancy, tenant_apply
from craftplane.contracts.policy import CraftplanePolicySpec
from tests.unit.tenancy.fakes import FakeKube, namespace, policy

pytestmark = pytest.mark.unit


async def test_create_applies_every_object_then_changes_nothing() -> None:
    kube = FakeKube(policy("default"))
    first = await tenant_apply.create_tenant(kube, "acme", "default")  # type: ignore[arg-type]
    planned = tenancy.plan("acme", "default", CraftplanePolicySpec())
    assert [(a.kind, a.name) for a in first] == [
        (o["kind"], o["metadata"]["name"]) for o in planned.objects()
    ]
    assert {a.outcome for a in first} == {"created"}
    again = await tenant_apply.create_tenant(kube, "acme", "default")  # type: ignore[arg-type]
    assert {a.outcome for a in again} == {"unchanged"}
    stored = kube.objects[("ResourceQuota", "tenant-acme", "tenant-quota")]
    assert stored["spec"] == planned.quota["spec"]


async def test_another_writer_meanwhile_is_not_a_change_of_ours() -> None:
    kube = FakeKube(policy("default"))
    await tenant_apply.create_tenant(kube, "acme", "default")  # type: ignore[arg-type]

    def quota_controller(obj: dict[str, object]) -> None:
        key = ("ResourceQuota", "tenant-acme", "tenant-quota")
        kube.objects[key]["status"]["used"] = {"pods": "1"}
        kube.objects[key]["metadata"]["resourceVersion"] += "0"

    kube.meanwhile = quota_controller
    again = await tenant_apply.create_tenant(kube, "acme", "default")  # type: ignore[arg-type]
    assert {a.outcome for a in again} == {"unchanged"}


async def test_the_quota_comes_from_the_named_policy() -> None:
    kube = FakeKube(policy("default"), policy("one", quota={"servers": 1, "cpu": "2"}))
    await tenant_apply.create_tenant(kube, "acme", "one")  # type: ignore[arg-type]
    hard = kube.objects[("ResourceQuota", "tenant-acme", "tenant-quota")]["spec"]["hard"]
    assert hard["count/minecraftservers.craftplane.io"] == "1" and hard["requests.cpu"] == "2"
    labels = kube.objects[("Namespace", None, "tenant-acme")]["metadata"]["labels"]
    assert labels["craftplane.io/policy"] == "one"


async def test_a_missing_policy_is_named_and_nothing_is_applied() -> None:
    kube = FakeKube(policy("default"))
    with pytest.raises(tenant_apply.PolicyNotFound) as caught:
        await tenant_apply.create_tenant(kube, "acme", "gold")  # type: ignore[arg-type]
    assert str(caught.value) == "no CraftplanePolicy 'gold'; kubectl get cpp"
    assert kube.applied == []


@pytest.mark.parametrize(
    "labels", [{}, {"craftplane.io/tenant": "other"}, {"team": "payments"}], ids=str
)
async def test_a_namespace_that_is_not_the_tenants_is_never_taken_over(
    labels: dict[str, str],
) -> None:
    kube = FakeKube(policy("default"), namespace("tenant-acme", **labels))
    with pytest.raises(tenant_apply.NamespaceTaken, match="tenant-acme exists"):
        await tenant_apply.create_tenant(kube, "acme", "default")  # type: ignore[arg-type]
    assert kube.applied == []


async def test_an_existing_tenant_namespace_is_re_applied() -> None:
    kube = FakeKube(policy("default"), namespace("tenant-acme", **{"craftplane.io/tenant": "acme"}))
    done = await tenant_apply.create_tenant(kube, "acme", "default")  # type: ignore[arg-type]
    assert done[0].kind == "Namespace" and done[0].outcome == "configured"


async def test_sync_follows_each_namespace_policy_and_reports_the_rest() -> None:
    kube = FakeKube(policy("default"), policy("gold", quota={"servers": 20}))
    for tenant, chosen in (("acme", "default"), ("bolt", "gold")):
        await tenant_apply.create_tenant(kube, tenant, chosen)  # type: ignore[arg-type]
    kube.put(namespace("tenant-gone", **{"craftplane.io/tenant": "gone",
                                         "craftplane.io/policy": "removed"}))  # fmt: skip
    kube.put(namespace("games", **{"craftplane.io/tenant": "games"}))
    kube.put(namespace("tenant-plain"))
    kube.put(policy("gold", quota={"servers": 30}))  # the admin edits the policy

    results = {r.namespace: r for r in await tenant_apply.sync_tenants(kube)}  # type: ignore[arg-type]

    assert set(results) == {"games", "tenant-acme", "tenant-bolt", "tenant-gone"}
    assert [str(a) for a in results["tenant-acme"].applied] == [
        "resourcequota/tenant-quota unchanged",
        "limitrange/tenant-limits unchanged",
    ]
    assert [a.outcome for a in results["tenant-bolt"].applied] == ["configured", "unchanged"]
    hard = kube.objects[("ResourceQuota", "tenant-bolt", "tenant-quota")]["spec"]["hard"]
    assert hard["count/minecraftservers.craftplane.io"] == "30"
    assert results["tenant-gone"].error == "no CraftplanePolicy 'removed'; kubectl get cpp"
    assert results["games"].error is not None and "not tenant-games" in results["games"].error
    again = await tenant_apply.sync_tenants(kube)  # type: ignore[arg-type]
    assert {a.outcome for r in again for a in r.applied} == {"unchanged"}


async def test_sync_of_some_tenants_or_one_policy() -> None:
    kube = FakeKube(policy("default"), policy("gold"))
    for tenant, chosen in (("acme", "default"), ("bolt", "gold"), ("cove", "gold")):
        await tenant_apply.create_tenant(kube, tenant, chosen)  # type: ignore[arg-type]
    kube.put(namespace("games", **{"craftplane.io/tenant": "games"}))

    async def synced(**only: object) -> dict[str, str | None]:
        results = await tenant_apply.sync_tenants(kube, **only)  # type: ignore[arg-type]
        return {r.namespace: r.error for r in results}

    assert await synced(tenants=["acme", "nope"]) == {
        "tenant-acme": None,
        "tenant-nope": "no tenant namespace",
    }
    assert await synced(policy="gold") == {"tenant-bolt": None, "tenant-cove": None}
    assert await synced(tenants=["acme"], policy="gold") == {
        "tenant-acme": "no tenant namespace on gold"
    }
    assert "games" in await synced()


async def test_sync_reports_a_refusal_per_namespace() -> None:
    kube = FakeKube(policy("default"))
    await tenant_apply.create_tenant(kube, "acme", "default")  # type: ignore[arg-type]
    kube.refuse_apply_at = len(kube.applied)
    (result,) = await tenant_apply.sync_tenants(kube)  # type: ignore[arg-type]
    assert result.error is not None and "refused" in result.error and result.applied == []


async def test_the_quota_is_enforced_once_counted() -> None:
    kube = FakeKube(policy("default"))
    await tenant_apply.create_tenant(kube, "acme", "default")  # type: ignore[arg-type]
    assert await tenant_apply.quota_enforced(kube, "tenant-acme")  # type: ignore[arg-type]
    kube.counts_quota = False
    kube.put(kube.objects[("ResourceQuota", "tenant-acme", "tenant-quota")] | {"status": {}})
    assert not await tenant_apply.quota_enforced(kube, "tenant-acme", timeout=0)  # type: ignore[arg-type]
