"""The sandbox's demo tenant and the tests' tenants come from the same plan, applied with
kubectl (a fake one here, answering like the real one)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from craftplane import tenancy, tokens
from craftplane.contracts.policy import CraftplanePolicySpec
from craftplane.sandbox import apps, cluster, objectstore, repositories
from craftplane.sandbox.config import SandboxConfig
from craftplane.sandbox.errors import SandboxError
from craftplane.testing.kubectl import Kubectl
from craftplane.testing.plugin import make_tenant

pytestmark = pytest.mark.unit

KEY = "k" * 48


class FakeCluster:
    """kubectl's answers for the calls the tenant path makes."""

    def __init__(self, policies: dict[str, dict[str, Any]]) -> None:
        self.policies = policies
        self.applied: list[dict[str, Any]] = []
        # What the sandbox adds as a cluster admin would (the backup repository's Secret).
        self.admin_applied: list[dict[str, Any]] = []
        self.calls: list[tuple[str, ...]] = []

    def __call__(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        self.calls.append(args)
        if args[:2] == ("get", "craftplanepolicies.craftplane.io"):
            name = args[2]
            if name not in self.policies:
                return self._done(1, err=f'Error from server (NotFound): "{name}" not found')
            body = {"metadata": {"name": name}, "spec": self.policies[name]}
            return self._done(0, json.dumps(body))
        if args[:2] == ("apply", "--dry-run=server"):
            return self._done(0)  # make_tenant's wait for admission to see the namespace
        if args[0] == "apply" and "--field-manager=craftplane-sandbox" in args:
            assert "--server-side" in args
            self.admin_applied += [doc for doc in yaml.safe_load_all(stdin or "") if doc]
            return self._done(0)
        if args[0] == "apply":
            assert "--server-side" in args and "--field-manager=craftplane-tenancy" in args
            self.applied += [doc for doc in yaml.safe_load_all(stdin or "") if doc]
            return self._done(0)
        if args[:2] == ("get", "resourcequota"):
            quota = next(o for o in self.applied if o["kind"] == "ResourceQuota")
            return self._done(0, json.dumps({**quota, "status": {"hard": quota["spec"]["hard"]}}))
        raise AssertionError(f"unexpected kubectl {args}")

    @staticmethod
    def _done(code: int, out: str = "", err: str = "") -> subprocess.CompletedProcess[str]:
        return subprocess.CompletedProcess(["kubectl"], code, out, err)


class FakeKubectl(Kubectl):
    def __init__(self, fake: FakeCluster) -> None:
        super().__init__(Path("/nonexistent"))
        object.__setattr__(self, "fake", fake)

    def run(
        self, *args: str, stdin: str | None = None, check: bool = True, timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        result: subprocess.CompletedProcess[str] = self.fake(*args, stdin=stdin)  # type: ignore[attr-defined]
        return result


def test_make_tenant_applies_the_plan_of_its_policy() -> None:
    fake = FakeCluster({"default": {}, "roomy": {"quota": {"servers": 500}}})
    tenant = make_tenant(FakeKubectl(fake), KEY, "acme", policy="roomy")
    assert (tenant.name, tenant.namespace) == ("acme", "tenant-acme")
    assert tokens.verify(tenant.token, KEY).tenant == "acme"
    spec = CraftplanePolicySpec.model_validate({"quota": {"servers": 500}})
    assert fake.applied == tenancy.plan("acme", "roomy", spec).objects()


def test_make_tenant_defaults_to_the_default_policy() -> None:
    fake = FakeCluster({"default": {}})
    make_tenant(FakeKubectl(fake), KEY, "acme")
    assert fake.applied == tenancy.plan("acme", "default", CraftplanePolicySpec()).objects()
    assert fake.admin_applied == [], "no sandbox: the cluster admin provides the repository"


@pytest.fixture
def store(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, ...]]:
    """A running object store whose admin CLI says yes to everything."""
    calls: list[tuple[str, ...]] = []

    def admin(cfg: SandboxConfig, *args: str) -> Any:
        calls.append(args)
        return subprocess.CompletedProcess(args, 0, "", "")

    monkeypatch.setattr(objectstore, "running", lambda cfg: True)
    monkeypatch.setattr(objectstore, "admin", admin)
    return calls


def test_a_sandbox_test_tenant_gets_its_backup_repository(
    tmp_path: Path, store: list[tuple[str, ...]]
) -> None:
    fake = FakeCluster({"default": {}})
    cfg = SandboxConfig(state_dir=tmp_path)
    make_tenant(FakeKubectl(fake), KEY, "acme", sandbox=cfg)
    assert fake.applied == tenancy.plan("acme", "default", CraftplanePolicySpec()).objects()
    (secret,) = fake.admin_applied
    repo = repositories.load_or_create(cfg, "acme")
    assert secret == repositories.secret_object("tenant-acme", repo, objectstore.pod_endpoint(cfg))
    assert [call[0] for call in store] == ["create-user", "create-bucket"]


def test_a_missing_policy_stops_the_fixture_with_its_name() -> None:
    with pytest.raises(SandboxError, match="no CraftplanePolicy 'gold'; kubectl get cpp"):
        make_tenant(FakeKubectl(FakeCluster({})), KEY, "acme", policy="gold")


def test_reserved_names_are_refused_before_kubectl() -> None:
    fake = FakeCluster({"default": {}})
    with pytest.raises(SandboxError, match="reserved"):
        make_tenant(FakeKubectl(fake), KEY, "kube-system")
    assert fake.calls == []


def test_the_sandbox_tenant_is_the_same_plan(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, store: list[tuple[str, ...]]
) -> None:
    fake = FakeCluster({"default": {}})

    def kubectl(_: SandboxConfig, *args: str, stdin: str | None = None, timeout: float = 60) -> Any:
        return fake(*args, stdin=stdin)

    monkeypatch.setattr(cluster, "kubectl", kubectl)
    cfg = SandboxConfig(state_dir=tmp_path)
    assert apps.ensure_tenant(cfg, "demo") == "tenant-demo"
    assert fake.applied == tenancy.plan("demo", "default", CraftplanePolicySpec()).objects()
    # The demo tenant's repository: the same keys on every `up`.
    repo = repositories.load_or_create(cfg, "demo")
    assert fake.admin_applied == [
        repositories.secret_object("tenant-demo", repo, objectstore.pod_endpoint(cfg))
    ]
