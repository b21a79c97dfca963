"""One kind kept in step through the Kubernetes API: list, then watch from the list's
resourceVersion; an expired version (410 Gone) lists again. What it sees goes to two
callbacks: ``on_list`` with every object after each list, ``on_change`` with each event.

Cluster-wide (the router's table) or in one namespace (the gateway's backup watches); what a
component does with the objects stays in the component.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from craftplane import logs
from craftplane.kube import KubeClient, KubeError, Obj, path_for
from craftplane.supervise import Backoff, Supervised

log = logs.get_logger(__name__)

GONE: Final = 410
# The API server ends a watch after this; it is opened again from the last version seen.
WATCH_SECONDS: Final = 300

OnList = Callable[[list[Obj]], None]
OnChange = Callable[[str, Obj], None]


@dataclass(frozen=True)
class WatchEvent:
    type: str  # ADDED, MODIFIED, DELETED, BOOKMARK or ERROR
    object: Obj

    @property
    def version(self) -> str:
        """The resourceVersion to resume from after this event ("" for an ERROR)."""
        if self.type == "ERROR":
            return ""
        version = (self.object.get("metadata") or {}).get("resourceVersion")
        return version if isinstance(version, str) else ""

    @property
    def code(self) -> int:
        """An ERROR's HTTP code (410: the version is too old, list again)."""
        code = self.object.get("code")
        return code if isinstance(code, int) else 0

    @property
    def message(self) -> str:
        return str(self.object.get("message") or self.object.get("reason") or "watch error")


def parse_line(line: str) -> WatchEvent:
    """One line of a watch; ValueError for a line that is not a watch event."""
    data = json.loads(line)
    if not isinstance(data, dict) or not isinstance(data.get("type"), str):
        raise ValueError("not a watch event")
    obj = data.get("object")
    if not isinstance(obj, dict):
        raise ValueError("a watch event without an object")
    return WatchEvent(data["type"], obj)


class ListWatch:
    """``run()`` lists and watches until cancelled, retrying failures with a backoff;
    ``start()`` runs it supervised. ``on_change`` is not called for bookmarks."""

    def __init__(
        self,
        kube: KubeClient,
        kind: str,
        *,
        on_list: OnList,
        on_change: OnChange,
        namespace: str | None = None,
        label_selector: str = "",
        retry_after: float = 1.0,
    ) -> None:
        self._kube = kube
        self._kind = kind
        self._path = path_for(kind, namespace)
        self._on_list = on_list
        self._on_change = on_change
        self._selector = label_selector
        self._retry_after = retry_after
        self._where = (
            {"kind": kind} if namespace is None else {"kind": kind, "namespace": namespace}
        )
        self._loop: Supervised | None = None
        self.listed = asyncio.Event()
        self.lists = 0

    def start(self) -> None:
        self._loop = Supervised(self.run, name=" ".join(["watch", *self._where.values()]), log=log)

    async def stop(self) -> None:
        if self._loop is not None:
            await self._loop.stop()

    async def run(self) -> None:
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
                    extra=self._where,
                )
                await asyncio.sleep(delay)

    def _params(self) -> dict[str, str]:
        return {"labelSelector": self._selector} if self._selector else {}

    async def _list(self) -> str:
        listing = await self._kube.request("GET", self._path, params=self._params())
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
                    self._path, params, read_timeout=WATCH_SECONDS + 30
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
