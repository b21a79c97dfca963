"""RCON to a server's pod, for the operator (allowlist, announcements, saves) and the
gateway (the console): where the pod is, its password, one command at a time.

The protocol itself is aio-mc-rcon's. The password is read from the server's Secret
through the Kubernetes API each time, so it never sits in another component's settings.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import struct
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from aiomcrcon import Client, IncorrectPasswordError, RCONConnectionError

from craftplane.contracts import names
from craftplane.kube import KubeClient, KubeError

DEFAULT_TIMEOUT: Final = 5.0
# Source RCON answers with at most 4096 bytes per packet; vanilla truncates longer output.
MAX_COMMAND_LENGTH: Final = 1446


class RconError(RuntimeError):
    """The command did not run: no pod, no password, refused, or timed out."""

    def __init__(self, message: str, *, unavailable: bool = True) -> None:
        super().__init__(message)
        # True: the server cannot be reached now (retry later); False: the request is wrong.
        self.unavailable = unavailable


class Reach(StrEnum):
    """How a component finds the pod: its DNS name in the cluster, or its IP from the
    Kubernetes API (outside the cluster network, where the host routes to pod IPs)."""

    DNS = "dns"
    POD_IP = "pod-ip"


@dataclass(frozen=True)
class Target:
    host: str
    port: int
    password: str


async def locate(kube: KubeClient, namespace: str, server: str, reach: Reach) -> Target:
    """The pod's RCON address and password; RconError when it has none (yet)."""
    try:
        secret = await kube.get("Secret", namespace, names.rcon_secret_name(server))
        pod = await kube.get("Pod", namespace, names.server_pod_name(server))
    except KubeError as exc:
        raise RconError(f"the Kubernetes API did not answer: {exc}") from exc
    data = (secret or {}).get("data") or {}
    if names.RCON_PASSWORD_KEY not in data:
        raise RconError("the server has no RCON password (RCON disabled or not created yet)")
    password = base64.b64decode(data[names.RCON_PASSWORD_KEY]).decode()
    if pod is None or (pod.get("metadata") or {}).get("deletionTimestamp"):
        raise RconError("the server is not running")
    if reach is Reach.DNS:
        host = names.server_pod_host(server, namespace)
    else:
        host = (pod.get("status") or {}).get("podIP") or ""
        if not host:
            raise RconError("the server's pod has no IP yet")
    return Target(host=host, port=names.RCON_PORT, password=password)


async def run(target: Target, command: str, *, timeout: float = DEFAULT_TIMEOUT) -> str:
    """Run one command; its output (may be empty)."""
    if not command.strip() or len(command) > MAX_COMMAND_LENGTH or "\n" in command:
        raise RconError("not a single command of acceptable length", unavailable=False)
    client = Client(target.host, target.port, target.password)
    try:
        async with asyncio.timeout(timeout):
            await client.connect(timeout)
            output, _ = await client.send_cmd(command, timeout)
    except IncorrectPasswordError as exc:
        raise RconError("the server refused the RCON password") from exc
    except (RCONConnectionError, TimeoutError, OSError) as exc:
        raise RconError(f"RCON at {target.host}:{target.port} failed: {exc}") from exc
    except (ValueError, EOFError, struct.error) as exc:
        # Something answered on the port that does not speak RCON (or cut the packet short).
        raise RconError(f"RCON at {target.host}:{target.port} gave no RCON answer: {exc}") from exc
    except Exception as exc:
        # to the client library is that server being unreachable, never the caller's error.
        raise RconError(f"RCON at {target.host}:{target.port} failed: {exc!r}") from exc
    finally:
        with contextlib.suppress(OSError):  # a reset while closing changes nothing above
            await client.close()
    return str(output)
