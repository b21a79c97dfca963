"""Fixtures shared by every suite: a cluster, NATS with JetStream and PostgreSQL, isolated per test.

The cluster is the local sandbox by default. `--kubeconfig PATH` (or E2E_CLUSTER=existing with
KUBECONFIG) points the suites at any cluster; E2E_CLUSTER=kind uses pytest-kind where Docker runs.
"""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from craftplane.sandbox import cluster, nats_server, postgres, stack
from craftplane.sandbox.config import SandboxConfig
from craftplane.testing.kubectl import Kubectl
from craftplane.testing.platform import Platform
from craftplane.testing.wait import wait_for

ROOT = Path(__file__).resolve().parent

pytest_plugins = ["craftplane.testing.plugin"]


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--long", action="store_true", help="also run long benchmarks-like suites")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--long"):
        return
    skip = pytest.mark.skip(reason="long form: run with --long")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def sandbox_config() -> SandboxConfig:
    return SandboxConfig()


def _existing_kubeconfig(config: pytest.Config) -> Path | None:
    option = config.getoption("kubeconfig", default=None)
    if option:
        return Path(option)
    if os.environ.get("E2E_CLUSTER") == "existing":
        return Path(os.environ.get("KUBECONFIG", str(Path.home() / ".kube" / "config")))
    return None


@pytest.fixture(scope="session")
def platform(request: pytest.FixtureRequest, sandbox_config: SandboxConfig) -> Iterator[Platform]:
    cfg = sandbox_config
    mode = os.environ.get("E2E_CLUSTER", "sandbox")
    services = ("control-plane", "nats", "postgres", "objectstore")
    was_running = stack.status(cfg)
    started = not all(was_running[name].startswith("running") for name in services)
    existing = _existing_kubeconfig(request.config)
    kind_cluster = None
    if existing is not None:
        nats_server.start(cfg)
        postgres.start(cfg)
        kubeconfig, kubectl_binary = existing, shutil.which("kubectl") or "kubectl"
    elif mode == "kind":
        if shutil.which("docker") is None or os.system("docker info >/dev/null 2>&1") != 0:
            pytest.skip("E2E_CLUSTER=kind needs a running Docker engine")
        from pytest_kind import KindCluster

        kind_cluster = KindCluster("craftplane-e2e")
        kind_cluster.create()
        nats_server.start(cfg)
        postgres.start(cfg)
        kubeconfig, kubectl_binary = kind_cluster.kubeconfig_path, str(kind_cluster.kubectl_path)
    else:
        stack.up(cfg, only="services")
        kubeconfig, kubectl_binary = cfg.kubeconfig, str(cfg.bin_dir / "kubectl")
    try:
        yield Platform(
            kubeconfig=Path(kubeconfig),
            kubectl_binary=kubectl_binary,
            nats_url=os.environ.get("TEST_NATS_URL", cfg.nats_url),
            database_url=cfg.database_url,
            admin_database_url=cfg.admin_database_url,
            sandbox=cfg if existing is None and kind_cluster is None else None,
        )
    finally:
        if kind_cluster is not None:
            kind_cluster.delete()
        if started and not os.environ.get("CRAFTPLANE_KEEP_SANDBOX"):
            stack.down(cfg)


@pytest.fixture(scope="session")
def kubectl(platform: Platform) -> Kubectl:
    return Kubectl(platform.kubeconfig, platform.kubectl_binary)


def unique(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(3)}"


@pytest.fixture
def namespace(kubectl: Kubectl, request: pytest.FixtureRequest) -> Iterator[str]:
    """A namespace of the test's own, deleted (without waiting) afterwards."""
    base = request.node.name.lower().replace("_", "-")
    base = "".join(ch for ch in base if ch.isalnum() or ch == "-")[:40].strip("-")
    name = unique(f"t-{base}")
    kubectl.run("create", "namespace", name)
    # Pods are refused until the namespace's default ServiceAccount exists.
    wait_for(
        lambda: kubectl.get("serviceaccount", "default", name) is not None,
        timeout=30,
        what=f"default ServiceAccount in {name}",
    )
    yield name
    kubectl.run("delete", "namespace", name, "--wait=false", check=False)


@pytest.fixture
async def database(platform: Platform) -> AsyncIterator[str]:
    """A PostgreSQL database of the test's own; yields its DSN and drops it afterwards."""
    async with postgres.scratch_database(platform.admin_database_url, "t") as dsn:
        yield dsn


# The CRs too (apart: a cluster without the CRDs still shows its pods and events), so a failed
# backup or restore test shows their phases.
_NAMESPACE_KINDS = ("all,pvc,events", "mcs,minecraftbackups,minecraftrestores")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """A failed cluster test reports what the cluster looked like, so a CI log says why."""
    report: pytest.TestReport = yield
    if report.failed and call.when == "call":
        funcargs: dict[str, object] = getattr(item, "funcargs", {})
        kubectl, namespace = funcargs.get("kubectl"), funcargs.get("namespace")
        tenant_namespace = getattr(funcargs.get("real_tenant"), "namespace", None)
        if namespace is None and isinstance(tenant_namespace, str):
            namespace = tenant_namespace
        if isinstance(kubectl, Kubectl):
            sections = [("nodes and node leases", ("get", "nodes,leases", "-A", "-o", "wide"))]
            if isinstance(namespace, str):
                for kinds in _NAMESPACE_KINDS:
                    sections.append(
                        (f"namespace {namespace}", ("get", kinds, "-n", namespace, "-o", "wide"))
                    )
            for title, args in sections:
                shown = kubectl.run(*args, check=False)
                report.sections.append((f"cluster: {title}", shown.stdout + shown.stderr))
        for part in ("operator", "gateway"):
            section = _log_section(funcargs.get(part), namespace)
            if section is not None:
                report.sections.append((f"{part} log", section))
    return report


def _log_section(process: object, namespace: object) -> str | None:
    """The lines of a shared process's log that say why: those about the test's namespace and
    its warnings and errors (a stalled loop, a lost connection), the last 80."""
    log = getattr(process, "log_path", None)
    if not isinstance(log, Path) or not log.exists():
        return None
    lines = log.read_text(errors="replace").splitlines()
    if isinstance(namespace, str):
        lines = [
            line
            for line in lines
            if namespace in line or '"level":"warning"' in line or '"level":"error"' in line
        ]
    return "\n".join(lines[-80:])


@pytest.fixture
def subject_prefix() -> str:
    """A NATS subject prefix and stream name of the test's own."""
    return unique("t").replace("-", "")


__all__ = ["Platform", "cluster", "unique"]
