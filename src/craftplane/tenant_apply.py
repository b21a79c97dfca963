"""Applying tenant plans (``tenancy``) with the Kubernetes client: create one, sync them all.

Server-side apply under one field manager, so re-running changes nothing that already holds
and a policy edit reaches every quota on the next ``sync``. Errors are exceptions carrying a
message meant for a person; the CLI prints them.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Final

from craftplane.contracts.names import TENANT_LABEL
from craftplane.contracts.policy import POLICY_KIND, CraftplanePolicySpec
from craftplane.kube import KubeClient, KubeError, Obj
from craftplane.tenancy import (
    FIELD_MANAGER,
    QUOTA_NAME,
    Binding,
    InvalidPolicy,
    TenantPlan,
    binding_of,
    parse_policy,
    plan,
)

CREATED: Final = "created"
CONFIGURED: Final = "configured"
UNCHANGED: Final = "unchanged"


class TenancyError(RuntimeError):
    """Something a person must fix before the tenant can be applied; nothing was changed."""


class PolicyNotFound(TenancyError):
    def __init__(self, policy: str) -> None:
        super().__init__(f"no CraftplanePolicy {policy!r}; kubectl get cpp")
        self.policy = policy


class NamespaceTaken(TenancyError):
    """The tenant's namespace exists and is not that tenant's: it is never taken over."""


@dataclass(frozen=True)
class Applied:
    kind: str
    name: str
    outcome: str

    def __str__(self) -> str:
        return f"{self.kind.lower()}/{self.name} {self.outcome}"


async def fetch_policy(kube: KubeClient, policy: str) -> CraftplanePolicySpec:
    body = await kube.get(POLICY_KIND, None, policy)
    if body is None:
        raise PolicyNotFound(policy)
    try:
        return parse_policy(body)
    except InvalidPolicy as exc:
        raise TenancyError(str(exc)) from exc


async def apply_objects(kube: KubeClient, objects: list[Obj]) -> list[Applied]:
    """Server-side apply each object in order; what each apply did."""
    done: list[Applied] = []
    for obj in objects:
        meta = obj["metadata"]
        before = await kube.get(obj["kind"], meta.get("namespace"), meta["name"])
        after = await kube.apply(obj, field_manager=FIELD_MANAGER)
        if before is None:
            outcome = CREATED
        elif _ours(obj, before) == _ours(obj, after):
            outcome = UNCHANGED
        else:
            outcome = CONFIGURED
        done.append(Applied(obj["kind"], meta["name"], outcome))
    return done


def _ours(desired: Obj, actual: Obj) -> Obj:
    """The part of ``actual`` that ``desired`` sets. Not the resourceVersion: other writers
    (the quota controller's status, above all) change that without anything of ours changing.
    Both sides come from the API server, so its normalising (500m for 0.5) cancels out."""
    meta = actual.get("metadata") or {}
    ours: Obj = {
        key: actual.get(key)
        for key in desired
        if key not in ("apiVersion", "kind", "metadata", "status")
    }
    for part in ("labels", "annotations"):
        wanted = desired["metadata"].get(part) or {}
        present = meta.get(part) or {}
        ours[part] = {key: present.get(key) for key in wanted}
    return ours


async def plan_tenant(kube: KubeClient, tenant: str, policy: str) -> TenantPlan:
    """The plan of ``tenant`` on ``policy`` as the cluster holds it; refuses a namespace of
    that name that is not already this tenant's (its NetworkPolicies would cut off whatever
    runs there)."""
    spec = await fetch_policy(kube, policy)
    planned = plan(tenant, policy, spec)
    existing = await kube.get("Namespace", None, planned.namespace_name)
    if existing is not None:
        found = binding_of(existing)
        if found is None or found.tenant != tenant:
            raise NamespaceTaken(
                f"namespace {planned.namespace_name} exists and is not labelled "
                f"{TENANT_LABEL}={tenant}; it is not taken over (label it first if it is "
                "this tenant's)"
            )
    return planned


async def create_tenant(kube: KubeClient, tenant: str, policy: str) -> list[Applied]:
    planned = await plan_tenant(kube, tenant, policy)
    return await apply_objects(kube, planned.objects())


async def quota_enforced(kube: KubeClient, namespace: str, *, timeout: float = 30) -> bool:
    """Whether the quota controller has counted the namespace's quota within ``timeout``:
    until it has, the API server refuses every object the quota covers ("status unknown")."""
    deadline = time.monotonic() + timeout
    while True:
        quota = await kube.get("ResourceQuota", namespace, QUOTA_NAME)
        status = (quota or {}).get("status") or {}
        if quota is not None and status.get("hard") == quota["spec"]["hard"]:
            return True
        if time.monotonic() >= deadline:
            return False
        await asyncio.sleep(0.5)


@dataclass
class Synced:
    """One tenant namespace after ``sync``: what was applied, or why nothing was."""

    namespace: str
    policy: str
    applied: list[Applied] = field(default_factory=list)
    error: str | None = None


async def sync_tenants(
    kube: KubeClient, *, tenants: Collection[str] = (), policy: str | None = None
) -> list[Synced]:
    """Re-apply the quota and limits of every tenant-labelled namespace from its policy; only
    those of ``tenants`` and of ``policy`` when given."""
    namespaces = await kube.list_objects("Namespace", label_selector=TENANT_LABEL)
    policies: dict[str, CraftplanePolicySpec | TenancyError] = {}
    results = []
    seen = set()
    for namespace in sorted(namespaces, key=lambda ns: str(ns["metadata"]["name"])):
        name = str(namespace["metadata"]["name"])
        binding = binding_of(namespace)
        if binding is None:
            if not tenants and policy is None:
                label = namespace["metadata"]["labels"][TENANT_LABEL]
                error = f"labelled {TENANT_LABEL}={label}, not tenant-{label}"
                results.append(Synced(name, "", error=error))
            continue
        if (tenants and binding.tenant not in tenants) or policy not in (None, binding.policy):
            continue
        seen.add(binding.tenant)
        results.append(await _sync_one(kube, name, binding, policies))
    for missing in sorted(set(tenants) - seen):
        where = f"tenant-{missing}"
        why = "no tenant namespace" if policy is None else f"no tenant namespace on {policy}"
        results.append(Synced(where, policy or "", error=why))
    return results


async def _sync_one(
    kube: KubeClient,
    name: str,
    binding: Binding,
    policies: dict[str, CraftplanePolicySpec | TenancyError],
) -> Synced:
    if binding.policy not in policies:
        try:
            policies[binding.policy] = await fetch_policy(kube, binding.policy)
        except TenancyError as exc:
            policies[binding.policy] = exc
        except KubeError as exc:
            policies[binding.policy] = TenancyError(
                f"could not read CraftplanePolicy {binding.policy!r}: {exc}"
            )
    spec = policies[binding.policy]
    if isinstance(spec, TenancyError):
        return Synced(name, binding.policy, error=str(spec))
    try:
        planned = plan(binding.tenant, binding.policy, spec)
    except ValueError as exc:
        return Synced(name, binding.policy, error=str(exc))
    try:
        applied = await apply_objects(kube, planned.policy_objects())
    except KubeError as exc:
        return Synced(name, binding.policy, error=f"the API server refused it: {exc}")
    return Synced(name, binding.policy, applied)


__all__ = [
    "Applied",
    "NamespaceTaken",
    "PolicyNotFound",
    "Synced",
    "TenancyError",
    "apply_objects",
    "create_tenant",
    "fetch_policy",
    "plan_tenant",
    "quota_enforced",
    "sync_tenants",
]
