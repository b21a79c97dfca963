"""A tenant's namespace and what it holds, planned from the tenant's name and its policy.

Pure: no I/O. ``craftplane tenant create`` and ``tenant sync`` (``tenant_apply``), the sandbox
and the test fixtures all apply what :func:`plan` returns, and ``manifests/tenant`` (the
kustomize Component, for GitOps) holds the same objects for the default policy: a unit test
renders it and compares, so a tenant has one shape however it was made.

The policy decides the ResourceQuota (``quota``) and the LimitRange (``maxPerServer``); the
NetworkPolicies and RoleBindings are the same for every tenant (``tenant_access``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Final

import yaml
from pydantic import ValidationError

from craftplane import tokens
from craftplane.contracts import names
from craftplane.contracts.policy import DEFAULT_POLICY, POLICY_LABEL, CraftplanePolicySpec
from craftplane.contracts.quantity import parse_quantity
from craftplane.contracts.spec_values import ServiceType
from craftplane.tenant_access import network_policies, rbac_objects

Obj = dict[str, Any]

FIELD_MANAGER: Final = "craftplane-tenancy"
QUOTA_NAME: Final = "tenant-quota"
LIMITS_NAME: Final = "tenant-limits"
SERVER_COUNT: Final = f"count/{names.PLURAL}.{names.GROUP}"
POD_SECURITY: Final = {
    "pod-security.kubernetes.io/enforce": "restricted",
    "pod-security.kubernetes.io/enforce-version": "latest",
    "pod-security.kubernetes.io/warn": "restricted",
    "pod-security.kubernetes.io/audit": "restricted",
}
# Ceilings on what the operator makes per server (one pod, the game and the headless Service,
# one ConfigMap, one RCON Secret), with room to spare: they stop a runaway, not a tenant.
PODS_PER_SERVER: Final = 2
SERVICES_PER_SERVER: Final = 2
CONFIGMAPS_PER_SERVER: Final = 5
SECRETS_PER_SERVER: Final = 5
# Kubernetes itself puts one ConfigMap (kube-root-ca.crt) into every namespace.
CONFIGMAPS_OF_KUBERNETES: Final = 1
# The backup repository's Secret (contracts.backup.REPOSITORY_SECRET), which the cluster admin
# adds: it must fit however few servers the policy allows.
SECRETS_OF_PLATFORM: Final = 1
# For containers that state no resources (a server's always do: requests = limits = its
# spec.resources); lowered to the policy's maximum when that is smaller.
CONTAINER_DEFAULT: Final = {"cpu": "1", "memory": "1Gi"}
CONTAINER_DEFAULT_REQUEST: Final = {"cpu": "250m", "memory": "512Mi"}
VOLUME_MIN: Final = "1Gi"
# A policy's name becomes a namespace label value: a DNS subdomain that fits in 63 characters.
_POLICY_NAME: Final = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,61}[a-z0-9])?$")


class InvalidPolicy(ValueError):
    """A CraftplanePolicy whose spec the model refuses (the CRD should have refused it)."""


def tenant_error(tenant: str) -> str | None:
    """Why ``tenant`` cannot be a tenant's name, or None (the token CLI refuses the same)."""
    if not tokens.is_valid_tenant(tenant):
        return f"{tenant!r} is not a valid tenant name"
    if tokens.is_reserved_tenant(tenant):
        return f"{tenant!r} is reserved for the platform, not a tenant name"
    return None


def policy_error(policy: str) -> str | None:
    """Why ``policy`` cannot name a tenant's CraftplanePolicy, or None."""
    if not _POLICY_NAME.fullmatch(policy):
        return (
            f"{policy!r} is not a CraftplanePolicy name a namespace label can hold "
            "(lowercase letters, digits, '-' and '.', at most 63)"
        )
    return None


def parse_policy(body: Obj) -> CraftplanePolicySpec:
    """The spec of a CraftplanePolicy as the API server returned it (defaults filled in)."""
    name = (body.get("metadata") or {}).get("name", "?")
    try:
        return CraftplanePolicySpec.model_validate(body.get("spec") or {})
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise InvalidPolicy(
            f"CraftplanePolicy {name!r} is not valid: spec.{where}: {first['msg']}"
        ) from exc


@dataclass(frozen=True)
class TenantPlan:
    """Every object of one tenant."""

    tenant: str
    policy: str
    namespace: Obj
    quota: Obj
    limits: Obj
    rbac: tuple[Obj, ...]
    network_policies: tuple[Obj, ...]

    @property
    def namespace_name(self) -> str:
        name: str = self.namespace["metadata"]["name"]
        return name

    def objects(self) -> list[Obj]:
        """In the order to apply them: the namespace, which holds the rest; then the bindings,
        as the operator starts watching a tenant-* namespace as soon as it appears; then the
        quota, before anything it counts."""
        return [self.namespace, *self.rbac, self.quota, self.limits, *self.network_policies]

    def policy_objects(self) -> list[Obj]:
        """What follows the policy (``tenant sync`` re-applies these)."""
        return [self.quota, self.limits]


