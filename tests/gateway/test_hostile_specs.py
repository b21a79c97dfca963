"""A hostile tenant's specs through the REST API: each is a 422 naming the field and the
CraftplanePolicy rule (the admission policy's own answer), and nothing is created."""

from __future__ import annotations

import secrets

import httpx
import pytest

from craftplane.testing.hostile import HOSTILE_SPECS, Hostile
from craftplane.testing.kubectl import Kubectl
from tests.gateway.conftest import Tenant

pytestmark = pytest.mark.cluster


@pytest.mark.parametrize("hostile", HOSTILE_SPECS, ids=lambda h: h.id)
async def test_a_hostile_spec_is_refused_on_post(
    http: httpx.AsyncClient, tenant_a: Tenant, kubectl: Kubectl, hostile: Hostile
) -> None:
    name = f"h{secrets.token_hex(3)}"
    body = {"name": name, "spec": {"eula": True, **hostile.spec}}
    resp = await http.post("/api/v1/servers", headers=tenant_a.headers, json=body)
    assert resp.status_code == 422, resp.text
    problem = resp.json()
    errors = {e["field"]: e["message"] for e in problem["errors"]}
    assert hostile.field in errors, problem
    assert f"rule {hostile.rule}" in errors[hostile.field], problem
    assert kubectl.get("minecraftserver", name, tenant_a.namespace) is None


async def test_a_hostile_patch_is_refused_and_the_server_keeps_its_spec(
    http: httpx.AsyncClient, tenant_a: Tenant, kubectl: Kubectl
) -> None:
    body = {"name": "patched", "spec": {"eula": True}}
    assert (
        await http.post("/api/v1/servers", headers=tenant_a.headers, json=body)
    ).status_code == 202
    for hostile in HOSTILE_SPECS:
        resp = await http.patch(
            "/api/v1/servers/patched", headers=tenant_a.headers, json={"spec": hostile.spec}
        )
        assert resp.status_code == 422, (hostile.id, resp.text)
        assert hostile.field in {e["field"] for e in resp.json()["errors"]}, hostile.id
    cr = kubectl.get("minecraftserver", "patched", tenant_a.namespace) or {}
    assert cr["spec"]["service"]["type"] == "ClusterIP"
    assert cr["spec"]["image"].startswith("itzg/minecraft-server:")
    # A change the policy allows still goes through.
    resp = await http.patch(
        "/api/v1/servers/patched", headers=tenant_a.headers, json={"spec": {"stopped": True}}
    )
    assert resp.status_code == 202, resp.text
