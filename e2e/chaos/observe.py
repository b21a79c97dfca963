"""Looking at the platform from outside while it fails: kubectl without blocking the event loop,
the stream, the projected rows and the operator lease."""

from __future__ import annotations

import asyncio
import contextlib
import os
from typing import Any

import asyncpg
import nats
from nats.js.api import ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError

from craftplane.contracts import events as contract
from craftplane.testing.kubectl import Kubectl

LEASE = ("craftplane-system", "craftplane-operator")


async def kubectl_async(kubectl: Kubectl, *args: str, timeout: float = 20) -> bool:
    """Run kubectl without blocking the event loop; True when it succeeded."""
    proc = await asyncio.create_subprocess_exec(
        kubectl.binary,
        *args,
        env={**os.environ, "KUBECONFIG": str(kubectl.kubeconfig)},
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        return await asyncio.wait_for(proc.wait(), timeout) == 0
    except TimeoutError:
        proc.kill()
        await proc.wait()
        return False


async def stream_position(nats_url: str) -> int:
    """The stream sequence the next message will get."""
    nc = await nats.connect(nats_url)
    try:
        info = await nc.jetstream().stream_info(contract.STREAM_NAME)
        return int(info.state.last_seq) + 1
    except NotFoundError:
        return 1
    finally:
        await nc.close()


async def stream_events_since(
    nats_url: str, start_seq: int, namespace: str
) -> list[tuple[int, contract.Event]]:
    """(stream sequence, event) for every event about `namespace` from `start_seq` on."""
    nc = await nats.connect(nats_url, connect_timeout=3, max_reconnect_attempts=1)
    found: list[tuple[int, contract.Event]] = []
    try:
        js = nc.jetstream()
        last = int((await js.stream_info(contract.STREAM_NAME)).state.last_seq)
        if last < start_seq:
            return found
        sub = await js.subscribe(
            contract.subject_filter(),
            stream=contract.STREAM_NAME,
            ordered_consumer=True,
            config=ConsumerConfig(
                deliver_policy=DeliverPolicy.BY_START_SEQUENCE, opt_start_seq=start_seq
            ),
        )
        try:
            while True:
                msg = await sub.next_msg(timeout=10)
                seq = msg.metadata.sequence.stream
                with contextlib.suppress(contract.InvalidEvent):
                    event = contract.decode(msg.data)
                    if isinstance(event, contract.Event) and event.server.namespace == namespace:
                        found.append((seq, event))
                if seq >= last:
                    break
        finally:
            await sub.unsubscribe()
    finally:
        await nc.close()
    return found


async def projected_rows(dsn: str, namespace: str) -> dict[str, dict[str, Any]]:
    conn = await asyncpg.connect(dsn, timeout=5)
    try:
        records = await conn.fetch(
            "SELECT uid, name, status, phase FROM servers"
            " WHERE namespace = $1 AND status <> 'deleted'",
            namespace,
        )
    finally:
        await conn.close()
    by_name: dict[str, dict[str, Any]] = {}
    for record in records:
        if record["name"] in by_name:
            by_name[f"{record['name']} (second row, uid {record['uid']})"] = dict(record)
        else:
            by_name[record["name"]] = dict(record)
    return by_name


def lease_holder(kubectl: Kubectl) -> str | None:
    try:
        lease = kubectl.get("lease", LEASE[1], LEASE[0])
    except AssertionError as exc:  # the API server is away
        return f"unknown ({str(exc)[:80]})"
    holder: str | None = ((lease or {}).get("spec") or {}).get("holderIdentity")
    return holder
