"""The two ways bytes cross the router, one direction at a time, both with back-pressure.

``stream``: two linked asyncio protocols (``pumping``), the transports' flow control for
back-pressure.

``splice``: ``os.splice`` through a pipe, socket -> pipe -> socket, the bytes never entering
user space. The pipe is the only buffer (its kernel capacity, 64 KiB by default), and the
source is read only when the pipe is empty, so nothing is read faster than the other side
drains. Readiness is waited for with ``loop.add_reader`` / ``add_writer`` on the raw sockets.
Each connection holds two pipes (four descriptors beside its two sockets). Past the kernel's
per-user pipe budget (``fs.pipe-user-pages-soft``, 64 MiB: about 500 connections for a user
without CAP_SYS_RESOURCE) new pipes get a single page: still correct, more syscalls a MiB.

Measured through a ClusterIP (`python -m bench router --clients 100 --mib 32`: kube-proxy's
DNAT to an address on a 1500-byte-MTU link, 2 CPUs shared with the load tool): direct 959
MiB/s, stream 672 (0.70x; 0.40-0.73x before the pumps replaced a task per direction), splice
21-68 MiB/s: each small segment takes one of the pipe's 16 slots, so a splice moves ~20 KiB.
So stream is the default; a bigger pipe (F_SETPIPE_SZ) would help splice but spends the
per-user pipe budget below.

Both end a direction on EOF by shutting down the other side's writing half (a half-close
passes through) and raise OSError on a reset or broken pipe, for the session to close both.
"""

from __future__ import annotations

import asyncio
import os
import socket
from typing import Final

from craftplane_router.traffic import Traffic

CHUNK: Final = 64 * 1024
SPLICE_FLAGS: Final = getattr(os, "SPLICE_F_NONBLOCK", 0) | getattr(os, "SPLICE_F_MOVE", 0)
# Chunks moved without waiting before the copy lets the other connections run: with both
# sockets ready it would otherwise hold the loop for as long as the kernel buffers last.
FAIR_CHUNKS: Final = 16


def splice_available() -> bool:
    return hasattr(os, "splice") and hasattr(os, "SPLICE_F_NONBLOCK")


class _Readiness:
    """Waits for one fd to be readable (or writable). The registration stays while the copy
    keeps waiting on the same side, so a stream of small packets (a game's traffic) costs no
    epoll_ctl per packet; ``pause`` drops it while the copy waits on the other side, where a
    level-triggered readiness would only wake the loop for nothing."""

    def __init__(self, fd: int, *, write: bool) -> None:
        self._loop = asyncio.get_running_loop()
        self._fd = fd
        self._write = write
        self._registered = False
        self._waiting: asyncio.Future[None] | None = None

    def _wake(self) -> None:
        if self._waiting is not None and not self._waiting.done():
            self._waiting.set_result(None)

    async def wait(self) -> None:
        if not self._registered:
            if self._write:
                self._loop.add_writer(self._fd, self._wake)
            else:
                self._loop.add_reader(self._fd, self._wake)
            self._registered = True
        self._waiting = self._loop.create_future()
        try:
            await self._waiting
        finally:
            self._waiting = None

    def pause(self) -> None:
        if self._registered:
            if self._write:
                self._loop.remove_writer(self._fd)
            else:
                self._loop.remove_reader(self._fd)
            self._registered = False


async def splice_copy(
    source: socket.socket, target: socket.socket, traffic: Traffic, direction: str
) -> None:
    readable = _Readiness(source.fileno(), write=False)
    writable = _Readiness(target.fileno(), write=True)
    pipe_out, pipe_in = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        await _splice_through(
            source.fileno(),
            target.fileno(),
            (pipe_out, pipe_in),
            readable,
            writable,
            traffic,
            direction,
        )
        target.shutdown(socket.SHUT_WR)
    finally:
        readable.pause()
        writable.pause()
        os.close(pipe_out)
        os.close(pipe_in)


async def _splice_through(
    src: int,
    dst: int,
    pipe: tuple[int, int],
    readable: _Readiness,
    writable: _Readiness,
    traffic: Traffic,
    direction: str,
) -> None:
    """Until EOF on ``src``: socket -> pipe, then pipe -> socket, the pipe emptied each time."""
    pipe_out, pipe_in = pipe
    pending = streak = 0
    drained = False  # the last read took less than asked: the socket is (most likely) empty
    while True:
        streak += 1
        if streak >= FAIR_CHUNKS:
            streak = 0
            await asyncio.sleep(0)
        if not pending:
            if drained:
                # Wait rather than try: a read now would almost always be EAGAIN, a syscall
                # per packet for nothing; the registration makes the wait itself free.
                streak = 0
                await readable.wait()
            try:
                pending = os.splice(src, pipe_in, CHUNK, flags=SPLICE_FLAGS)
            except BlockingIOError:
                drained = True
                continue
            if not pending:
                return  # EOF
            drained = pending < CHUNK
        try:
            sent = os.splice(pipe_out, dst, pending, flags=SPLICE_FLAGS)
        except BlockingIOError:
            streak = 0
            readable.pause()
            await writable.wait()
            continue
        if not sent:
            raise BrokenPipeError("splice moved nothing to a writable socket")
        writable.pause()
        pending -= sent
        traffic.add(direction, sent)
