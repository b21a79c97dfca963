"""One client connection, from its first byte to its close: read the preamble within the
handshake timeout, decide, then answer, refuse, wake or forward it."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import ipaddress
import socket
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, Final

from craftplane import logs
from craftplane_router import answers, handshake, login_start, preamble, proxy_header
from craftplane_router.decide import (
    DEFAULT_SLEEPING_MOTD,
    Action,
    Decision,
    decide,
    printable,
    unreachable,
)
from craftplane_router.error_summary import ErrorSummary
from craftplane_router.handshake import HandshakeError
from craftplane_router.metrics import RouterMetrics
from craftplane_router.preamble import Preamble
from craftplane_router.proxy_header import Network, Peer
from craftplane_router.routes import Route, State
from craftplane_router.session import Session, SpliceMode
from craftplane_router.table import RouteTable
from craftplane_router.traffic import TO_SERVER, Traffic
from craftplane_router.waking import Waker

log = logs.get_logger(__name__)

RECV: Final = 4096
# After a refusal: how long, and how much, the client's remaining bytes are read and dropped
# before closing, so the close is a FIN after the disconnect packet rather than a reset that
# could discard it unread on the client's side.
LINGER_SECONDS: Final = 1.0
LINGER_BYTES: Final = 64 * 1024
# A held login to a server just woken: how long its backend may refuse connections (its pod
# Ready, its endpoint not yet in kube-proxy's rules) before the player is told to retry.
WOKEN_DIAL_SECONDS: Final = 5.0
DIAL_RETRY_SECONDS: Final = 0.25


@dataclass(frozen=True)
class Limits:
    handshake_timeout: float = 5.0
    connect_timeout: float = 3.0
    idle: float = 60.0
    trusted_proxies: Sequence[Network] = ()
    sleeping_motd: str = DEFAULT_SLEEPING_MOTD
    mode: SpliceMode = SpliceMode.STREAM


class Handler:
    def __init__(
        self,
        limits: Limits,
        table: RouteTable,
        metrics: RouterMetrics,
        *,
        waker: Waker | None = None,
        errors: ErrorSummary | None = None,
    ) -> None:
        self._limits = limits
        self._table = table
        self._metrics = metrics
        self._waker = waker
        self._errors = errors or ErrorSummary()

    async def handle(
        self, client: socket.socket, initial: bytes = b"", waited: float = 0.0
    ) -> None:
        """Serve ``client`` (connected, non-blocking) and close it; ``initial``: what was
        read from it already, ``waited``: seconds of its handshake timeout spent (both from
        the fast path, which hands over what it does not forward itself)."""
        try:
            found = await self._preamble(client, initial, waited)
            if found is not None:
                await self._serve(client, found)
        finally:
            client.close()

    async def _preamble(
        self, client: socket.socket, initial: bytes, waited: float
    ) -> Preamble | None:
        try:
            peer = Peer(
                proxy_header.endpoint(client.getpeername()),
                proxy_header.endpoint(client.getsockname()),
            )
            trusted = proxy_header.trusted(peer.source[0], self._limits.trusted_proxies)
            async with asyncio.timeout(max(0.0, self._limits.handshake_timeout - waited)):
                return await _read_preamble(client, peer, initial, trusted=trusted)
        except HandshakeError as exc:
            reason = exc.reason
        except TimeoutError:
            reason = "timeout"
        except OSError:
            reason = "closed"
        self._metrics.handshake_errors.labels(reason=reason).inc()
        self._metrics.connection(None, "handshake_error")
        self._errors.add(f"handshake {reason}")
        return None

    async def _serve(self, client: socket.socket, found: Preamble) -> None:
        route = self._table.lookup(found.handshake.key)
        decision = decide(found.handshake, route, self._limits.sleeping_motd)
        where = {
            "server": route.server if route else "",
            "hostname": printable(found.handshake.key),
            "client": f"{found.peer.source[0]}",
            "action": decision.action.value,
        }
        log.debug("connection", extra=where)
        woken = decision.action is Action.WAKE
        if woken:
            found, decision = await self._wake(client, found, decision)
        if decision.action is Action.FORWARD and decision.route is not None:
            # A just-woken server says Running a moment before kube-proxy reaches its new pod.
            retry_for = WOKEN_DIAL_SECONDS if woken else 0.0
            await self._forward(client, found, decision.route, retry_for=retry_for)
            return
        self._metrics.connection(decision.route, decision.result)
        with contextlib.suppress(OSError, TimeoutError, HandshakeError):
            if decision.action is Action.ANSWER:
                await self._answer(client, found, decision)
            else:
                await _refuse(client, decision.text)

    async def _wake(
        self, client: socket.socket, found: Preamble, decision: Decision
    ) -> tuple[Preamble, Decision]:
        """Hand a login to the waker, with the player's name from its Login Start (a login
        that sends none wakes nothing); the preamble now holds that packet too."""
        route = decision.route
        if self._waker is None or route is None:
            return found, Decision(Action.REFUSE, route, decision.text, decision.result)
        try:
            found, player = await _read_login_start(client, found, self._limits.handshake_timeout)
        except (HandshakeError, TimeoutError, OSError):
            return found, Decision(Action.REFUSE, route, decision.text, "no_login_start")
        try:
            outcome = await self._waker.wake(route, player)
        except Exception:
            log.warning("waking failed", exc_info=True, extra={"server": route.server})
            outcome = f"{route.name} could not be woken; try again in a moment"
        if isinstance(outcome, Route) and outcome.state is State.RUNNING:
            return found, Decision(Action.FORWARD, outcome)
        reason = outcome if isinstance(outcome, str) else decision.text
        return found, Decision(Action.REFUSE, route, reason, "waking")

    async def _answer(self, client: socket.socket, found: Preamble, decision: Decision) -> None:
        """The status exchange of a server the router answers for: the status, then the pong."""
        route = decision.route
        players_max = route.players_max if route else 0
        pending = bytearray(found.after)
        loop = asyncio.get_running_loop()
        async with asyncio.timeout(self._limits.handshake_timeout):
            while True:
                frame = handshake.next_frame(pending)
                if frame is None:
                    chunk = await loop.sock_recv(client, RECV)
                    if not chunk:
                        return
                    pending += chunk
                    continue
                body, size = frame
                del pending[:size]
                packet = answers.status_packet(body)
                if packet.ping:
                    await loop.sock_sendall(client, answers.pong(packet.payload))
                    return
                reply = answers.status_response(
                    decision.text, found.handshake.protocol, players_max
                )
                await loop.sock_sendall(client, reply)

    async def _forward(
        self, client: socket.socket, found: Preamble, route: Route, *, retry_for: float = 0.0
    ) -> None:
        where = {"server": route.server, "client": f"{found.peer.source[0]}"}
        try:
            server = await _dial_within(route, self._limits.connect_timeout, retry_for)
        except (OSError, TimeoutError) as exc:
            self._metrics.connection(route, "connect_failed")
            self._errors.add(f"connect_failed {route.server}")
            log.debug("cannot reach the server: %s", exc, extra=where)
            text = unreachable(route)
            with contextlib.suppress(OSError, TimeoutError, HandshakeError):
                if found.handshake.login:
                    await _refuse(client, text)
                else:
                    await self._answer(client, found, Decision(Action.ANSWER, route, text))
            return
        self._metrics.connection(route, "routed")
        traffic = Traffic(asyncio.get_running_loop().time)

        def flush() -> None:
            traffic.flush(lambda direction, count: self._metrics.moved(route, direction, count))

        try:
            loop = asyncio.get_running_loop()
            header = proxy_header.build(found.peer) if route.proxy_protocol else b""
            await loop.sock_sendall(server, header + found.replay)
            traffic.add(TO_SERVER, len(found.replay))
            session = Session(
                client, server, traffic, mode=self._limits.mode, idle=self._limits.idle, tick=flush
            )
            end = await session.run()
            log.debug("connection ended: %s", end.value, extra={**where, **traffic.moved})
        except OSError as exc:
            log.debug("connection failed: %s", exc, extra=where)
        finally:
            server.close()
            flush()


async def _read_preamble(
    client: socket.socket, peer: Peer, initial: bytes, *, trusted: bool
) -> Preamble:
    loop = asyncio.get_running_loop()
    data = bytearray(initial)
    while True:
        if data:
            found = preamble.parse(data, peer, trusted=trusted)
            if found is not None:
                return found
            if len(data) > preamble.MAX_PREAMBLE:
                raise HandshakeError("oversize", f"{len(data)} bytes and no handshake")
        chunk = await loop.sock_recv(client, RECV)
        if not chunk:
            raise HandshakeError("closed", "the client closed before its handshake")
        data += chunk


async def _read_login_start(
    client: socket.socket, found: Preamble, timeout: float
) -> tuple[Preamble, str]:
    """The player's name from the Login Start after the handshake, reading on if it has not
    all arrived; the preamble with every byte read, for the server if the login goes on."""
    loop = asyncio.get_running_loop()
    data = bytearray(found.after)
    async with asyncio.timeout(timeout):
        while (player := login_start.player(data)) is None:
            chunk = await loop.sock_recv(client, RECV)
            if not chunk:
                raise HandshakeError("closed", "the client closed before its Login Start")
            data += chunk
    more = bytes(data[len(found.after) :])
    return replace(found, replay=found.replay + more), player


async def _dial_within(route: Route, timeout: float, retry_for: float) -> socket.socket:
    """``_dial``, tried again every ``DIAL_RETRY_SECONDS`` for up to ``retry_for`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + retry_for
    while True:
        try:
            return await _dial(route, timeout)
        except (OSError, TimeoutError):
            if loop.time() + DIAL_RETRY_SECONDS > deadline:
                raise
        await asyncio.sleep(DIAL_RETRY_SECONDS)


@functools.lru_cache(maxsize=1024)
def literal_address(host: str, port: int) -> tuple[socket.AddressFamily, tuple[str, int]] | None:
    """``host`` as an IP address, or None for a name to resolve."""
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return None
    family = socket.AF_INET6 if ip.version == 6 else socket.AF_INET
    return family, (str(ip), port)


async def _dial(route: Route, timeout: float) -> socket.socket:
    loop = asyncio.get_running_loop()
    async with asyncio.timeout(timeout):
        # A route's host is a ClusterIP: resolving it would still take a trip through the
        # loop's thread pool (a few threads), which queued every dial behind the others.
        literal = literal_address(route.host, route.port)
        address: tuple[Any, ...]
        if literal is not None:
            family, address = literal
            server = socket.socket(family, socket.SOCK_STREAM)
        else:
            infos = await loop.getaddrinfo(route.host, route.port, type=socket.SOCK_STREAM)
            family, kind, proto, _, address = infos[0]
            server = socket.socket(family, kind, proto)
        try:
            server.setblocking(False)
            server.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            await loop.sock_connect(server, address)
        except BaseException:
            server.close()
            raise
    return server


async def _refuse(client: socket.socket, reason: str) -> None:
    """Send the login disconnect, then close once the client has (or after a moment)."""
    loop = asyncio.get_running_loop()
    await loop.sock_sendall(client, answers.login_disconnect(reason))
    client.shutdown(socket.SHUT_WR)
    drained = 0
    with contextlib.suppress(TimeoutError, OSError):
        async with asyncio.timeout(LINGER_SECONDS):
            while drained < LINGER_BYTES:
                chunk = await loop.sock_recv(client, RECV)
                if not chunk:
                    break
                drained += len(chunk)
