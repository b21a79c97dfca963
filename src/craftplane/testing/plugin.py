"""Shared fixtures for every suite: an operator process of the session's own, NATS clients,
stream reading and manifests. Registered by the root conftest."""

from __future__ import annotations

import functools
import json
import os
import secrets
from collections.abc import AsyncIterator, Iterator
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

import httpx
import nats
import pytest
from nats.aio.client import Client

from craftplane import tokens
from craftplane.contracts import events as contract
from craftplane.contracts.admission import unknown_policy_binding
from craftplane.contracts.policy import DEFAULT_POLICY
from craftplane.sandbox import apps, node, postgres, repositories, tenants
from craftplane.sandbox.config import SandboxConfig
from craftplane.testing.admission import wait_admitted
from craftplane.testing.gateway import Tenant, gateway_process, unique_consumer
from craftplane.testing.kubectl import Kubectl
from craftplane.testing.platform import Platform
from craftplane.testing.policies import ROOMY_POLICY, ROOMY_QUOTA, ensure_policy
from craftplane.testing.processes import ManagedProcess, console_script, free_port

ROOT = Path(__file__).resolve().parents[3]
ARTIFACTS = ROOT / "test-artifacts"


def operator_process(platform: Platform, index: int, **overrides: str) -> ManagedProcess:
    port = free_port()
    env = {
        **os.environ,
        "KUBECONFIG": str(platform.kubeconfig),
        "NATS_URL": platform.nats_url,
        "CRAFTPLANE_OPERATOR_LEASE_NAMESPACE": apps.SYSTEM_NAMESPACE,
        "CRAFTPLANE_OPERATOR_HTTP_PORT": str(port),
        "CRAFTPLANE_OPERATOR_HTTP_HOST": "127.0.0.1",
        "CRAFTPLANE_OPERATOR_RESYNC_SECONDS": "10",
        "CRAFTPLANE_OPERATOR_PING_INTERVAL": "1",
        # An admin's policy edit is seen within this plus a resync, not the default 30 s.
        "CRAFTPLANE_OPERATOR_POLICY_CACHE_SECONDS": "2",
        # A test's new CraftplanePolicy may be named by a namespace within a second, not 15.
        "CRAFTPLANE_OPERATOR_POLICY_BINDING_SECONDS": "1",
        # spec.hibernation.afterEmptyMinutes counts seconds: a test's server sleeps in seconds.
        "CRAFTPLANE_OPERATOR_HIBERNATION_MINUTE_SECONDS": "1",
        # A day of spec.hibernation.archiveAfterDays: a test's sleeping server is archived soon.
        "CRAFTPLANE_OPERATOR_HIBERNATION_DAY_SECONDS": "15",
        "CRAFTPLANE_OPERATOR_IDENTITY": f"test-operator-{index}-{port}",
        # The sandbox's router settings: servers' status names their router hostname.
        **(apps.routing_env(platform.sandbox) if platform.sandbox else {}),
        **(node.operator_env(platform.sandbox) if platform.sandbox else {}),
        **overrides,
    }
    return ManagedProcess(
        name=f"operator-{index}",
        argv=[console_script("craftplane-operator")],
        env=env,
        log_path=ARTIFACTS / f"operator-{index}.log",
        http_port=port,
    )


@pytest.fixture(scope="session")
def crds_installed(platform: Platform, kubectl: Kubectl) -> None:
    if platform.sandbox is not None:
        # The sandbox's own operator would compete with the one under test.
        apps.down(platform.sandbox)
        apps.install_crds(platform.sandbox)
        # A just-started API server refuses every tenant write ("failed to configure policy")
        # until its informer for the policy kind is synced: no test may start before that.
        apps.wait_admission(
            platform.sandbox, apps.ensure_tenant(platform.sandbox, apps.DEMO_TENANT)
        )
    else:
        kubectl.run("apply", "--server-side", "-f", str(ROOT / "crds"))
        kubectl.run(
            "wait",
            "--for=condition=Established",
            "--timeout=60s",
            "crd/craftplanepolicies.craftplane.io",
        )
        # The admission policy and the default CraftplanePolicy, as the sandbox installs them:
        # tenants are planned from a policy, and their servers are admitted by it.
        kubectl.run(
            "apply",
            "--server-side",
            "--force-conflicts",
            "-f",
            str(ROOT / "manifests" / "admission"),
        )
        # As the operator's leader keeps it: the policies that exist now, not the checked-in
        # `default` alone (which would refuse other policies' tenants until its next pass).
        names = [p["metadata"]["name"] for p in kubectl.json("get", "craftplanepolicies")["items"]]
        kubectl.run(
            "apply", "--server-side", "--force-conflicts", "-f", "-",
            stdin=json.dumps(unknown_policy_binding(names)),
        )  # fmt: skip
        kubectl.run("create", "namespace", apps.SYSTEM_NAMESPACE, check=False)
    kubectl.run(
        "wait", "--for=condition=Established", "--timeout=60s", "crd/minecraftservers.craftplane.io"
    )


@pytest.fixture(scope="session")
def operator(platform: Platform, crds_installed: None) -> Iterator[ManagedProcess]:
    proc = operator_process(platform, 0).start()
    yield proc
    proc.terminate()


def revive(request: pytest.FixtureRequest, *fixtures: str) -> None:
    """Restart the named process fixtures this test uses that an earlier test killed."""
    for name in fixtures:
        if name in request.fixturenames:
            proc: ManagedProcess = request.getfixturevalue(name)
            if not proc.alive:
                proc.start()


