"""Tenants made with kubectl from the same plan as `craftplane tenant create` (``tenancy``).

The sandbox's demo tenant and the tests' tenants come from here, so they have the quota,
limits, network policies and RBAC a real tenant has, from the CraftplanePolicy they name.
kubectl rather than the async client: the callers are synchronous (``make up``, fixtures).
"""

from __future__ import annotations

import json
import subprocess
from typing import Protocol

from craftplane import tenancy
from craftplane.contracts.names import GROUP
from craftplane.contracts.policy import DEFAULT_POLICY, POLICY_PLURAL, CraftplanePolicySpec
from craftplane.sandbox import procs
from craftplane.sandbox.errors import SandboxError


class Kubectl(Protocol):
    """kubectl against one cluster: the arguments after ``kubectl``, stdin, the result."""

    def __call__(
        self, *args: str, stdin: str | None = None
    ) -> subprocess.CompletedProcess[str]: ...


def read_policy(kubectl: Kubectl, policy: str) -> CraftplanePolicySpec:
    got = kubectl("get", f"{POLICY_PLURAL}.{GROUP}", policy, "-o", "json")
    if got.returncode != 0:
        if "NotFound" in got.stderr or "doesn't have a resource type" in got.stderr:
            raise SandboxError(f"no CraftplanePolicy {policy!r}; kubectl get cpp")
        raise SandboxError(f"could not read CraftplanePolicy {policy!r}: {got.stderr.strip()}")
    try:
        return tenancy.parse_policy(json.loads(got.stdout))
    except tenancy.InvalidPolicy as exc:
        raise SandboxError(str(exc)) from exc


def apply_tenant(
    kubectl: Kubectl, tenant: str, policy: str = DEFAULT_POLICY, *, timeout: float = 30
) -> tenancy.TenantPlan:
    """Apply ``tenant``'s plan on ``policy`` and wait until its quota is counted (before
    that, the API server refuses the objects it covers: "status unknown for quota")."""
    error = tenancy.tenant_error(tenant) or tenancy.policy_error(policy)
    if error:
        raise SandboxError(error)
    planned = tenancy.plan(tenant, policy, read_policy(kubectl, policy))
    applied = kubectl(
        "apply",
        "--server-side",
        f"--field-manager={tenancy.FIELD_MANAGER}",
        "--force-conflicts",
        "-f",
        "-",
        stdin=tenancy.render_yaml(planned.objects()),
    )
    if applied.returncode != 0:
        raise SandboxError(
            f"could not apply tenant {tenant} ({planned.namespace_name}): {applied.stderr.strip()}"
        )
    procs.wait_until(
        lambda: quota_counted(kubectl, planned),
        timeout=timeout,
        what=f"the quota of {planned.namespace_name}",
    )
    return planned


def quota_counted(kubectl: Kubectl, planned: tenancy.TenantPlan) -> bool:
    got = kubectl(
        "get", "resourcequota", tenancy.QUOTA_NAME, "-n", planned.namespace_name, "-o", "json"
    )
    if got.returncode != 0:
        return False
    quota = json.loads(got.stdout)
    hard = (quota.get("status") or {}).get("hard")
    return bool(hard) and hard == quota["spec"]["hard"]
