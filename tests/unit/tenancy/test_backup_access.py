"""What a tenant's namespace lets backups do: the tenant asks for backups and restores and
watches their Jobs, never reads the repository's Secret; only the operator's backup Jobs reach
the object store."""

from __future__ import annotations

from typing import Any

import pytest

from craftplane import tenancy, tenant_access
from craftplane.contracts.backup import BACKUP_COMPONENTS, LABEL_COMPONENT
from craftplane.contracts.policy import CraftplanePolicySpec

pytestmark = pytest.mark.unit

PLAN = tenancy.plan("acme", "default", CraftplanePolicySpec())


def _rules() -> list[dict[str, Any]]:
    (role,) = [o for o in PLAN.rbac if o["kind"] == "Role"]
    rules: list[dict[str, Any]] = role["rules"]
    return rules


def _verbs(group: str, resource: str) -> set[str]:
    return {
        verb
        for rule in _rules()
        if group in rule["apiGroups"] and resource in rule["resources"]
        for verb in rule["verbs"]
    }


def test_tenants_ask_for_backups_and_restores_and_read_their_status() -> None:
    assert _verbs("craftplane.io", "minecraftbackups") == {
        "get", "list", "watch", "create", "patch", "delete",
    }  # fmt: skip
    # A restore is not edited, only asked for and withdrawn.
    assert _verbs("craftplane.io", "minecraftrestores") == {
        "get", "list", "watch", "create", "delete",
    }  # fmt: skip
    assert _verbs("craftplane.io", "minecraftbackups/status") == {"get"}
    assert _verbs("craftplane.io", "minecraftrestores/status") == {"get"}
    assert _verbs("craftplane.io", "minecraftbackups/finalizers") == set()


def test_tenants_watch_the_jobs_but_never_make_pods_jobs_or_read_secrets() -> None:
    assert _verbs("batch", "jobs") == {"get", "list", "watch"}
    assert _verbs("", "pods") == {"get", "list", "watch"}
    assert _verbs("batch", "cronjobs") == set()
    for rule in _rules():
        assert "secrets" not in rule["resources"] and "*" not in rule["resources"], rule
        assert "*" not in rule["verbs"], rule


def test_only_the_backup_jobs_reach_the_object_store() -> None:
    policies = {o["metadata"]["name"]: o["spec"] for o in PLAN.network_policies}
    spec = policies["allow-backup-egress"]
    assert spec["podSelector"] == {
        "matchExpressions": [
            {"key": LABEL_COMPONENT, "operator": "In", "values": list(BACKUP_COMPONENTS)}
        ]
    }
    assert spec["policyTypes"] == ["Egress"]
    (rule,) = spec["egress"]
    assert "to" not in rule, "the store may be anywhere: in the cluster or outside"
    assert {(p["protocol"], p["port"]) for p in rule["ports"]} == {
        ("TCP", port) for port in tenant_access.BACKUP_STORE_PORTS
    }
    assert set(tenant_access.BACKUP_STORE_PORTS) == {443, 80, 9000, 17070}
    # Nothing else opens those ports to the Jobs, and the servers' egress is unchanged.
    assert policies["allow-server-downloads"]["podSelector"] == {
        "matchLabels": {"app.kubernetes.io/name": "minecraft-server"}
    }


def test_the_repository_secret_fits_a_tenant_allowed_no_servers() -> None:
    hard = tenancy.quota_hard(CraftplanePolicySpec.model_validate({"quota": {"servers": 0}}))
    assert hard["secrets"] == "1"