@pytest.fixture(autouse=True)
def _processes_running(request: pytest.FixtureRequest) -> None:
    """A test that killed the operator or the gateway must not leave the next one without it."""
    revive(request, "operator", "gateway")


@pytest.fixture
async def nc(platform: Platform) -> AsyncIterator[Client]:
    client = await nats.connect(platform.nats_url)
    yield client
    await client.close()


async def stream_events(nc: Client, namespace: str) -> list[contract.Event]:
    """Every server event in the stream about servers in `namespace`, in stream order (sync
    requests, which are about no one server's state, are left out)."""
    js = nc.jetstream()
    info = await js.stream_info(contract.STREAM_NAME)
    if info.state.messages == 0:
        return []
    sub = await js.subscribe(
        f"{contract.SUBJECT_PREFIX}.>", stream=contract.STREAM_NAME, ordered_consumer=True
    )
    found: list[contract.Event] = []
    try:
        last = info.state.last_seq
        while True:
            msg = await sub.next_msg(timeout=5)
            try:
                event = contract.decode(msg.data)
            except contract.InvalidEvent:
                event = None  # garbage published on purpose by a fault test
            if isinstance(event, contract.Event) and event.server.namespace == namespace:
                found.append(event)
            if msg.metadata.sequence.stream >= last:
                break
    finally:
        await sub.unsubscribe()
    return found


def server_manifest(name: str, **spec: Any) -> str:
    import yaml

    body = {
        "apiVersion": "craftplane.io/v1alpha1",
        "kind": "MinecraftServer",
        "metadata": {"name": name},
        "spec": {"eula": True, "type": "PAPER", "version": "1.21.4", **spec},
    }
    return yaml.safe_dump(body)


# -- the gateway -------------------------------------------------------------------------


@pytest.fixture(scope="session")
def token_key() -> str:
    return tokens.generate_key()


def scratch_database(platform: Platform, prefix: str) -> AbstractAsyncContextManager[str]:
    return postgres.scratch_database(platform.admin_database_url, prefix)


@pytest.fixture(scope="session")
async def gateway_db(platform: Platform) -> AsyncIterator[str]:
    async with scratch_database(platform, "gw") as dsn:
        yield dsn


@pytest.fixture(scope="session")
def consumer() -> str:
    return unique_consumer()


@pytest.fixture(scope="session")
def gateway(
    platform: Platform, operator: ManagedProcess, gateway_db: str, token_key: str, consumer: str
) -> Iterator[ManagedProcess]:
    proc = gateway_process(
        platform, index=0, database_url=gateway_db, token_key=token_key, consumer=consumer
    ).start()
    yield proc
    proc.terminate()


@pytest.fixture(scope="session")
def roomy_policy(kubectl: Kubectl, crds_installed: None) -> str:
    """The name of the suites' roomy policy, applied (kept afterwards: other sessions on the
    same cluster may be using it)."""
    return ensure_policy(kubectl, ROOMY_POLICY, {"quota": ROOMY_QUOTA})


def make_tenant(
    kubectl: Kubectl,
    token_key: str,
    name: str,
    *,
    policy: str = DEFAULT_POLICY,
    sandbox: SandboxConfig | None = None,
) -> Tenant:
    """A tenant as the platform makes one (`craftplane tenant create`'s plan, on ``policy``,
    which must exist), and a token for it. In the sandbox, with its backup repository (the
    Secret craftplane-backups), as the sandbox's own tenants have it."""
    run = functools.partial(kubectl.run, check=False)
    planned = tenants.apply_tenant(run, name, policy)
    if sandbox is not None:
        repositories.ensure(sandbox, run, name, planned.namespace_name)
    # Admission learns of a new namespace and policy through informers (and the unknown-policy
    # binding through the operator's pass): a test's first write must not race them.
    wait_admitted(kubectl, planned.namespace_name, PROBE_SERVER)
    return Tenant(name, planned.namespace_name, tokens.mint(name, token_key))


PROBE_SERVER = (
    "apiVersion: craftplane.io/v1alpha1\nkind: MinecraftServer\n"
    "metadata: {name: admission-probe}\nspec: {eula: true}\n"
)


def drop_tenant(kubectl: Kubectl, tenant: Tenant, sandbox: SandboxConfig | None = None) -> None:
    """Delete a test's tenant, and in the sandbox its backup repository (the names are random:
    nothing would ever reopen it)."""
    kubectl.run("delete", "namespace", tenant.namespace, "--wait=false", check=False)
    if sandbox is not None:
        repositories.remove(sandbox, tenant.name)


@pytest.fixture
def tenant_a(
    platform: Platform, kubectl: Kubectl, token_key: str, roomy_policy: str
) -> Iterator[Tenant]:
    name = f"a{secrets.token_hex(3)}"
    tenant = make_tenant(kubectl, token_key, name, policy=roomy_policy, sandbox=platform.sandbox)
    yield tenant
    drop_tenant(kubectl, tenant, platform.sandbox)


@pytest.fixture
def tenant_b(
    platform: Platform, kubectl: Kubectl, token_key: str, roomy_policy: str
) -> Iterator[Tenant]:
    name = f"b{secrets.token_hex(3)}"
    tenant = make_tenant(kubectl, token_key, name, policy=roomy_policy, sandbox=platform.sandbox)
    yield tenant
    drop_tenant(kubectl, tenant, platform.sandbox)


@pytest.fixture
async def http(gateway: ManagedProcess) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{gateway.http_port}", timeout=15
    ) as client:
        yield client
