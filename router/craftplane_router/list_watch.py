"""One kind, cluster-wide, kept in step through the Kubernetes API: list, then watch from the
list's resourceVersion; an expired version (410 Gone) lists again. What it sees goes to two
callbacks: ``on_list`` with every object after each list, ``on_change`` with each event.

The same list-then-watch shape as the gateway's backup watch (rooms do not import each other);
``craftplane.kube`` has no watch of its own to reuse.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Final

from craftplane import logs
from craftplane.kube import KubeClient, KubeError, Obj, path_for
from craftplane.supervise import Backoff, Supervised
from craftplane_router.watch_events import GONE, parse_line

log = logs.get_logger(__name__)

# The API server ends a watch after this; it is opened again from the last version seen.
WATCH_SECONDS: Final = 300

OnList = Callable[[list[Obj]], None]
OnChange = Callable[[str, Obj], None]


class ListWatch:
    def __init__(
        self,
        kube: KubeClient,
        kind: str,
        *,
        on_list: OnList,
        on_change: OnChange,
        label_selector: str = "",
        retry_after: float = 1.0,
    ) -> None:
        self._kube = kube
        self._kind = kind
        self._on_list = on_list
        self._on_change = on_change
        self._selector = label_selector
        self._retry_after = retry_after
        self._loop: Supervised | None = None
        self.listed = asyncio.Event()
        self.lists = 0

    def start(self) -> None:
        self._loop = Supervised(self._run, name=f"watch {self._kind}", log=log)

    async def stop(self) -> None:
        if self._loop is not None:
            await self._loop.stop()

    async def _run(self) -> None:
        backoff = Backoff(initial=self._retry_after, maximum=30.0, jitter=0.2)
        while True:
            try:
                version = await self._list()
                await self._follow(version)
                backoff.reset()
            except (KubeError, ValueError) as exc:
                delay = backoff.failed()
                # Refused (RBAC, a missing CRD) is a deployment problem; the rest is routine.
                refused = isinstance(exc, KubeError) and 400 <= exc.status < 500
                log.log(
                    logging.WARNING if refused else logging.INFO,
                    "watching %s failed (%s); again in %.1fs",
                    self._kind,
                    exc,
                    delay,
                    extra={"kind": self._kind},
                )
                await asyncio.sleep(delay)

    def _params(self) -> dict[str, str]:
        return {"labelSelector": self._selector} if self._selector else {}

    async def _list(self) -> str:
        listing = await self._kube.request("GET", path_for(self._kind), params=self._params())
        items = [item for item in listing.get("items") or [] if isinstance(item, dict)]
        self._on_list(items)
        self.lists += 1
        self.listed.set()
        return str((listing.get("metadata") or {}).get("resourceVersion") or "")

    async def _follow(self, version: str) -> None:
        """Follow the watch from ``version`` until it expires (returns: list again)."""
        while True:
            params = {
                **self._params(),
                "watch": "true",
                "allowWatchBookmarks": "true",
                "timeoutSeconds": str(WATCH_SECONDS),
            }
            if version:
                params["resourceVersion"] = version
            try:
                async with self._kube.open_lines(
                    path_for(self._kind), params, read_timeout=WATCH_SECONDS + 30
                ) as lines:
                    async for line in lines:
                        event = parse_line(line)
                        if event.type == "ERROR":
                            if event.code == GONE:
                                return
                            raise KubeError(event.code, event.message, event.object)
                        version = event.version or version
                        if event.type != "BOOKMARK":
                            self._on_change(event.type, event.object)
            except KubeError as exc:
                if exc.status == GONE:
                    return
                raise
