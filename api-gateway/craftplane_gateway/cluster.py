"""The gateway's only writes: MinecraftServer CRs in a tenant's namespace. Plus the reads that
drift reconciliation and the NATS-down fallback compare the projection with."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from craftplane.contracts.names import API_VERSION, KIND, TENANT_LABEL
from craftplane.kube import KubeClient, Obj
from craftplane_gateway.db.models import ClusterServer

FIELD_MANAGER = "craftplane-gateway"


def cr_body(name: str, namespace: str, spec: Mapping[str, Any], tenant: str) -> Obj:
    return {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": {TENANT_LABEL: tenant, "app.kubernetes.io/created-by": FIELD_MANAGER},
        },
        "spec": dict(spec),
    }


async def tenant_namespaces(kube: KubeClient) -> dict[str, str]:
    """namespace -> tenant for every namespace labelled as a tenant's."""
    items = await kube.list_objects("Namespace", label_selector=TENANT_LABEL)
    return {ns["metadata"]["name"]: ns["metadata"]["labels"][TENANT_LABEL] for ns in items}


async def cluster_servers(kube: KubeClient) -> tuple[list[ClusterServer], list[str]]:
    """Every tenant's MinecraftServers as the projection should see them, and the namespaces
    that were listed (a row there whose CR is absent has been deleted)."""
    tenants = await tenant_namespaces(kube)
    servers: list[ClusterServer] = []
    # One list per tenant namespace: the gateway's RBAC reaches MinecraftServers only there.
    for namespace, tenant in tenants.items():
        for body in await kube.list_objects(KIND, namespace):
            servers.append(ClusterServer.from_cr(body, tenant))
    return servers, list(tenants)
