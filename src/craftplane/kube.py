"""A small JSON client for the Kubernetes API: plain dicts in and out, server-side apply.

Generated model classes are skipped on purpose: the builders speak JSON already, and
deserialising every watch and list into models costs more CPU than the reconcile itself.
Client errors are converted here, at one boundary, into KubeError with the HTTP status.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import AsyncIterator, Mapping
from typing import Any, Final

import aiohttp
from kubernetes_asyncio import client, config

Obj = dict[str, Any]

APPLY = "application/apply-patch+yaml"
MERGE = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"

# A log line longer than this is cut into pieces: one line never holds the whole stream.
MAX_LINE_BYTES: Final = 64 * 1024

_CORE = {
    "Secret": "secrets",
    "ConfigMap": "configmaps",
    "Service": "services",
    "Pod": "pods",
    "PersistentVolumeClaim": "persistentvolumeclaims",
    "Event": "events",
    "Namespace": "namespaces",
    "ResourceQuota": "resourcequotas",
    "LimitRange": "limitranges",
}
_GROUPED = {
    "StatefulSet": ("apps/v1", "statefulsets"),
    "Job": ("batch/v1", "jobs"),
    "Lease": ("coordination.k8s.io/v1", "leases"),
    "MinecraftServer": ("craftplane.io/v1alpha1", "minecraftservers"),
    "MinecraftBackup": ("craftplane.io/v1alpha1", "minecraftbackups"),
    "MinecraftRestore": ("craftplane.io/v1alpha1", "minecraftrestores"),
    # These two are cluster-scoped: always addressed with namespace None.
    "CraftplanePolicy": ("craftplane.io/v1alpha1", "craftplanepolicies"),
    "ValidatingAdmissionPolicyBinding": (
        "admissionregistration.k8s.io/v1",
        "validatingadmissionpolicybindings",
    ),
    "NetworkPolicy": ("networking.k8s.io/v1", "networkpolicies"),
    "Role": ("rbac.authorization.k8s.io/v1", "roles"),
    "RoleBinding": ("rbac.authorization.k8s.io/v1", "rolebindings"),
}


class KubeError(RuntimeError):
    def __init__(self, status: int, message: str, body: Obj | None = None) -> None:
        super().__init__(f"{status}: {message}")
        self.status = status
        self.body = body or {}

    @property
    def not_found(self) -> bool:
        return self.status == 404

    @property
    def conflict(self) -> bool:
        return self.status == 409


def path_for(kind: str, namespace: str | None = None, name: str | None = None) -> str:
    if kind in _CORE:
        base, plural = "/api/v1", _CORE[kind]
    else:
        group_version, plural = _GROUPED[kind]
        base = f"/apis/{group_version}"
    path = base
    if namespace is not None and kind != "Namespace":
        path += f"/namespaces/{namespace}"
    path += f"/{plural}"
    if name is not None:
        path += f"/{name}"
    return path


def pod_log_path(namespace: str, pod: str) -> str:
    return f"{path_for('Pod', namespace, pod)}/log"


class LineSplitter:
    """Bytes as they arrive -> whole lines (without their newline), UTF-8 decoded."""

    def __init__(self, max_bytes: int = MAX_LINE_BYTES) -> None:
        self._pending = bytearray()
        self._max = max_bytes

    def feed(self, chunk: bytes) -> list[str]:
        self._pending += chunk
        lines: list[str] = []
        while True:
            end = self._pending.find(b"\n")
            if end < 0:
                break
            lines.append(self._decode(self._pending[:end]))
            del self._pending[: end + 1]
        while len(self._pending) >= self._max:
            lines.append(self._decode(self._pending[: self._max]))
            del self._pending[: self._max]
        return lines

    def close(self) -> list[str]:
        """The last line when the stream did not end with a newline."""
        rest, self._pending = bytes(self._pending), bytearray()
        return [self._decode(rest)] if rest else []

    @staticmethod
    def _decode(raw: bytes | bytearray) -> str:
        return bytes(raw).decode("utf-8", errors="replace").removesuffix("\r")


async def _lines(resp: aiohttp.ClientResponse) -> AsyncIterator[str]:
    splitter = LineSplitter()
    async for chunk in resp.content.iter_any():
        for line in splitter.feed(chunk):
            yield line
    for line in splitter.close():
        yield line


def _error_of(status: int, text: str) -> KubeError:
    try:
        payload: Obj = json.loads(text) if text else {}
    except ValueError:
        payload = {"text": text}
    return KubeError(status, str(payload.get("message") or text[:300]), payload)


class KubeClient:
    """One aiohttp session to the API server, authenticated as kubeconfig or in-cluster says."""

    def __init__(self, api: client.ApiClient) -> None:
        self._api = api
        self._host = str(api.configuration.host).rstrip("/")
        self._proxy: str | None = api.configuration.proxy or None
        self._session: aiohttp.ClientSession | None = None
        self.requests = 0

    def _client_session(self) -> aiohttp.ClientSession:
        # kubernetes_asyncio's own session trusts the environment: every request then looks
        # up proxy variables and ~/.netrc in a worker thread, which profiling at a thousand
        # servers showed as over a tenth of the operator's CPU. The API server is reached
        # directly, or through the kubeconfig's proxy-url, with the same TLS connector.
        if self._session is None:
            shared: aiohttp.ClientSession = self._api.rest_client.pool_manager
            self._session = aiohttp.ClientSession(
                connector=shared.connector, connector_owner=False, trust_env=False
            )
        return self._session

    @classmethod
    async def connect(cls, pool_size: int = 32) -> KubeClient:
        cfg = client.Configuration()
        if os.environ.get("KUBERNETES_SERVICE_HOST") and not os.environ.get("KUBECONFIG"):
            config.load_incluster_config(client_configuration=cfg)  # type: ignore[no-untyped-call]
        else:
            # KUBECONFIG is read now, not when kubernetes_asyncio was imported.
            await config.load_kube_config(
                config_file=os.environ.get("KUBECONFIG"), client_configuration=cfg
            )
        cfg.connection_pool_maxsize = pool_size
        return cls(client.ApiClient(configuration=cfg))

    @property
    def host(self) -> str:
        """The API server's URL (what a command tells its user it talked to)."""
        return self._host

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
        await self._api.close()

    async def _headers(self, content_type: str | None) -> dict[str, str]:
        headers = {"Accept": "application/json"}
        if content_type:
            headers["Content-Type"] = content_type
        # Async because an in-cluster token is re-read from disk when it rotates.
        settings: dict[str, dict[str, Any]] = await self._api.configuration.auth_settings()
        for setting in settings.values():
            if setting.get("in") == "header" and setting.get("value"):
                headers[setting["key"]] = setting["value"]
        return headers

    async def request(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        params: Mapping[str, str] | None = None,
        content_type: str | None = None,
        timeout: float = 30,
    ) -> Obj:
        session = self._client_session()
        data = None if body is None else json.dumps(body, separators=(",", ":"))
        self.requests += 1
        try:
            async with session.request(
                method,
                self._host + path,
                proxy=self._proxy,
                params=dict(params or {}),
                data=data,
                headers=await self._headers(content_type or ("application/json" if data else None)),
                timeout=aiohttp.ClientTimeout(total=timeout),
            ) as resp:
                text = await resp.text()
                try:
                    payload: Obj = json.loads(text) if text else {}
                except ValueError:
                    payload = {"text": text}  # e.g. /readyz answers plain "ok"
                if resp.status >= 400:
                    raise KubeError(resp.status, str(payload.get("message") or text[:300]), payload)
                return payload
        except aiohttp.ClientError as exc:
            raise KubeError(0, f"API server unreachable: {exc}") from exc
        except TimeoutError as exc:
            raise KubeError(0, f"API server timed out on {method} {path}") from exc

    @contextlib.asynccontextmanager
    async def open_lines(
        self,
        path: str,
        params: Mapping[str, str] | None = None,
        *,
        connect_timeout: float = 30,
        read_timeout: float | None = None,
    ) -> AsyncIterator[AsyncIterator[str]]:
        """A streamed text response (the pod log API) as lines; KubeError when the API refuses
        it, raised on entering, before any line. Leaving closes the upstream connection.
        ``read_timeout`` None waits for lines forever (a followed log)."""
        session = self._client_session()
        self.requests += 1
        headers = await self._headers(None)
        headers["Accept"] = "*/*"
        timeout = aiohttp.ClientTimeout(total=None, connect=connect_timeout, sock_read=read_timeout)
        try:
            async with session.get(
                self._host + path,
                proxy=self._proxy,
                params=dict(params or {}),
                headers=headers,
                timeout=timeout,
            ) as resp:
                if resp.status >= 400:
                    raise _error_of(resp.status, await resp.text())
                yield _lines(resp)
        except aiohttp.ClientError as exc:
            raise KubeError(0, f"API server unreachable: {exc}") from exc
        except TimeoutError as exc:
            raise KubeError(0, f"API server timed out on GET {path}") from exc

    async def stream_lines(
        self, path: str, params: Mapping[str, str] | None = None
    ) -> AsyncIterator[str]:
        """The lines of a streamed text response, as they come; see :meth:`open_lines`."""
        async with self.open_lines(path, params) as lines:
            async for line in lines:
                yield line

    async def get(self, kind: str, namespace: str | None, name: str) -> Obj | None:
        try:
            return await self.request("GET", path_for(kind, namespace, name))
        except KubeError as exc:
            if exc.not_found:
                return None
            raise

    async def list_objects(
        self, kind: str, namespace: str | None = None, *, label_selector: str | None = None
    ) -> list[Obj]:
        params = {"labelSelector": label_selector} if label_selector else {}
        result = await self.request("GET", path_for(kind, namespace), params=params)
        items: list[Obj] = result.get("items", [])
        return items

    async def apply(self, obj: Obj, *, field_manager: str, force: bool = True) -> Obj:
        meta = obj["metadata"]
        return await self.request(
            "PATCH",
            path_for(obj["kind"], meta.get("namespace"), meta["name"]),
            body=obj,
            params={"fieldManager": field_manager, "force": "true" if force else "false"},
            content_type=APPLY,
        )

    async def merge_patch(
        self, kind: str, namespace: str | None, name: str, patch: Obj, *, subresource: str = ""
    ) -> Obj:
        path = path_for(kind, namespace, name) + (f"/{subresource}" if subresource else "")
        return await self.request("PATCH", path, body=patch, content_type=MERGE)

    async def json_patch(self, kind: str, namespace: str | None, name: str, ops: list[Obj]) -> Obj:
        return await self.request(
            "PATCH", path_for(kind, namespace, name), body=ops, content_type=JSON_PATCH
        )

    async def create(self, obj: Obj) -> Obj:
        meta = obj["metadata"]
        return await self.request("POST", path_for(obj["kind"], meta.get("namespace")), body=obj)

    async def replace(self, obj: Obj) -> Obj:
        meta = obj["metadata"]
        return await self.request(
            "PUT", path_for(obj["kind"], meta.get("namespace"), meta["name"]), body=obj
        )

    async def pod_log_tail(
        self, namespace: str, pod: str, *, lines: int, container: str | None = None
    ) -> list[str]:
        """The last `lines` lines of a pod's log (not followed); KubeError when refused."""
        params = {"tailLines": str(lines)}
        if container:
            params["container"] = container
        path = pod_log_path(namespace, pod)
        async with self.open_lines(path, params, read_timeout=30) as stream:
            return [line async for line in stream]

    async def delete(
        self, kind: str, namespace: str | None, name: str, *, propagation: str | None = None
    ) -> bool:
        """Delete an object; False when it was already gone. `propagation` (Background,
        Foreground, Orphan) says what happens to its dependents: a Job deleted without it
        leaves its pods behind."""
        body = {"propagationPolicy": propagation} if propagation else None
        try:
            await self.request("DELETE", path_for(kind, namespace, name), body=body)
        except KubeError as exc:
            if exc.not_found:
                return False
            raise
        return True
