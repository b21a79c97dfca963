"""A fake Kubernetes API for the list+watch loop (``craftplane.watch``) and what is built on
it: the router's table source, the gateway's backup watches."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

from craftplane.kube import KubeError


def line(kind: str, obj: dict[str, Any]) -> str:
    """One watch line: an event of type ``kind`` carrying ``obj``."""
    return json.dumps({"type": kind, "object": obj})


class WatchedApi:
    """Lists from ``listings`` (path -> objects and a version); each watch opened plays the
    next session pushed for its path (lines, then the API server ends it; or an exception),
    waiting while there is none. ``refuse_lists`` makes that many lists fail first."""

    def __init__(self) -> None:
        self.listings: dict[str, tuple[list[dict[str, Any]], str]] = {}
        self.sessions: dict[str, asyncio.Queue[list[str] | Exception]] = {}
        self.lists: list[tuple[str, dict[str, str]]] = []
        self.opened: list[tuple[str, dict[str, str]]] = []
        self.refuse_lists = 0

    def push(self, path: str, session: list[str] | Exception) -> None:
        self.sessions.setdefault(path, asyncio.Queue()).put_nowait(session)

    def listed(self, path: str) -> int:
        """How many times ``path`` was listed."""
        return len([p for p, _ in self.lists if p == path])

    def watched(self, path: str) -> list[dict[str, str]]:
        """The parameters of every watch of ``path`` opened, oldest first."""
        return [params for p, params in self.opened if p == path]

    async def request(
        self, method: str, path: str, params: dict[str, str] | None = None, **_: Any
    ) -> dict[str, Any]:
        assert method == "GET"
        self.lists.append((path, dict(params or {})))
        if self.refuse_lists:
            self.refuse_lists -= 1
            raise KubeError(0, "API server unreachable")
        items, version = self.listings.get(path, ([], "1"))
        return {"items": [dict(i) for i in items], "metadata": {"resourceVersion": version}}

    @contextlib.asynccontextmanager
    async def open_lines(
        self, path: str, params: dict[str, str], **_: Any
    ) -> AsyncIterator[AsyncIterator[str]]:
        self.opened.append((path, dict(params)))
        session = await self.sessions.setdefault(path, asyncio.Queue()).get()
        if isinstance(session, Exception):
            raise session

        async def lines() -> AsyncIterator[str]:
            for text in session:
                yield text

        yield lines()
