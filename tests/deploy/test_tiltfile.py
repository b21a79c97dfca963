"""The Tiltfile, evaluated by a real Tilt (`tilt alpha tiltfile-result`), checked against the repo.

Tilt is built from source by hack/install-tilt.sh (no release binary can be downloaded here); the
test is skipped, saying so, where it has not been built. Evaluation needs no Docker: it reads the
Dockerfiles and runs `kubectl kustomize`, and only checks that the context is a local cluster, so
the session cluster's kubeconfig is given a kind-style context name.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from craftplane.testing.kubectl import Kubectl
from tests.deploy.conftest import MANIFESTS, ROOT, WORKLOAD_KINDS, render

pytestmark = pytest.mark.cluster

SITE_PACKAGES = "/opt/venv/lib/python3.11/site-packages"
IMAGES = {
    "craftplane-operator": ("ghcr.io/craftplane/operator", "docker/operator.Dockerfile"),
    "craftplane-gateway": ("ghcr.io/craftplane/gateway", "docker/gateway.Dockerfile"),
}
# Paths that belong to the dashboard (issue 5): checked once dashboard/ exists.
DASHBOARD = ROOT / "dashboard"


def tilt_binary() -> str | None:
    candidates = [
        os.environ.get("TILT"),
        str(Path.home() / ".cache" / "craftplane" / "tools" / "tilt"),
        shutil.which("tilt"),
    ]
    return next((c for c in candidates if c and Path(c).is_file()), None)


@pytest.fixture(scope="module")
def result(kubectl: Kubectl, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    tilt = tilt_binary()
    if tilt is None:
        pytest.skip("no tilt binary: run hack/install-tilt.sh (builds Tilt from source)")
    kubeconfig = tmp_path_factory.mktemp("tilt") / "kubeconfig"
    shutil.copy(kubectl.kubeconfig, kubeconfig)
    local = Kubectl(kubeconfig, kubectl.binary)
    current = local.run("config", "current-context").stdout.strip()
    local.run("config", "rename-context", current, "kind-craftplane")
    kubectl_dir = str(Path(shutil.which(kubectl.binary) or kubectl.binary).resolve().parent)
    env = {
        **os.environ,
        "KUBECONFIG": str(kubeconfig),
        "PATH": f"{kubectl_dir}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    done = subprocess.run(
        [tilt, "alpha", "tiltfile-result", "--file", str(ROOT / "Tiltfile")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    yield json.loads(done.stdout)


def manifests(result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {m["Name"]: m for m in result["Manifests"]}


def deployed(manifest: dict[str, Any]) -> set[tuple[str, str | None, str]]:
    target = manifest.get("DeployTarget") or {}
    if "yaml" not in target:
        return set()
    return {
        (doc["kind"], doc["metadata"].get("namespace"), doc["metadata"]["name"])
        for doc in yaml.safe_load_all(target["yaml"])
        if doc
    }


def test_tiltfile_evaluates(result: dict[str, Any]) -> None:
    assert result["Error"] is None
    assert set(manifests(result)) == {
        "uncategorized",
        "crds",
        "nats",
        "postgres",
        "craftplane-operator",
        "craftplane-gateway",
        "craftplane-router",
        "dashboard-dev",
    }


def test_every_object_of_the_dev_overlay_is_deployed_once(
    result: dict[str, Any], kubectl: Kubectl
) -> None:
    expected = [
        (o["kind"], o["metadata"].get("namespace"), o["metadata"]["name"])
        for o in render(kubectl, MANIFESTS / "overlays" / "dev")
    ]
    found = [key for m in manifests(result).values() for key in deployed(m)]
    assert sorted(found, key=str) == sorted(expected, key=str)
    by_resource = {name: deployed(m) for name, m in manifests(result).items()}
    assert by_resource["crds"] == {
        ("CustomResourceDefinition", None, "minecraftservers.craftplane.io")
    }
    for name in (
        "nats",
        "postgres",
        "craftplane-operator",
        "craftplane-gateway",
        "craftplane-router",
    ):
        kinds = {kind for kind, _, obj in by_resource[name] if obj == name}
        assert kinds & set(WORKLOAD_KINDS), name


def test_resource_order(result: dict[str, Any]) -> None:
    deps = {name: set(m.get("ResourceDependencies") or []) for name, m in manifests(result).items()}
    assert deps["craftplane-operator"] >= {"crds", "nats"}
    assert deps["craftplane-gateway"] >= {"crds", "nats", "postgres"}
    assert deps["dashboard-dev"] == {"craftplane-gateway"}


def test_images_build_from_the_dockerfiles_with_live_update(result: dict[str, Any]) -> None:
    for name, (image, dockerfile) in IMAGES.items():
        (target,) = manifests(result)[name]["ImageTargets"]
        assert target["selector"] == image
        details = target["BuildDetails"]
        assert Path(details["context"]) == ROOT
        assert details["target"] == "dev"
        assert details["dockerfileContents"] == (ROOT / dockerfile).read_text()
        assert "FROM base AS dev" in details["dockerfileContents"]
        spec = target["LiveUpdateSpec"]
        syncs = {s["localPath"]: s["containerPath"] for s in spec["syncs"]}
        assert syncs == {
            "src/craftplane": f"{SITE_PACKAGES}/craftplane",
            "operator/craftplane_operator": f"{SITE_PACKAGES}/craftplane_operator",
            "api-gateway/craftplane_gateway": f"{SITE_PACKAGES}/craftplane_gateway",
        }
        for local in [*syncs, *spec["stopPaths"]]:
            assert (Path(spec["basePath"]) / local).exists(), local
        command = target["overrideCommand"]["command"]
        assert command[0] == "watchfiles"
        assert name in command
        assert [c for c in command if c.startswith(SITE_PACKAGES)] == list(syncs.values())


def test_router_image_syncs_its_own_packages_and_forwards_the_game_port(
    result: dict[str, Any],
) -> None:
    router = manifests(result)["craftplane-router"]
    (target,) = router["ImageTargets"]
    assert target["selector"] == "ghcr.io/craftplane/router"
    details = target["BuildDetails"]
    assert details["target"] == "dev"
    assert details["dockerfileContents"] == (ROOT / "docker" / "router.Dockerfile").read_text()
    syncs = {s["localPath"]: s["containerPath"] for s in target["LiveUpdateSpec"]["syncs"]}
    assert syncs == {
        "src/craftplane": f"{SITE_PACKAGES}/craftplane",
        "router/craftplane_router": f"{SITE_PACKAGES}/craftplane_router",
    }
    forwards = router["DeployTarget"]["portForwardTemplateSpec"]["forwards"]
    assert (25565, 25565) in [(f["localPort"], f["containerPort"]) for f in forwards]


def test_gateway_is_forwarded(result: dict[str, Any]) -> None:
    target = manifests(result)["craftplane-gateway"]["DeployTarget"]
    forwards = target["portForwardTemplateSpec"]["forwards"]
    assert [(f["localPort"], f["containerPort"]) for f in forwards] == [(8080, 8080)]
    assert "http://localhost:8080/" in [
        f"{link['URL']['Scheme']}://{link['URL']['Host']}{link['URL']['Path']}"
        for link in target["Links"]
    ]


def test_files_the_tiltfile_reads_exist(result: dict[str, Any]) -> None:
    for path in result["ConfigFiles"]:
        if Path(path).name == ".tiltignore":
            continue  # optional; Tilt watches for it whether or not it exists
        assert Path(path).exists(), path
    assert str(MANIFESTS / "overlays" / "dev" / "kustomization.yaml") in result["ConfigFiles"]


def test_dashboard_paths_exist(result: dict[str, Any]) -> None:
    if not DASHBOARD.is_dir():
        pytest.skip("dashboard/ does not exist yet (issue 5)")
    target = manifests(result)["dashboard-dev"]["DeployTarget"]
    assert Path(target["UpdateCmdSpec"]["dir"]) == DASHBOARD
    for dep in target["Deps"]:
        assert Path(dep).exists(), dep
