"""`craftplane tenant create | sync`: output, one-line errors and exit codes, on a fake cluster."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes_asyncio.config import ConfigException

from craftplane import cli, tenant_cli
from craftplane.kube import KubeError
from tests.unit.tenancy.fakes import FakeKube, namespace, policy

pytestmark = pytest.mark.unit


@pytest.fixture
def kube(monkeypatch: pytest.MonkeyPatch) -> FakeKube:
    fake = FakeKube(policy("default"), policy("one", quota={"servers": 1}))

    class Client:
        @classmethod
        async def connect(cls) -> FakeKube:
            return fake

    monkeypatch.setattr(tenant_cli, "KubeClient", Client)
    return fake


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(["tenant", *argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_create_prints_what_it_applied(kube: FakeKube, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(capsys, "create", "acme", "--policy", "one")
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[0] == "namespace/tenant-acme created"
    assert "resourcequota/tenant-quota created" in lines
    assert "networkpolicy/default-deny created" in lines
    assert lines[-1].startswith("tenant acme: namespace tenant-acme on https://fake.example")
    assert "policy one (1 servers" in lines[-1]
    assert kube.closed
    code, out, _ = _run(capsys, "create", "acme", "--policy", "one")
    assert code == 0 and "resourcequota/tenant-quota unchanged" in out


def test_dry_run_prints_yaml_and_applies_nothing(
    kube: FakeKube, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = _run(capsys, "create", "acme", "--dry-run")
    assert code == 0 and kube.applied == []
    docs = list(yaml.safe_load_all(out))
    assert docs[0]["kind"] == "Namespace"
    assert docs[0]["metadata"]["labels"]["craftplane.io/policy"] == "default"
    assert {d["kind"] for d in docs} == {
        "Namespace", "ResourceQuota", "LimitRange", "NetworkPolicy", "Role", "RoleBinding",
    }  # fmt: skip


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["create", "gold-tenant", "--policy", "gold"],
            "no CraftplanePolicy 'gold'; kubectl get cpp",
        ),
        (["create", "kube-system"], "reserved"),
        (["create", "default"], "reserved"),
        (["create", "Acme"], "not a valid tenant name"),
        (["create", "acme", "--policy", "Gold"], "CraftplanePolicy name"),
    ],
)
def test_refusals_are_one_line_and_exit_2(
    kube: FakeKube, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    code, out, err = _run(capsys, *argv)
    assert code == 2 and out == "" and kube.applied == []
    assert err.count("\n") == 1 and err.startswith("craftplane: error: ") and message in err


def test_a_namespace_of_someone_else_is_refused(
    kube: FakeKube, capsys: pytest.CaptureFixture[str]
) -> None:
    kube.put(namespace("tenant-acme"))
    code, _, err = _run(capsys, "create", "acme")
    assert code == 2 and "not labelled craftplane.io/tenant=acme" in err and kube.applied == []


def test_no_cluster_is_exit_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    class Client:
        @classmethod
        async def connect(cls) -> Any:
            raise ConfigException("Invalid kube-config file. No configuration found.")

    monkeypatch.setattr(tenant_cli, "KubeClient", Client)
    code, _, err = _run(capsys, "create", "acme")
    assert code == 2 and err.startswith("craftplane: error: no cluster to talk to")


@pytest.mark.parametrize("content", ["", "{{{", "apiVersion: v1\nclusters: 7\n"])
def test_a_broken_kubeconfig_is_exit_2_not_a_traceback(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    content: str,
) -> None:
    config = tmp_path / "kubeconfig"
    config.write_text(content)
    monkeypatch.setenv("KUBECONFIG", str(config))
    code, _, err = _run(capsys, "create", "acme")
    assert code == 2 and err.startswith("craftplane: error: no cluster to talk to"), err


def test_an_unreachable_cluster_is_exit_2(
    kube: FakeKube, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    async def unreachable(*_: Any) -> None:
        raise KubeError(0, "API server unreachable: connection refused")

    monkeypatch.setattr(kube, "get", unreachable)
    code, _, err = _run(capsys, "create", "acme")
    assert code == 2 and "could not read the cluster" in err and err.count("\n") == 1


def test_a_refusal_part_way_is_exit_1(kube: FakeKube, capsys: pytest.CaptureFixture[str]) -> None:
    kube.refuse_apply_at = 3
    code, out, err = _run(capsys, "create", "acme")
    assert code == 1 and len(out.splitlines()) == 3
    assert "applied 3 of 14 objects, then: 403" in err and err.count("\n") == 1


def test_a_refusal_of_the_first_object_is_exit_2(
    kube: FakeKube, capsys: pytest.CaptureFixture[str]
) -> None:
    kube.refuse_apply_at = 0
    code, out, err = _run(capsys, "create", "acme")
    assert (code, out) == (2, "") and "applied 0 of 14 objects" in err


def test_sync_exit_codes(kube: FakeKube, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "sync")
    assert code == 0 and out.startswith("no tenant namespaces to sync")
    assert _run(capsys, "create", "acme", "--policy", "one")[0] == 0
    code, out, err = _run(capsys, "sync")
    assert (code, err) == (0, "")
    assert out == (
        "tenant-acme (policy one): resourcequota/tenant-quota unchanged, "
        "limitrange/tenant-limits unchanged\n"
    )
    kube.put(namespace("tenant-gone", **{"craftplane.io/tenant": "gone",
                                         "craftplane.io/policy": "removed"}))  # fmt: skip
    code, out, err = _run(capsys, "sync")
    assert code == 1 and "tenant-acme (policy one)" in out
    assert err == "craftplane: error: tenant-gone: no CraftplanePolicy 'removed'; kubectl get cpp\n"


def test_sync_of_named_tenants(kube: FakeKube, capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(capsys, "create", "acme")[0] == 0
    code, out, err = _run(capsys, "sync", "acme", "--policy", "default")
    assert (code, err) == (0, "") and out.startswith("tenant-acme (policy default): ")
    code, out, err = _run(capsys, "sync", "acme", "bolt")
    assert code == 1 and err == "craftplane: error: tenant-bolt: no tenant namespace\n"
    assert _run(capsys, "sync", "kube-system")[0] == 2
    assert _run(capsys, "sync", "--policy", "Gold")[0] == 2


def test_help_documents_the_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (
        ["tenant", "--help"],
        ["tenant", "create", "--help"],
        ["tenant", "sync", "--help"],
    ):
        with pytest.raises(SystemExit) as done:
            cli.main(argv)
        assert done.value.code == 0
        text = capsys.readouterr().out
        assert "exit codes:" in text and "no such CraftplanePolicy" in text
