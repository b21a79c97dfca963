"""Tiered hibernation for real: a server on the real node that has slept a "day" (15 s under
the test operator, CRAFTPLANE_OPERATOR_HIBERNATION_DAY_SECONDS) is backed up into the sandbox's
S3 store, the backup verified by booting it, and only then its world volume deleted (phase
Stopped, reason Archived). A join through the router wakes it: the player is told the world is
being restored, the world comes back from the archive and the server runs, with the block set
before the archive still there (read by a real client, mineflayer).
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from craftplane.contracts.backup import LABEL_BACKUP_TRIGGER
from craftplane.contracts.hibernation import (
    ARCHIVED_REASON,
    UNARCHIVED_REASON,
    UNARCHIVING_REASON,
    WAKE_REQUESTER_ANNOTATION,
)
from craftplane.testing.gateway import Tenant
from craftplane.testing.kubectl import Kubectl
from craftplane.testing.platform import Platform
from craftplane.testing.processes import ManagedProcess
from craftplane.testing.router import game_port, ping, router_process, wait_ready
from craftplane.testing.servers import wait_phase
from craftplane.testing.wait import async_wait_for, wait_for
from tests.realnode.conftest import Game, apply_server, bot, game_of, rcon

pytestmark = [pytest.mark.cluster, pytest.mark.real]

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
AFTER_EMPTY = 20  # "minutes" of spec.hibernation: seconds under the test operator
START_TIMEOUT = 180
# Asleep a day (15 s), then the backup, a scratch server booted to verify it, the delete.
ARCHIVE_TIMEOUT = 600
# The restore from the archive, then the start.
UNARCHIVE_TIMEOUT = 600
MARK = ("4,70,4", "gold_block")


@pytest.fixture(scope="module")
def router(platform: Platform, crds_installed: None) -> Iterator[ManagedProcess]:
    started = router_process(platform, 3, str(ARTIFACTS)).start()
    wait_ready(started)
    yield started
    started.terminate()


def _body(kubectl: Kubectl, ns: str, name: str) -> dict[str, Any]:
    body = kubectl.get("minecraftserver", name, ns)
    assert body is not None
    return body


def _status(body: dict[str, Any]) -> dict[str, Any]:
    return dict(body.get("status") or {})


def _ready_reason(body: dict[str, Any]) -> str:
    ready = [c for c in _status(body).get("conditions") or [] if c.get("type") == "Ready"]
    return str(ready[0].get("reason")) if ready else ""


def _events(kubectl: Kubectl, ns: str, name: str) -> list[tuple[str, str, str]]:
    listed = kubectl.json(
        "get", "events", "-n", ns, "--field-selector", f"involvedObject.name={name}"
    )
    return [(e.get("type"), e.get("reason"), e.get("message")) for e in listed.get("items") or []]


def _archived(kubectl: Kubectl, ns: str, name: str) -> dict[str, Any] | None:
    body = _body(kubectl, ns, name)
    archive = _status(body).get("archive") or {}
    if archive.get("state") != "Archived" or _ready_reason(body) != ARCHIVED_REASON:
        return None
    if kubectl.get("pvc", f"data-{name}-0", ns) is not None:
        return None
    return body


async def _motd(router: ManagedProcess, host: str, words: str) -> bool | None:
    status = await ping(game_port(router), host)
    return True if words in status.motd.to_plain() else None


async def test_a_join_restores_an_archived_server_with_its_world(
    real_tenant: Tenant, kubectl: Kubectl, operator: ManagedProcess, router: ManagedProcess
) -> None:
    ns, name = real_tenant.namespace, "vault"
    host = f"{name}.{real_tenant.name}.mc.localhost"
    hibernation = {
        "afterEmptyMinutes": AFTER_EMPTY,
        "wakeTimeoutSeconds": 900,
        "archiveAfterDays": 1,
    }
    properties = {"onlineMode": False, "maxPlayers": 10, "motd": f"{name} world"}
    apply_server(kubectl, ns, name, hibernation=hibernation, properties=properties)
    await asyncio.to_thread(wait_phase, kubectl, ns, name, "Running", START_TIMEOUT)
    at, block = MARK
    await rcon(game_of(kubectl, ns, name), f"setblock {at.replace(',', ' ')} {block}")

    # Asleep (the stop saves the world), then archived: a verified backup, the volume gone.
    body = await asyncio.to_thread(
        wait_for,
        lambda: _archived(kubectl, ns, name),
        timeout=ARCHIVE_TIMEOUT,
        interval=2,
        what=f"{ns}/{name} archived",
    )
    archive = _status(body)["archive"]
    backup = kubectl.get("minecraftbackup", archive["backup"], ns)
    assert backup is not None
    assert backup["metadata"]["labels"][LABEL_BACKUP_TRIGGER] == "archive"
    assert backup["status"]["phase"] == "Completed"
    assert backup["status"]["verification"]["state"] == "Verified", backup["status"]
    assert body["spec"].get("stopped") is not True  # GitOps owns the spec
    assert _status(body)["phase"] == "Stopped"
    sts = kubectl.get("statefulset", name, ns)
    assert sts is not None and sts["spec"]["replicas"] == 0
    reasons = [r for _, r, _ in _events(kubectl, ns, name)]
    assert "Archiving" in reasons and ARCHIVED_REASON in reasons, reasons

    # Awake again, it must not fall asleep before the check's client joins.
    patch = '{"spec": {"hibernation": {"afterEmptyMinutes": 600}}}'
    kubectl.run("patch", "minecraftserver", name, "-n", ns, "--type=merge", "-p", patch)

    # The server list says it is archived; a login wakes it and is told to rejoin later.
    await async_wait_for(lambda: _motd(router, host, "Archived"), timeout=30, what="archived MOTD")
    via = Game("127.0.0.1", game_port(router), "", "")
    first = await bot(via, "archivist", fakeHost=host)
    kicked = str(first.get("kicked"))
    assert not first.get("spawned") and "restored" in kicked and "rejoin" in kicked, first
    annotations = _body(kubectl, ns, name)["metadata"].get("annotations") or {}
    assert annotations.get(WAKE_REQUESTER_ANNOTATION) == "join:archivist", annotations

    # The world comes back from the archive, then the server runs, never on an empty volume.
    running = await asyncio.to_thread(wait_phase, kubectl, ns, name, "Running", UNARCHIVE_TIMEOUT)
    assert "archive" not in _status(running), _status(running)
    pvc = kubectl.get("pvc", f"data-{name}-0", ns)
    assert pvc is not None
    assert pvc["metadata"]["annotations"].get("craftplane.io/restored-from") == archive["backup"]
    reasons = [r for _, r, _ in _events(kubectl, ns, name)]
    assert UNARCHIVING_REASON in reasons and UNARCHIVED_REASON in reasons, reasons

    # The block set before the archive is there, read by a real client.
    report = await bot(game_of(kubectl, ns, name), f"Check{secrets.token_hex(2)}", blocks=at)
    assert (report.get("blocks") or {}).get(at) == block, report