def plan(tenant: str, policy: str, spec: CraftplanePolicySpec) -> TenantPlan:
    """The objects of tenant ``tenant`` bound to the CraftplanePolicy ``policy`` (``spec``)."""
    error = tenant_error(tenant) or policy_error(policy)
    if error:
        raise ValueError(error)
    namespace = tokens.namespace_for(tenant)
    return TenantPlan(
        tenant=tenant,
        policy=policy,
        namespace=namespace_object(tenant, policy),
        quota=quota_object(namespace, spec),
        limits=limits_object(namespace, spec),
        rbac=tuple(rbac_objects(tenant, namespace)),
        network_policies=tuple(network_policies(namespace)),
    )


def namespace_object(tenant: str, policy: str = DEFAULT_POLICY) -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {
            "name": tokens.namespace_for(tenant),
            # The gateway serves a token's tenant only where this label names it; the
            # operator copies it into events; the admission policy reads the policy label.
            "labels": {names.TENANT_LABEL: tenant, POLICY_LABEL: policy, **POD_SECURITY},
        },
    }


def quota_hard(spec: CraftplanePolicySpec) -> dict[str, str]:
    """The ResourceQuota's ``hard`` for a policy: its ``quota``, counted the API server's way."""
    quota = spec.quota
    servers = quota.servers
    types = set(spec.service_types)
    load_balancers = servers if ServiceType.LOAD_BALANCER in types else 0
    # A LoadBalancer Service takes node ports too (one per port; the game Service has one),
    # so the quota on node ports must allow them when either type is allowed.
    node_ports = servers if types & {ServiceType.NODE_PORT, ServiceType.LOAD_BALANCER} else 0
    return {
        SERVER_COUNT: str(servers),
        "pods": str(PODS_PER_SERVER * servers),
        "requests.cpu": quota.cpu,
        "requests.memory": quota.memory,
        "limits.cpu": quota.cpu,
        "limits.memory": quota.memory,
        "persistentvolumeclaims": str(servers),
        "requests.storage": quota.storage,
        "services": str(SERVICES_PER_SERVER * servers),
        "services.loadbalancers": str(load_balancers),
        "services.nodeports": str(node_ports),
        "configmaps": str(CONFIGMAPS_PER_SERVER * servers + CONFIGMAPS_OF_KUBERNETES),
        "secrets": str(SECRETS_PER_SERVER * servers + SECRETS_OF_PLATFORM),
    }


def quota_object(namespace: str, spec: CraftplanePolicySpec) -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "ResourceQuota",
        "metadata": {"name": QUOTA_NAME, "namespace": namespace},
        "spec": {"hard": quota_hard(spec)},
    }


def _at_most(value: str, limit: str) -> str:
    return value if parse_quantity(value) <= parse_quantity(limit) else limit


def limits_object(namespace: str, spec: CraftplanePolicySpec) -> Obj:
    """Per-object bounds: no container or world volume above what one server may have. The
    API server refuses a LimitRange whose defaults exceed its maxima, hence the clamping."""
    most = spec.max_per_server
    maxima = {"cpu": most.cpu, "memory": most.memory}
    container = {
        "type": "Container",
        "default": {k: _at_most(v, maxima[k]) for k, v in CONTAINER_DEFAULT.items()},
        "defaultRequest": {k: _at_most(v, maxima[k]) for k, v in CONTAINER_DEFAULT_REQUEST.items()},
        "max": maxima,
    }
    volume = {
        "type": "PersistentVolumeClaim",
        "min": {"storage": _at_most(VOLUME_MIN, most.storage)},
        "max": {"storage": most.storage},
    }
    return {
        "apiVersion": "v1",
        "kind": "LimitRange",
        "metadata": {"name": LIMITS_NAME, "namespace": namespace},
        "spec": {"limits": [container, volume]},
    }


@dataclass(frozen=True)
class Binding:
    """What a namespace's labels say: whose it is and which policy it follows."""

    tenant: str
    policy: str


def binding_of(namespace: Obj) -> Binding | None:
    """The tenant and policy of a namespace, or None when it is not a tenant's: no tenant
    label, or a label that does not match its name (``tenant-<tenant>``)."""
    meta = namespace.get("metadata") or {}
    labels = meta.get("labels") or {}
    tenant = labels.get(names.TENANT_LABEL)
    if not isinstance(tenant, str) or tokens.tenant_for_namespace(meta.get("name", "")) != tenant:
        return None
    return Binding(tenant=tenant, policy=labels.get(POLICY_LABEL) or DEFAULT_POLICY)


def render_yaml(objects: list[Obj]) -> str:
    """A multi-document YAML stream, as ``kubectl apply -f -`` reads it."""
    return yaml.safe_dump_all(objects, sort_keys=False)


__all__ = [
    "FIELD_MANAGER",
    "LIMITS_NAME",
    "QUOTA_NAME",
    "SERVER_COUNT",
    "Binding",
    "InvalidPolicy",
    "TenantPlan",
    "binding_of",
    "parse_policy",
    "plan",
    "policy_error",
    "quota_hard",
    "render_yaml",
    "tenant_error",
]
