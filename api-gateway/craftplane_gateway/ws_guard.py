"""What a WebSocket holds its client to once connected: its token stays valid (closed 4001 at
``exp`` or when revoked) and its messages stay small (closed 1009 beyond the cap).

The expiry is a timer per socket (one ``wait_for`` on the deny list's change event, with the
time left as its timeout), so nothing polls all sockets; a revocation wakes each socket once to
check its own token.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, Final

from starlette.websockets import WebSocket, WebSocketDisconnect

from craftplane.clock import utcnow
from craftplane_gateway import auth
from craftplane_gateway.revocations import Revocations

TOKEN_CLOSE: Final = 4001
MESSAGE_TOO_BIG: Final = 1009


class FrameTooBig(Exception):
    """A client message over the cap; the socket is to close with 1009."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"messages must be at most {limit} bytes")
        self.limit = limit


def seconds_left(expires_at: datetime | None, now: datetime) -> float | None:
    """Seconds until ``expires_at`` (never negative), or None for a token that names none."""
    if expires_at is None:
        return None
    return max(0.0, (expires_at - now).total_seconds())


async def token_ends(
    who: auth.Principal,
    revocations: Revocations,
    *,
    clock: Callable[[], datetime] = utcnow,
) -> str:
    """Wait until the token of ``who`` expires or is revoked; which of the two."""
    while True:
        if revocations.revoked(who):
            return "token revoked"
        left = seconds_left(who.expires_at, clock())
        if left is not None and left <= 0:
            return "token expired"
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(revocations.changed(), timeout=left)


def message_text(message: Mapping[str, Any], limit: int) -> str:
    """The text of one received WebSocket message; FrameTooBig beyond ``limit`` bytes,
    WebSocketDisconnect when the client went away. A binary message is decoded as UTF-8
    (invalid bytes replaced), so it is refused as JSON like any other bad text."""
    if message["type"] == "websocket.disconnect":
        raise WebSocketDisconnect(message.get("code", 1000), message.get("reason"))
    text = message.get("text")
    if text is not None:
        # A character is 1 to 4 bytes: count exactly only when it could matter.
        if len(text) > limit or (len(text) * 4 > limit and len(text.encode()) > limit):
            raise FrameTooBig(limit)
        return str(text)
    data = message.get("bytes") or b""
    if len(data) > limit:
        raise FrameTooBig(limit)
    return bytes(data).decode("utf-8", "replace")


async def receive_text(ws: WebSocket, limit: int) -> str:
    """The next client message as text, within ``limit`` bytes (see :func:`message_text`)."""
    return message_text(await ws.receive(), limit)
