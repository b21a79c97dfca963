"""The game port: one TCP listener for every server, a task per connection, at most
``max_connections`` at once (one more is closed at once: memory stays bounded under a flood)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from typing import Final

from craftplane import logs
from craftplane_router.connection import Handler
from craftplane_router.metrics import RouterMetrics

log = logs.get_logger(__name__)

BACKLOG: Final = 1024
ACCEPT_BATCH: Final = 64


def accept_ready(listener: socket.socket, most: int) -> list[socket.socket]:
    """Up to ``most`` connections already queued on the (non-blocking) ``listener``."""
    accepted: list[socket.socket] = []
    while len(accepted) < most:
        try:
            client, _ = listener.accept()
        except (BlockingIOError, InterruptedError):
            break
        except OSError as exc:
            log.warning("accepting a connection failed: %s", exc)
            break
        accepted.append(client)
    return accepted


def _listening_socket(host: str, port: int) -> socket.socket:
    infos = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6:
            # "::" takes IPv4 clients too (as mapped addresses).
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        sock.bind(address)
        sock.listen(BACKLOG)
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock


class Listener:
    def __init__(
        self, handler: Handler, metrics: RouterMetrics, *, max_connections: int = 4096
    ) -> None:
        self._handler = handler
        self._metrics = metrics
        self._max = max_connections
        self._sock: socket.socket | None = None
        self._accepting: asyncio.Task[None] | None = None
        self._connections: set[asyncio.Task[None]] = set()

    @property
    def listening(self) -> bool:
        return self._accepting is not None and not self._accepting.done()

    @property
    def active(self) -> int:
        return len(self._connections)

    @property
    def address(self) -> tuple[str, int]:
        """The bound address (the port the kernel chose when asked for port 0)."""
        assert self._sock is not None, "not started"
        host, port = self._sock.getsockname()[:2]
        return str(host), int(port)

    @property
    def sock(self) -> socket.socket:
        assert self._sock is not None, "not started"
        return self._sock

    def start(self, host: str, port: int, *, accept: bool = True) -> None:
        """Bind now (a port in use fails here, at start-up), then accept in the background
        (``accept=False``: the fast path accepts, and hands connections to ``admit``)."""
        self._sock = _listening_socket(host, port)
        if accept:
            self._accepting = asyncio.create_task(self._accept(self._sock), name="router accept")

    async def _accept(self, listener: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                client, _ = await loop.sock_accept(listener)
            except OSError as exc:  # EMFILE and friends: pause rather than spin
                log.warning("accepting a connection failed: %s", exc)
                await asyncio.sleep(0.1)
                continue
            self._admit(client)
            # The rest of the backlog now, without a loop round-trip each: under a burst the
            # accept loop was a queue of its own in front of every handshake.
            for client in accept_ready(listener, ACCEPT_BATCH):
                self._admit(client)

    def _admit(self, client: socket.socket, initial: bytes = b"", waited: float = 0.0) -> None:
        if len(self._connections) >= self._max:
            client.close()
            self._metrics.connection(None, "over_capacity")
            return
        client.setblocking(False)
        with contextlib.suppress(OSError):
            client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        task = asyncio.create_task(self._serve(client, initial, waited))
        self._connections.add(task)
        task.add_done_callback(self._connections.discard)

    def admit(self, client: socket.socket, initial: bytes, waited: float) -> None:
        """Serve a connection accepted elsewhere (the fast path), with the bytes it read and
        the seconds of its handshake timeout it has spent."""
        self._admit(client, initial, waited)

    async def _serve(self, client: socket.socket, initial: bytes, waited: float) -> None:
        self._metrics.active.inc()
        try:
            await self._handler.handle(client, initial, waited)
        except Exception:
            log.exception("a connection failed unexpectedly")
        finally:
            self._metrics.active.dec()

    async def stop(self, grace: float = 0.0) -> None:
        """Stop accepting; give open connections ``grace`` seconds, then close them."""
        if self._accepting is not None:
            self._accepting.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._accepting
        if self._sock is not None:
            self._sock.close()
        if self._connections and grace > 0:
            await asyncio.wait(set(self._connections), timeout=grace)
        for task in list(self._connections):
            task.cancel()
        await asyncio.gather(*self._connections, return_exceptions=True)
