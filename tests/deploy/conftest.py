"""Rendering the kustomize manifests, and objects applied for real that a test must clean up."""

from __future__ import annotations

import contextlib
import os
import secrets
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from craftplane.testing.kubectl import Kubectl

ROOT = Path(__file__).resolve().parents[2]
MANIFESTS = ROOT / "manifests"
OVERLAYS = ("dev", "prod")
WORKLOAD_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob")
SYSTEM = "craftplane-system"
RBAC_KINDS = {"ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"}


def render(kubectl: Kubectl, directory: Path) -> list[dict[str, Any]]:
    """`kubectl kustomize` (the kustomize built into the kubectl users have)."""
    out = kubectl.run("kustomize", str(directory)).stdout
    return [doc for doc in yaml.safe_load_all(out) if doc]


def pod_template(obj: dict[str, Any]) -> dict[str, Any]:
    spec = obj["spec"]
    if obj["kind"] == "CronJob":
        spec = spec["jobTemplate"]["spec"]
    template: dict[str, Any] = spec["template"]
    return template


@contextlib.contextmanager
def tenant_kustomization(tenant: str) -> Iterator[Path]:
    """A tenant instance of the template (manifests/tenant) in a scratch directory."""
    with tempfile.TemporaryDirectory(prefix="craftplane-tenant-") as scratch:
        path = Path(scratch)
        component = os.path.relpath(MANIFESTS / "tenant", path)
        (path / "kustomization.yaml").write_text(
            yaml.safe_dump(
                {
                    "apiVersion": "kustomize.config.k8s.io/v1beta1",
                    "kind": "Kustomization",
                    "resources": ["tenant.yaml"],
                    "components": [component],
                }
            )
        )
        (path / "tenant.yaml").write_text(
            yaml.safe_dump(
                {
                    "apiVersion": "v1",
                    "kind": "ConfigMap",
                    "metadata": {
                        "name": "tenant",
                        "annotations": {"config.kubernetes.io/local-config": "true"},
                    },
                    "data": {"tenant": tenant},
                }
            )
        )
        yield path


@pytest.fixture(scope="module")
def rendered(kubectl: Kubectl) -> dict[str, list[dict[str, Any]]]:
    return {overlay: render(kubectl, MANIFESTS / "overlays" / overlay) for overlay in OVERLAYS}


def ensure_namespaces(kubectl: Kubectl, names: set[str]) -> list[str]:
    """Create the namespaces that do not exist yet; return those created (to delete after)."""
    created = []
    for name in sorted(names):
        if kubectl.get("namespace", name) is None:
            kubectl.run("create", "namespace", name)
            created.append(name)
    return created


def delete_namespaces(kubectl: Kubectl, names: list[str]) -> None:
    for name in names:
        kubectl.run("delete", "namespace", name, "--wait=false", "--ignore-not-found", check=False)


@dataclass(frozen=True)
class Installed:
    tenant_namespace: str
    other_namespace: str


@pytest.fixture(scope="package")
def installed(kubectl: Kubectl) -> Iterator[Installed]:
    base = [o for o in render(kubectl, MANIFESTS / "base") if o["kind"] in RBAC_KINDS]
    # Never remove what was there before this test (e.g. a platform installed in the cluster).
    fresh = [
        o
        for o in base
        if kubectl.get(o["kind"], o["metadata"]["name"], o["metadata"].get("namespace")) is None
    ]
    created_namespaces = ensure_namespaces(kubectl, {SYSTEM})
    tenant = f"rbac{secrets.token_hex(3)}"
    other = f"t-rbac-other-{secrets.token_hex(3)}"
    kubectl.run("create", "namespace", other)
    created_namespaces.append(other)
    try:
        kubectl.apply(yaml.safe_dump_all(base))
        with tenant_kustomization(tenant) as path:
            kubectl.run("apply", "-k", str(path))
        created_namespaces.append(f"tenant-{tenant}")
        # Something secret in each namespace, so "no" is about permission, not absence.
        for namespace in (SYSTEM, f"tenant-{tenant}", other):
            kubectl.run(
                "create", "secret", "generic", "rbac-probe", "-n", namespace, "--from-literal=k=v"
            )
        yield Installed(tenant_namespace=f"tenant-{tenant}", other_namespace=other)
    finally:
        kubectl.run(
            "delete", "secret", "rbac-probe", "-n", SYSTEM, "--ignore-not-found", check=False
        )
        if fresh:
            kubectl.run(
                "delete",
                "--ignore-not-found",
                "-f",
                "-",
                stdin=yaml.safe_dump_all(fresh),
                check=False,
            )
        delete_namespaces(kubectl, created_namespaces)
