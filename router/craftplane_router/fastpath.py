"""The compiled fast path (``router/fastpath``, ``craftplane-router-fastpath``) as this
router's child process: it accepts on the game port, forwards connections for running
servers itself (splice(2), no Python per connection or per byte), and hands every other
connection back here with the bytes it read, where the router does what it does with any.

This side owns the listening socket (bound here, so a port in use fails at start-up, and
kept to start a new child if one dies: connections wait in the backlog meanwhile), tells the
child the running routes (``FastView``) and turns its counts into this router's metrics, so
``/metrics`` stays the one place to look. The child exits when its control socket closes, so
it never outlives this process.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import shutil
import signal
import socket
from collections.abc import Callable, Iterable
from typing import Any, Final

from craftplane import logs
from craftplane.supervise import Supervised
from craftplane_router.fast_view import FastView
from craftplane_router.metrics import RouterMetrics
from craftplane_router.table import RouteTable
from craftplane_router.traffic import TO_CLIENT, TO_SERVER

log = logs.get_logger(__name__)

BINARY: Final = "craftplane-router-fastpath"
MESSAGE_BYTES: Final = 1 << 20  # a hand-off carries at most ~1.5 KiB of client bytes
STOP_MARGIN_SECONDS: Final = 2.0

# What is done with a handed-off client: (socket, bytes read, seconds of its handshake
# timeout already spent).
Admit = Callable[[socket.socket, bytes, float], None]


def find_binary(name: str) -> str | None:
    """The fast path's executable: a path, or a name looked up on PATH."""
    return shutil.which(name)


class FastPath:
    def __init__(
        self,
        binary: str,
        argv: list[str],
        table: RouteTable,
        metrics: RouterMetrics,
        admit: Admit,
    ) -> None:
        self._binary = binary
        self._argv = argv
        self._table = table
        self._metrics = metrics
        self._admit = admit
        self._view = FastView()
        self._control: socket.socket | None = None
        self._outbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._process: asyncio.subprocess.Process | None = None
        self._active = 0  # the child's open connections, in the active gauge
        self.handed_off = 0  # connections the child gave to this router
        self._sent = self._applied = 0  # route messages sent to the child, and applied
        self.started = 0  # children started (more than one: a child died)
        self._stopping = False
        self._supervised: Supervised | None = None
        self._listener: socket.socket | None = None
        table.on_change(self._touched)

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.returncode is None

    @property
    def synced(self) -> bool:
        """Running, with every route sent applied: a connection for a running server now
        is forwarded by the child (before, it would be handed here: correct, but slower)."""
        return self.running and self._applied == self._sent

    def start(self, listener: socket.socket) -> None:
        self._listener = listener
        self._supervised = Supervised(
            self._run, name="router fast path", log=log, restart_after=0.5, max_restart_after=5
        )

    def _touched(self, hostnames: Iterable[str] | None) -> None:
        if self._control is None:
            return  # the next child is sent the whole view
        for message in self._view.changes(self._table, hostnames):
            self._sent += 1
            self._outbox.put_nowait({**message, "seq": self._sent})

    async def _run(self) -> None:
        """One child, from its start to its exit (an exit not asked for raises, to restart)."""
        assert self._listener is not None
        loop = asyncio.get_running_loop()
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        ours.setblocking(False)
        fds = (self._listener.fileno(), theirs.fileno())
        argv = [f"-listener-fd={fds[0]}", f"-control-fd={fds[1]}", *self._argv]
        try:
            process = await asyncio.create_subprocess_exec(self._binary, *argv, pass_fds=fds)
        finally:
            theirs.close()
        self._process, self._control = process, ours
        self.started += 1
        self._outbox = asyncio.Queue()
        self._sent = self._applied = 0
        self._view.reset()
        self._touched(None)
        loop.add_reader(ours.fileno(), self._readable, ours)
        sender = asyncio.create_task(self._send(ours))
        # A sender that failed would leave the child on stale routes: end this child instead
        # (the next one is sent the whole view).
        sender.add_done_callback(lambda task: _kill_if_failed(task, process))
        log.info("fast path started", extra={"pid": process.pid, "routes": len(self._view)})
        try:
            code = await process.wait()
        finally:
            loop.remove_reader(ours.fileno())
            sender.cancel()
            await asyncio.gather(sender, return_exceptions=True)
            self._control = None
            ours.close()
            self._metrics.active.dec(self._active)
            self._active = 0
            if process.returncode is None:  # cancelled: the child goes with this router
                process.kill()
                await process.wait()
        if not self._stopping:
            raise RuntimeError(f"the fast path exited with status {code}; starting another")

    async def _send(self, control: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        while True:
            message = await self._outbox.get()
            await loop.sock_sendall(control, json.dumps(message).encode())

    def _readable(self, control: socket.socket) -> None:
        while True:
            try:
                data, fds, _, _ = socket.recv_fds(control, MESSAGE_BYTES, 4)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                log.warning("the fast path's control socket failed", exc_info=True)
                return
            if not data and not fds:
                # The child closed it (it is exiting: its exit ends the run); an EOF stays
                # readable, so stop listening rather than be called for it again and again.
                asyncio.get_running_loop().remove_reader(control.fileno())
                return
            self._received(data, fds)

    def _received(self, data: bytes, fds: list[int]) -> None:
        clients = [socket.socket(fileno=fd) for fd in fds]
        try:
            message = json.loads(data)
        except ValueError:
            log.error("the fast path sent something that is not JSON", extra={"bytes": len(data)})
            message = {}
        handoff = message.get("handoff")
        if isinstance(handoff, dict) and len(clients) == 1:
            client = clients.pop()
            client.setblocking(False)
            self.handed_off += 1
            raw = handoff.get("data")  # base64, as Go's JSON writes bytes
            initial = base64.b64decode(raw) if isinstance(raw, str) else b""
            self._admit(client, initial, float(handoff.get("waited") or 0.0))
        for stray in clients:
            stray.close()
        if "stats" in message:
            self._count(message)
        if isinstance(message.get("applied"), int):
            self._applied = max(self._applied, message["applied"])

    def _count(self, message: dict[str, Any]) -> None:
        for server, counts in (message.get("stats") or {}).items():
            namespace, _, name = str(server).partition("/")
            labels = {"namespace": namespace, "server": name}
            if counts.get("routed"):
                self._metrics.connections.labels(**labels, result="routed").inc(counts["routed"])
            for direction in (TO_SERVER, TO_CLIENT):
                if counts.get(direction):
                    self._metrics.bytes.labels(**labels, direction=direction).inc(counts[direction])
        if message.get("over_capacity"):
            self._metrics.connections.labels(namespace="", server="", result="over_capacity").inc(
                message["over_capacity"]
            )
        active = int(message.get("active") or 0)
        self._metrics.active.inc(active - self._active)
        self._active = active

    async def stop(self, grace: float) -> None:
        """SIGTERM: the child stops accepting and gives its sessions ``grace`` seconds."""
        self._stopping = True
        process = self._process
        if process is not None and process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGTERM)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(grace + STOP_MARGIN_SECONDS):
                    await process.wait()
        if self._supervised is not None:
            await self._supervised.stop()


def _kill_if_failed(sender: asyncio.Task[None], process: asyncio.subprocess.Process) -> None:
    if sender.cancelled() or sender.exception() is None:
        return
    log.error("sending routes to the fast path failed", exc_info=sender.exception())
    if process.returncode is None:
        process.kill()
