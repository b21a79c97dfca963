"""Fakes shared by the gateway's unit tests."""

from __future__ import annotations

from typing import Any

from craftplane.contracts.names import TENANT_LABEL
from craftplane.kube import KubeError

NAMESPACES = "/api/v1/namespaces/"


class FakeNamespaces:
    """The part of KubeClient the tenant check uses: GET of one namespace, from a dict."""

    def __init__(self, labels: dict[str, dict[str, str]] | None = None) -> None:
        self.labels = dict(labels or {})
        self.reads: list[str] = []
        self.failure: KubeError | None = None

    def tenant(self, tenant: str) -> FakeNamespaces:
        """Add tenant-<tenant>, labelled as the tenant's."""
        self.labels[f"tenant-{tenant}"] = {TENANT_LABEL: tenant}
        return self

    async def request(self, method: str, path: str, **_: Any) -> dict[str, Any]:
        assert method == "GET" and path.startswith(NAMESPACES), (method, path)
        name = path.removeprefix(NAMESPACES)
        self.reads.append(name)
        if self.failure is not None:
            raise self.failure
        if name not in self.labels:
            raise KubeError(404, f'namespaces "{name}" not found')
        return {"metadata": {"name": name, "labels": self.labels[name]}}
