"""One definition of ready for both sides of the operator and scale benchmarks.

Both time each server to its pod's Ready condition, seen through a watch of the namespace's
pods: the baseline no longer waits for the StatefulSet's status.readyReplicas, which
kube-controller-manager writes at its own client rate, while the operator counts a server
Running from its pod's Ready condition. The platform's own `Running` (the CR's status, then the
database and the WebSocket in `scale`) is reported beside it, after the pod was Ready.

Also what the figures depend on, printed with them: the control plane's client limits (shared
by both sides) and the host's load.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from types import TracebackType

from craftplane.contracts.names import KIND, LABEL_SERVER
from craftplane.kube import KubeClient, Obj
from craftplane.sandbox import cluster, kwokconfig
from craftplane.sandbox.config import SandboxConfig
from craftplane.watch import ListWatch

READY_SIGNAL = (
    "ready = the server pod's Ready condition, seen by a watch of the namespace's pods "
    "(the same signal for baseline and platform)"
)


def _condition_true(obj: Obj, kind: str) -> bool:
    conditions = (obj.get("status") or {}).get("conditions") or []
    return any(c.get("type") == kind and c.get("status") == "True" for c in conditions)


def ready_server(pod: Obj) -> str | None:
    """The server whose pod this is, when that pod is Ready and not on its way out."""
    meta = pod.get("metadata") or {}
    server = (meta.get("labels") or {}).get(LABEL_SERVER)
    if not server or meta.get("deletionTimestamp") or not _condition_true(pod, "Ready"):
        return None
    return str(server)


def running_server(body: Obj) -> str | None:
    """The MinecraftServer's name when its status says Running."""
    if (body.get("status") or {}).get("phase") != "Running":
        return None
    return str((body.get("metadata") or {}).get("name"))


class FirstSeen:
    """When each server first met ``judge`` (which names the server an object shows in that
    state, or None), watched in one namespace with a client of its own: the watch's requests
    are not counted as the measured side's."""

    def __init__(
        self,
        kind: str,
        namespace: str,
        judge: Callable[[Obj], str | None],
        *,
        label_selector: str = "",
        clock: Callable[[], float] = time.time,
        connect: Callable[[], Awaitable[KubeClient]] = KubeClient.connect,
    ) -> None:
        self.kind, self.namespace, self.judge = kind, namespace, judge
        self.selector = label_selector
        self.clock = clock
        self._connect = connect
        self.seen: dict[str, float] = {}
        self._kube: KubeClient | None = None
        self._watch: ListWatch | None = None

    def observe(self, obj: Obj) -> None:
        name = self.judge(obj)
        if name is not None and name not in self.seen:
            self.seen[name] = self.clock()

    def _on_list(self, items: list[Obj]) -> None:
        for item in items:
            self.observe(item)

    def _on_change(self, kind: str, obj: Obj) -> None:
        if kind != "DELETED":
            self.observe(obj)

    async def __aenter__(self) -> FirstSeen:
        self._kube = await self._connect()
        self._watch = ListWatch(
            self._kube,
            self.kind,
            namespace=self.namespace,
            label_selector=self.selector,
            on_list=self._on_list,
            on_change=self._on_change,
        )
        self._watch.start()
        await asyncio.wait_for(self._watch.listed.wait(), timeout=60)
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._watch is not None:
            await self._watch.stop()
        if self._kube is not None:
            await self._kube.close()

    async def wait(
        self, total: int, what: str, timeout: float, check: Callable[[], None] | None = None
    ) -> None:
        """Until ``total`` servers were seen; ``check`` may end the run (a process died)."""
        started = time.monotonic()
        last_print = started
        while len(self.seen) < total:
            now = time.monotonic()
            if now - last_print > 5:
                print(f"  {what}: {len(self.seen)}/{total} after {now - started:.0f}s", flush=True)
                last_print = now
            if now - started > timeout:
                raise SystemExit(f"{what}: only {len(self.seen)}/{total} within {timeout:.0f}s")
            if check is not None:
                check()
            await asyncio.sleep(0.2)


def pods_ready(namespace: str) -> FirstSeen:
    """When each server's pod in ``namespace`` first was Ready."""
    return FirstSeen("Pod", namespace, ready_server, label_selector=LABEL_SERVER)


def servers_running(namespace: str) -> FirstSeen:
    """When each MinecraftServer in ``namespace`` first said Running."""
    return FirstSeen(KIND, namespace, running_server)


def describe_limits(recorded: dict[str, dict[str, str]]) -> str:
    """The client limits each client-limited component runs with, as a benchmark prints them."""
    parts = []
    for name in kwokconfig.CLIENT_LIMITED:
        values = recorded.get(name, {})
        default = kwokconfig.UPSTREAM_LIMITS[name]
        shown = [
            values[flag] if flag in values else f"{default[flag]} (its default)"
            for flag in kwokconfig.CLIENT_FLAGS
        ]
        parts.append(f"{name} QPS {shown[0]} burst {shown[1]}")
    return (
        "control plane API clients, shared by baseline and platform: "
        + "; ".join(parts)
        + " (CRAFTPLANE_KUBE_API_QPS / CRAFTPLANE_KUBE_API_BURST)"
    )


def control_plane_limits(cfg: SandboxConfig) -> str:
    """What the running control plane was started with (kwokctl's record of it)."""
    return describe_limits(kwokconfig.recorded_client_limits(cluster.cluster_dir(cfg)))


def spread(first: dict[str, float], then: dict[str, float]) -> list[float]:
    """Per server seen in both, how long after ``first`` it reached ``then``."""
    return [then[name] - at for name, at in first.items() if name in then]
