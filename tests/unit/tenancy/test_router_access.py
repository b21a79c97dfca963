"""What the router may do: read MinecraftServers and namespaces everywhere, and patch
MinecraftServers in tenant namespaces only, bound per tenant like the gateway's access (the
planner and manifests/tenant agree: test_manifests); admission narrows the patch to the wake
annotations (tests/unit/contracts/test_router_admission.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from craftplane import tenancy, tenant_access
from craftplane.contracts.policy import CraftplanePolicySpec
from craftplane.contracts.router_admission import ROUTER_USER

pytestmark = pytest.mark.unit

ROUTER = Path(__file__).resolve().parents[3] / "manifests" / "base" / "router"
PLAN = tenancy.plan("acme", "default", CraftplanePolicySpec())


def _documents(name: str) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all((ROUTER / name).read_text()) if doc]


def _by_kind_and_name() -> dict[tuple[str, str], dict[str, Any]]:
    return {(d["kind"], d["metadata"]["name"]): d for d in _documents("rbac.yaml")}


def test_each_tenant_namespace_binds_the_routers_tenant_role_to_its_account() -> None:
    (account,) = _documents("serviceaccount.yaml")
    (binding,) = [
        o
        for o in PLAN.rbac
        if o["kind"] == "RoleBinding" and o["metadata"]["name"] == "craftplane-router"
    ]
    assert binding["metadata"]["namespace"] == "tenant-acme"
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "ClusterRole",
        "name": "craftplane-router-tenant",
    }
    assert binding["subjects"] == [
        {
            "kind": "ServiceAccount",
            "name": account["metadata"]["name"],
            "namespace": account["metadata"]["namespace"],
        }
    ]
    # The identity the admission policy matches is that account.
    meta = account["metadata"]
    assert f"system:serviceaccount:{meta['namespace']}:{meta['name']}" == ROUTER_USER
    assert meta["namespace"] == tenant_access.SYSTEM_NAMESPACE


def test_the_routers_only_write_is_patch_on_servers_and_it_is_never_bound_cluster_wide() -> None:
    rbac = _by_kind_and_name()
    tenant_role = rbac["ClusterRole", "craftplane-router-tenant"]
    assert tenant_role["rules"] == [
        {"apiGroups": ["craftplane.io"], "resources": ["minecraftservers"], "verbs": ["patch"]}
    ]
    cluster_role = rbac["ClusterRole", "craftplane-router"]
    for rule in cluster_role["rules"]:
        assert set(rule["verbs"]) <= {"get", "list", "watch"}, rule
        assert "secrets" not in rule["resources"] and "*" not in rule["resources"], rule
    bindings = [d for d in rbac.values() if d["kind"] == "ClusterRoleBinding"]
    assert [b["roleRef"]["name"] for b in bindings] == ["craftplane-router"]
