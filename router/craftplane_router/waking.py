"""The seam for waking a sleeping server on join: the router calls a ``Waker`` when a player
logs in to a sleeping (or waking) server, with the name from their Login Start. Without one
the login is refused with a readable reason.

A waker answers with the Route to forward the login to (the server is up now) or with the
disconnect reason to show the player (e.g. "lobby is starting — rejoin in about 40 s").
`craftplane_router.join_waker` is the one the router runs.
"""

from __future__ import annotations

from typing import Protocol

from craftplane_router.routes import Route


class Waker(Protocol):
    async def wake(self, route: Route, player: str) -> Route | str: ...
