"""Backups and restores for real: restic snapshots of a server on the real node in the
sandbox's S3 store (versitygw), checked with restic run by hand on the host.

Each test reads what it checks from the world on the volume, the repository and the game
itself (a mineflayer bot reading blocks), never from what the operator says it did.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import secrets
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import httpx
import pytest

from craftplane.sandbox.config import SandboxConfig
from craftplane.testing.backups import bucket_dir, restic_env
from craftplane.testing.gateway import Tenant
from craftplane.testing.kubectl import Kubectl
from craftplane.testing.plugin import make_tenant
from craftplane.testing.processes import ManagedProcess
from craftplane.testing.servers import wait_phase
from craftplane.testing.wait import wait_for
from tests.realnode.conftest import (
    BotSession,
    Game,
    apply_server,
    bot,
    game_of,
    pv_directory,
    rcon,
)

pytestmark = [pytest.mark.cluster, pytest.mark.real]

START_TIMEOUT = 180
BACKUP_TIMEOUT = 240
# Files the server rewrites on its own or that are not the world: left out of comparisons.
VOLATILE = ("logs/", "session.lock", ".craftplane-")


def _apply(kubectl: Kubectl, ns: str, kind: str, name: str, spec: dict[str, Any]) -> None:
    body = {"apiVersion": "craftplane.io/v1alpha1", "kind": kind, "metadata": {"name": name}}
    kubectl.apply(json.dumps({**body, "spec": spec}), ns)


def _status(kubectl: Kubectl, kind: str, name: str, ns: str) -> dict[str, Any]:
    return dict((kubectl.get(kind, name, ns) or {}).get("status") or {})


def _wait_backup(
    kubectl: Kubectl, ns: str, name: str, timeout: float = BACKUP_TIMEOUT
) -> dict[str, Any]:
    def ended() -> dict[str, Any] | None:
        status = _status(kubectl, "minecraftbackup", name, ns)
        return status if status.get("phase") in ("Completed", "Failed") else None

    return wait_for(ended, timeout=timeout, interval=1, what=f"backup {name} ended")


def _wait_restore(kubectl: Kubectl, ns: str, name: str, timeout: float = 300) -> dict[str, Any]:
    def ended() -> dict[str, Any] | None:
        status = _status(kubectl, "minecraftrestore", name, ns)
        return status if status.get("phase") in ("Completed", "Failed") else None

    return wait_for(ended, timeout=timeout, interval=1, what=f"restore {name} ended")


def _checksums(root: Path) -> dict[str, str]:
    sums: dict[str, str] = {}
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root).as_posix()
        if path.is_file() and not any(relative.startswith(v) or v in relative for v in VOLATILE):
            sums[relative] = hashlib.sha256(path.read_bytes()).hexdigest()
    return sums


def _restic(
    env: dict[str, str], *args: str, check: bool = True
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["restic", "--no-cache", *args], env=env, capture_output=True, text=True,
        timeout=600, check=check,
    )  # fmt: skip


def _snapshot_files(env: dict[str, str], snapshot: str) -> dict[str, str]:
    with tempfile.TemporaryDirectory() as target:
        _restic(env, "restore", snapshot, "--target", target)
        return _checksums(Path(target))


def _snapshots(env: dict[str, str], *tags: str) -> list[dict[str, Any]]:
    args = ["snapshots", "--json"] + [f"--tag={t}" for t in tags]
    found: list[dict[str, Any]] = json.loads(_restic(env, *args).stdout or "[]")
    return found


async def _ready(kubectl: Kubectl, ns: str, name: str, **spec: Any) -> Game:
    apply_server(kubectl, ns, name, **spec)
    await asyncio.to_thread(wait_phase, kubectl, ns, name, "Running", START_TIMEOUT)
    return game_of(kubectl, ns, name)


async def _blocks(game: Game, *at: str) -> dict[str, str | None]:
    report = await bot(game, f"Check{secrets.token_hex(2)}", blocks=";".join(at))
    blocks: dict[str, str | None] = report.get("blocks") or {}
    assert set(blocks) == set(at), report
    return blocks


async def test_a_backup_of_a_running_server_is_its_flushed_world_and_saving_resumes(
    real_tenant: Tenant,
    real_node: SandboxConfig,
    kubectl: Kubectl,
    operator: ManagedProcess,
    bots: list[BotSession],
) -> None:
    ns = real_tenant.namespace
    # Autosave every 15 s: with save-off in force nothing may reach the volume during the
    # copy, and after save-on the next change must.
    autosave = [{"name": "STANDIN_AUTOSAVE_SECONDS", "value": "15"}]
    game = await _ready(kubectl, ns, "saved", env=autosave)
    pod_uid = kubectl.get("pod", "saved-0", ns)["metadata"]["uid"]  # type: ignore[index]
    player = await BotSession.join(game, "Alex", stay=240, walk="true")
    bots.append(player)
    await rcon(game, "setblock 4 70 4 gold_block")
    world = pv_directory(kubectl, ns, "saved")

    _apply(kubectl, ns, "MinecraftBackup", "saved-one", {"server": "saved"})

    def paused() -> dict[str, Any] | None:
        status = _status(kubectl, "minecraftbackup", "saved-one", ns)
        # "Copying" with saves paused: save-off and save-all flush answered, the Job created.
        copying = status.get("savesPaused") and status.get("reason") == "Copying"
        return status if copying or status.get("phase") == "Completed" else None

    seen = wait_for(paused, timeout=120, interval=0.2, what="save-off and save-all flush done")
    assert seen.get("phase") != "Completed", "the copy ended before the test saw saves paused"
    flushed = _checksums(world)  # nothing writes the volume while saves are off
    status = _wait_backup(kubectl, ns, "saved-one")
    assert status["phase"] == "Completed", status
    assert status["snapshotId"] and status["files"] > 0 and status["sizeBytes"] > 0, status

    env = restic_env(real_node, real_tenant.name)
    snapshot = _snapshot_files(env, status["snapshotId"])
    assert snapshot == flushed, "the snapshot is not the world flushed at save-all"
    assert any(name.startswith("world/") for name in snapshot), sorted(snapshot)

    # The server kept running, the player with it, and automatic saving is back on.
    pod = kubectl.get("pod", "saved-0", ns)
    assert pod is not None and pod["metadata"]["uid"] == pod_uid, "the server was restarted"
    assert "Alex" in await rcon(game, "list")
    assert "already" in (await rcon(game, "save-on")).lower(), "save-on was not restored"
    await rcon(game, "setblock 9 70 9 diamond_block")
    wait_for(
        lambda: True if _checksums(world) != flushed else None,
        timeout=60,
        interval=1,
        what="a change after the backup saved by autosave",
    )


async def test_restores_into_the_same_and_a_new_server_bring_back_the_backed_up_world(
    real_tenant: Tenant,
    kubectl: Kubectl,
    operator: ManagedProcess,
    gateway: ManagedProcess,
    http: httpx.AsyncClient,
    token_key: str,
) -> None:
    ns = real_tenant.namespace
    game = await _ready(kubectl, ns, "homeworld")
    await rcon(game, "setblock 4 70 4 gold_block")  # before the backup
    created = await http.post(
        "/api/v1/servers/homeworld/backups", json={}, headers=real_tenant.headers
    )
    assert created.status_code == 202, created.text
    backup = created.json()["name"]
    assert _wait_backup(kubectl, ns, backup)["phase"] == "Completed"
    await rcon(game, "setblock 8 70 8 diamond_block")  # after the backup
    await rcon(game, "save-all flush")

    # Another tenant sees none of it: not the list, not the backup, not a restore of it.
    other = make_tenant(kubectl, token_key, f"other-{secrets.token_hex(3)}")
    try:
        for method, path, body in (
            ("GET", "/api/v1/servers/homeworld/backups", None),
            ("GET", f"/api/v1/backups/{backup}", None),
            ("POST", f"/api/v1/backups/{backup}/restore", {}),
            ("POST", f"/api/v1/backups/{backup}/restore", {"server": "stolen"}),
            ("POST", f"/api/v1/backups/{backup}/verify", None),
            ("DELETE", f"/api/v1/backups/{backup}", None),
        ):
            answer = await http.request(method, path, json=body, headers=other.headers)
            assert answer.status_code == 404, (method, path, answer.status_code, answer.text)
        assert kubectl.get("minecraftserver", "stolen", other.namespace) is None
        assert kubectl.get("minecraftbackup", backup, ns) is not None
    finally:
        kubectl.run("delete", "namespace", other.namespace, "--wait=false", check=False)

    # Into the same server: stopped, replaced, started.
    answer = await http.post(
        f"/api/v1/backups/{backup}/restore", json={}, headers=real_tenant.headers
    )
    assert answer.status_code == 202, answer.text
    restore = answer.json()["restore"]["name"]
    assert _wait_restore(kubectl, ns, restore)["phase"] == "Completed"
    await asyncio.to_thread(wait_phase, kubectl, ns, "homeworld", "Running", START_TIMEOUT)
    blocks = await _blocks(game_of(kubectl, ns, "homeworld"), "4,70,4", "8,70,8")
    assert blocks == {"4,70,4": "gold_block", "8,70,8": blocks["8,70,8"]}, blocks
    assert blocks["8,70,8"] != "diamond_block", "a change made after the backup survived"

    # Into a new server, made from the backup.
    answer = await http.post(
        f"/api/v1/backups/{backup}/restore",
        json={"server": "twinworld"},
        headers=real_tenant.headers,
    )
    assert answer.status_code == 202, answer.text
    await asyncio.to_thread(wait_phase, kubectl, ns, "twinworld", "Running", START_TIMEOUT + 120)
    twin = await _blocks(game_of(kubectl, ns, "twinworld"), "4,70,4", "8,70,8")
    assert twin["4,70,4"] == "gold_block" and twin["8,70,8"] != "diamond_block", twin
    assert _status(kubectl, "minecraftserver", "twinworld", ns).get("restoredFrom") == backup

    timeline = await http.get(
        "/api/v1/servers/homeworld/events", params={"limit": 200}, headers=real_tenant.headers
    )
    assert timeline.status_code == 200, timeline.text
    kinds = json.dumps(timeline.json()["items"])
    assert "restore" in kinds and backup in kinds, kinds[-2000:]


async def test_a_copy_killed_mid_way_fails_resumes_saving_and_the_next_one_succeeds(
    real_tenant: Tenant, real_node: SandboxConfig, kubectl: Kubectl, operator: ManagedProcess
) -> None:
    ns = real_tenant.namespace
    game = await _ready(kubectl, ns, "bulky")
    # A few hundred MB of incompressible data, so the copy runs long enough to be killed.
    bulk = pv_directory(kubectl, ns, "bulky") / "world" / "bulk"
    bulk.mkdir(parents=True, exist_ok=True)
    for index in range(6):
        (bulk / f"r.{index}.0.mca").write_bytes(os.urandom(64 << 20))
    subprocess.run(["chown", "-R", "1000:1000", str(bulk)], check=True)

    _apply(kubectl, ns, "MinecraftBackup", "bulky-killed", {"server": "bulky"})

    def copying() -> str | None:
        pods = kubectl.json(
            "get", "pods", "-n", ns, "-l", "app.kubernetes.io/component=backup-copy"
        )["items"]
        running = [p for p in pods if (p.get("status") or {}).get("phase") == "Running"]
        return running[0]["metadata"]["name"] if running else None

    pod = wait_for(copying, timeout=120, interval=0.5, what="the copy running")
    kubectl.run("delete", "pod", pod, "-n", ns, "--grace-period=0", "--force", "--wait=false")
    failed = _wait_backup(kubectl, ns, "bulky-killed")
    assert failed["phase"] == "Failed", failed
    assert failed.get("reason") and failed.get("message"), failed
    assert not failed.get("savesPaused"), failed
    assert "already" in (await rcon(game, "save-on")).lower(), "saving was left off"

    _apply(kubectl, ns, "MinecraftBackup", "bulky-again", {"server": "bulky"})
    again = _wait_backup(kubectl, ns, "bulky-again", timeout=BACKUP_TIMEOUT + 240)
    assert again["phase"] == "Completed", again
    checked = _restic(restic_env(real_node, real_tenant.name), "check", check=False)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "no errors were found" in checked.stdout, checked.stdout


async def test_verification_boots_a_good_backup_and_catches_a_corrupted_one(
    real_tenant: Tenant, real_node: SandboxConfig, kubectl: Kubectl, operator: ManagedProcess
) -> None:
    ns = real_tenant.namespace
    game = await _ready(kubectl, ns, "checked", backups={"verify": True})
    _apply(kubectl, ns, "MinecraftBackup", "checked-good", {"server": "checked"})
    assert _wait_backup(kubectl, ns, "checked-good")["phase"] == "Completed"

    def verification(name: str) -> dict[str, Any] | None:
        found = _status(kubectl, "minecraftbackup", name, ns).get("verification") or {}
        return found if found.get("state") in ("Verified", "Failed") else None

    good = wait_for(lambda: verification("checked-good"), timeout=420, interval=2, what="verified")
    assert good["state"] == "Verified", good
    wait_for(
        lambda: (
            True
            if not kubectl.json("get", "mcs", "-n", ns, "-l", "craftplane.io/verifies-backup")[
                "items"
            ]
            else None
        ),
        timeout=180,
        what="the scratch server deleted",
    )

    # New data, then a backup that is not verified at once; its new packs are then damaged.
    await rcon(game, "setblock 5 70 5 emerald_block")
    (pv_directory(kubectl, ns, "checked") / "world" / "extra.dat").write_bytes(os.urandom(4 << 20))
    bucket = bucket_dir(real_node, real_tenant.name)
    before = {p for p in bucket.rglob("*") if p.is_file()}
    _apply(kubectl, ns, "MinecraftBackup", "checked-bad", {"server": "checked", "verify": False})
    assert _wait_backup(kubectl, ns, "checked-bad")["phase"] == "Completed"
    packs = [p for p in bucket.rglob("*") if p.is_file() and p not in before and "/data/" in str(p)]
    assert packs, "the second backup added no pack to the store"
    for pack in packs:
        data = bytearray(pack.read_bytes())
        for at in range(len(data) // 4, len(data) - 64, max(1, len(data) // 16)):
            data[at] ^= 0xFF
        pack.write_bytes(bytes(data))
    kubectl.run(
        "annotate", "minecraftbackup", "checked-bad", "-n", ns, "--overwrite",
        "craftplane.io/verify-requested-at=2026-12-01T00:00:00Z",
    )  # fmt: skip
    bad = wait_for(
        lambda: verification("checked-bad"), timeout=420, interval=2, what="verification"
    )
    assert bad["state"] == "Failed", bad
    assert bad.get("reason") and bad.get("message"), bad


async def test_retention_keeps_the_last_three_scheduled_backups(
    real_tenant: Tenant, real_node: SandboxConfig, kubectl: Kubectl, operator: ManagedProcess
) -> None:
    ns = real_tenant.namespace
    backups = {"schedule": "* * * * *", "retention": {"keepLast": 3}}
    await _ready(kubectl, ns, "kept", backups=backups)
    env = restic_env(real_node, real_tenant.name)

    def scheduled() -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = kubectl.json(
            "get", "mcb", "-n", ns, "-l", "craftplane.io/backup-trigger=scheduled"
        )["items"]
        return items

    def fifth_done() -> bool | None:
        made = kubectl.json(
            "get", "events", "-n", ns, "--field-selector", "involvedObject.name=kept"
        )
        started = {e["message"] for e in made["items"] if e["reason"] == "BackupScheduled"}
        done = [b for b in scheduled() if (b.get("status") or {}).get("phase") == "Completed"]
        return True if len(started) >= 5 and len(done) <= 3 and _settled(done) else None

    def _settled(done: list[dict[str, Any]]) -> bool:
        return len(_snapshots(env, "craftplane.io/trigger=scheduled")) == 3 and len(done) == 3

    wait_for(fifth_done, timeout=480, interval=5, what="five scheduled backups, three kept")
    # A sixth slot may be copying by now: only completed backups name snapshots.
    done = [b for b in scheduled() if (b.get("status") or {}).get("phase") == "Completed"]
    kept = {b["status"]["snapshotId"] for b in done}
    in_repo = {s["short_id"] for s in _snapshots(env, "craftplane.io/trigger=scheduled")}
    assert len(in_repo) <= 4, in_repo  # three kept, at most one more being pruned
    kept = {k for k in kept if k[:8] in in_repo}
    assert len(kept) >= 3, (kept, in_repo)
    status = _status(kubectl, "minecraftserver", "kept", ns)
    assert status.get("nextBackup"), status
