"""A tenant can never write a MinecraftServer's status: the router routes what
status.hostnames and status.internalAddress say, so whoever writes status decides where
players' connections go. Only the operator may (its own ClusterRole)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from craftplane import tenancy, tenant_access
from craftplane.contracts import names
from craftplane.contracts.policy import CraftplanePolicySpec

pytestmark = pytest.mark.unit

ROOT = Path(__file__).parents[3]
WRITES = {"create", "update", "patch", "delete", "deletecollection", "*"}
STATUS = f"{names.PLURAL}/status"


def writes_server_status(rule: dict[str, Any]) -> bool:
    groups = set(rule.get("apiGroups") or [])
    resources = set(rule.get("resources") or [])
    verbs = set(rule.get("verbs") or [])
    return (
        bool(groups & {names.GROUP, "*"})
        and bool(resources & {STATUS, f"{names.PLURAL}/*", "*"})
        and bool(verbs & WRITES)
    )


def roles_in(path: Path) -> list[dict[str, Any]]:
    docs = [d for d in yaml.safe_load_all(path.read_text()) if d]
    return [d for d in docs if d.get("kind") in ("Role", "ClusterRole")]


def test_the_rule_this_test_relies_on_catches_what_it_should() -> None:
    assert writes_server_status({"apiGroups": ["craftplane.io"], "resources": [STATUS],
                                 "verbs": ["patch"]})  # fmt: skip
    assert writes_server_status({"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]})
    assert not writes_server_status({"apiGroups": ["craftplane.io"], "resources": [STATUS],
                                     "verbs": ["get"]})  # fmt: skip
    assert not writes_server_status({"apiGroups": ["craftplane.io"],
                                     "resources": [names.PLURAL], "verbs": ["patch"]})  # fmt: skip


def test_the_tenant_role_the_platform_plans_reads_status_only() -> None:
    plan = tenancy.plan("acme", "default", CraftplanePolicySpec())
    roles = [o for o in plan.rbac if o["kind"] in ("Role", "ClusterRole")]
    assert roles and roles[0] == tenant_access.tenant_admin_role(plan.namespace_name)
    for role in roles:
        for rule in role["rules"]:
            assert not writes_server_status(rule), rule
    statuses = [r for r in roles[0]["rules"] if STATUS in r["resources"]]
    assert [r["verbs"] for r in statuses] == [["get"]]


def test_the_tenant_manifests_grant_no_status_write() -> None:
    roles = roles_in(ROOT / "manifests" / "tenant" / "rbac.yaml")
    assert roles
    for role in roles:
        for rule in role["rules"]:
            assert not writes_server_status(rule), (role["metadata"]["name"], rule)


def test_the_gateway_acting_for_tenants_cannot_write_status_either() -> None:
    roles = roles_in(ROOT / "manifests" / "base" / "gateway" / "rbac.yaml")
    assert any(r["metadata"]["name"] == "craftplane-gateway-tenant" for r in roles)
    for role in roles:
        for rule in role["rules"]:
            assert not writes_server_status(rule), (role["metadata"]["name"], rule)
