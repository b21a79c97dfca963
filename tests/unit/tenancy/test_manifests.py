"""One tenant shape: the kustomize Component (manifests/tenant) renders exactly the objects
the planner makes for the default policy, so GitOps tenants and `craftplane tenant create`
tenants cannot drift apart.

`kubectl kustomize` needs no cluster; without a kubectl at all the comparison is skipped."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from craftplane import tenancy
from craftplane.sandbox.config import SandboxConfig

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[3]
MANIFESTS = ROOT / "manifests"


def _kubectl() -> str:
    bundled = SandboxConfig().bin_dir / "kubectl"
    found = str(bundled) if bundled.exists() else shutil.which("kubectl")
    if found is None:
        pytest.skip("no kubectl to run kustomize with (make bootstrap builds one)")
    return found


def _render(directory: Path) -> dict[tuple[str, str], dict[str, Any]]:
    out = subprocess.run(
        [_kubectl(), "kustomize", str(directory)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    docs = [doc for doc in yaml.safe_load_all(out) if doc]
    return {(doc["kind"], doc["metadata"]["name"]): doc for doc in docs}


def _default_policy() -> tuple[str, dict[str, Any]]:
    """The default policy as shipped (manifests/admission), read like the API's answer."""
    body = yaml.safe_load((MANIFESTS / "admission" / "default-policy.yaml").read_text())
    return body["metadata"]["name"], body


@pytest.mark.parametrize(
    ("directory", "tenant"),
    [("samples/tenant", "acme"), ("overlays/dev/tenant-demo", "demo")],
)
def test_the_component_renders_the_default_policy_plan(directory: str, tenant: str) -> None:
    name, body = _default_policy()
    planned = tenancy.plan(tenant, name, tenancy.parse_policy(body))
    expected = {(o["kind"], o["metadata"]["name"]): o for o in planned.objects()}
    rendered = _render(MANIFESTS / directory)
    assert sorted(rendered) == sorted(expected)
    for key, obj in expected.items():
        assert rendered[key] == obj, key
