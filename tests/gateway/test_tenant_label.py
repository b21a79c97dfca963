"""The gateway serves a token's tenant only where tenant-<x> is labelled craftplane.io/tenant=<x>:
a namespace of that name without the label (or none at all) answers 404 like a missing server,
and nothing is written there."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import httpx
import pytest

from craftplane import tokens
from craftplane.testing.kubectl import Kubectl
from craftplane.testing.processes import ManagedProcess
from craftplane.testing.wait import async_wait_for
from tests.gateway.conftest import Tenant

pytestmark = pytest.mark.cluster

SPEC = {"eula": True, "type": "PAPER", "version": "1.21.4"}


@pytest.fixture
def unlabelled(kubectl: Kubectl) -> Iterator[str]:
    """A tenant name whose namespace exists, made by someone else, without the tenant label."""
    tenant = f"nl{secrets.token_hex(3)}"
    namespace = tokens.namespace_for(tenant)
    kubectl.run("create", "namespace", namespace)
    yield tenant
    kubectl.run("delete", "namespace", namespace, "--wait=false", check=False)


def _headers(tenant: str, key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens.mint(tenant, key)}"}


async def test_a_namespace_without_the_tenant_label_is_404_and_untouched(
    http: httpx.AsyncClient,
    gateway: ManagedProcess,
    kubectl: Kubectl,
    token_key: str,
    tenant_a: Tenant,
    unlabelled: str,
) -> None:
    namespace = tokens.namespace_for(unlabelled)
    headers = _headers(unlabelled, token_key)

    listed = await http.get("/api/v1/servers", headers=headers)
    assert listed.status_code == 404, listed.text
    assert listed.headers["content-type"].startswith("application/problem+json")
    assert listed.json()["detail"] == "not found"

    created = await http.post(
        "/api/v1/servers", headers=headers, json={"name": "sneaky", "spec": SPEC}
    )
    assert created.status_code == 404, created.text
    assert created.json() == {**listed.json(), "instance": "/api/v1/servers"}
    assert kubectl.json("get", "minecraftservers", "-n", namespace)["items"] == []

    # A named route answers exactly as a real tenant's missing server does.
    mine = await http.get("/api/v1/servers/sneaky", headers=headers)
    missing = await http.get("/api/v1/servers/sneaky", headers=tenant_a.headers)
    assert mine.status_code == missing.status_code == 404
    assert mine.json() == missing.json()


async def test_a_tenant_with_no_namespace_at_all_is_404(
    http: httpx.AsyncClient, gateway: ManagedProcess, token_key: str
) -> None:
    headers = _headers(f"ghost{secrets.token_hex(3)}", token_key)
    assert (await http.get("/api/v1/servers", headers=headers)).status_code == 404
    posted = await http.post(
        "/api/v1/servers", headers=headers, json={"name": "sneaky", "spec": SPEC}
    )
    assert posted.status_code == 404


async def test_labelling_the_namespace_serves_the_tenant_within_seconds(
    http: httpx.AsyncClient,
    gateway: ManagedProcess,
    kubectl: Kubectl,
    token_key: str,
    unlabelled: str,
) -> None:
    headers = _headers(unlabelled, token_key)
    assert (await http.get("/api/v1/servers", headers=headers)).status_code == 404
    namespace = tokens.namespace_for(unlabelled)
    kubectl.run("label", "namespace", namespace, f"craftplane.io/tenant={unlabelled}")

    async def served() -> bool:
        return (await http.get("/api/v1/servers", headers=headers)).status_code == 200

    # A "no" is remembered for 5 s, then the label is read again.
    await async_wait_for(served, timeout=30, what="the labelled namespace served")
