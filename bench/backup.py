"""Backup and restore throughput through the platform, against restic run by hand.

A server on the real node gets a world of generated region files (``--mib``, 1 GiB by
default: random 8 MiB ``r.X.Z.mca`` files, incompressible like real zlib-compressed chunks);
the server is stopped, so both sides copy exactly the same files.

Platform: a MinecraftBackup (the operator's Job: restic in the backup image, on the same
node, streaming to the sandbox's S3 store), then, after ``--change-pct`` of the region files
are rewritten, a second one (incremental: restic's deduplication), then a MinecraftRestore of
the first into the server. Figures from apply until the CR says Completed (what a user waits
for) and restic's own duration (status.durationSeconds).

Baseline (same run, same files, same store, same restic): ``restic backup`` run by hand on
the host on the volume's directory into a separate repository in the same bucket, the same
second backup after the same change, and ``restic restore`` into a scratch directory.

    python -m bench backup --mib 1024
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.harness import host_load, kubectl, row, sandbox
from craftplane.sandbox import apps, node, stack
from craftplane.sandbox.config import SandboxConfig
from craftplane.testing.backups import restic_env

FILE_MIB = 8


def _get(cfg: SandboxConfig, kind: str, name: str, ns: str) -> dict[str, Any]:
    found: dict[str, Any] = json.loads(kubectl(cfg, "get", kind, name, "-n", ns, "-o", "json"))
    return found


def _apply(cfg: SandboxConfig, ns: str, kind: str, name: str, spec: dict[str, Any]) -> None:
    body = {"apiVersion": "craftplane.io/v1alpha1", "kind": kind, "metadata": {"name": name}}
    kubectl(cfg, "apply", "-n", ns, "-f", "-", stdin=json.dumps({**body, "spec": spec}))


def _until(what: str, probe: Any, timeout: float) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = probe()
        if found:
            return found
        time.sleep(0.5)
    raise SystemExit(f"{what}: not within {timeout:.0f}s")


def _phase(cfg: SandboxConfig, kind: str, name: str, ns: str, *wanted: str) -> dict[str, Any]:
    def ended() -> dict[str, Any] | None:
        status: dict[str, Any] = _get(cfg, kind, name, ns).get("status") or {}
        if status.get("phase") == "Failed" and "Failed" not in wanted:
            raise SystemExit(f"{kind} {name} failed: {status.get('message')}")
        return status if status.get("phase") in wanted else None

    found: dict[str, Any] = _until(f"{kind} {name} {wanted}", ended, 3600)
    return found


def _world(cfg: SandboxConfig, ns: str, server: str) -> Path:
    claim = _get(cfg, "persistentvolumeclaim", f"data-{server}-0", ns)
    volume = json.loads(kubectl(cfg, "get", "pv", claim["spec"]["volumeName"], "-o", "json"))
    source = volume["spec"].get("hostPath") or volume["spec"].get("local")
    return Path(source["path"])


def _generate(region: Path, mib: int) -> list[Path]:
    region.mkdir(parents=True, exist_ok=True)
    files = []
    for index in range(max(1, mib // FILE_MIB)):
        path = region / f"r.{index % 16}.{index // 16}.mca"
        path.write_bytes(os.urandom(FILE_MIB << 20))
        files.append(path)
    return files


def _change(files: list[Path], pct: float) -> int:
    changed = files[: max(1, round(len(files) * pct / 100))]
    for path in changed:
        path.write_bytes(os.urandom(FILE_MIB << 20))
    return len(changed)


def _timed(env: dict[str, str], *args: str) -> tuple[float, dict[str, Any]]:
    started = time.monotonic()
    done = subprocess.run(["restic", *args], env=env, capture_output=True, text=True, check=True)
    took = time.monotonic() - started
    summary: dict[str, Any] = {}
    for line in done.stdout.splitlines():
        if line.startswith("{") and '"summary"' in line:
            summary = json.loads(line)
    return took, summary


def _backup(cfg: SandboxConfig, ns: str, server: str, name: str) -> tuple[float, dict[str, Any]]:
    started = time.monotonic()
    _apply(cfg, ns, "MinecraftBackup", name, {"server": server})
    status = _phase(cfg, "minecraftbackup", name, ns, "Completed")
    return time.monotonic() - started, status


def _mbps(size: float, seconds: float) -> str:
    return f"{size / (1 << 20) / seconds:.1f}" if seconds > 0 else "-"


def _job_limits(cfg: SandboxConfig, ns: str) -> str:
    jobs = json.loads(kubectl(cfg, "get", "jobs", "-n", ns, "-o", "json"))["items"]
    for job in jobs:
        for container in job["spec"]["template"]["spec"]["containers"]:
            limits = (container.get("resources") or {}).get("limits") or {}
            return f"cpu {limits.get('cpu', 'none')}, memory {limits.get('memory', 'none')}"
    return "(the Jobs were already deleted)"


def _prepare(cfg: SandboxConfig, ns: str, mib: int) -> list[Path]:
    spec = {
        "eula": True,
        "version": "1.21.4",
        "resources": {"cpu": "500m", "memory": "1Gi"},
        "storage": {"size": f"{max(2, 3 * mib // 1024 + 1)}Gi"},
        "properties": {"onlineMode": False},
    }
    _apply(cfg, ns, "MinecraftServer", "world", spec)
    _phase(cfg, "minecraftserver", "world", ns, "Running")
    _apply(cfg, ns, "MinecraftServer", "world", {**spec, "stopped": True})
    _phase(cfg, "minecraftserver", "world", ns, "Stopped")
    root = _world(cfg, ns, "world")
    files = _generate(root / "world" / "region-bench", mib)
    subprocess.run(["chown", "-R", "1000:1000", str(root / "world")], check=True)
    return files


def run(cfg: SandboxConfig, mib: int, change_pct: float) -> None:
    tenant = f"real-bench-{secrets.token_hex(3)}"
    ns = apps.ensure_tenant(cfg, tenant)
    try:
        files = _prepare(cfg, ns, mib)
        root = _world(cfg, ns, "world")
        # Another repository in the same bucket: the by-hand runs deduplicate against nothing
        # the platform stored.
        env = restic_env(cfg, tenant)
        env["RESTIC_REPOSITORY"] += "/baseline"
        subprocess.run(["restic", "init"], env=env, capture_output=True, check=True)
        size = sum(p.stat().st_size for p in root.rglob("*") if p.is_file())
        print(f"world: {size / (1 << 20):.0f} MiB in {len(files)} region files; {host_load()}")

        first_wall, first = _backup(cfg, ns, "world", "world-first")
        limits = _job_limits(cfg, ns)
        hand_first, hand_first_sum = _timed(env, "backup", "--json", "--host", "world", str(root))
        changed = _change(files, change_pct)
        second_wall, second = _backup(cfg, ns, "world", "world-second")
        hand_second, hand_second_sum = _timed(env, "backup", "--json", "--host", "world", str(root))

        started = time.monotonic()
        _apply(
            cfg, ns, "MinecraftRestore", "world-back", {"backup": "world-first", "server": "world"}
        )
        _phase(cfg, "minecraftrestore", "world-back", ns, "Completed")
        restore_wall = time.monotonic() - started
        scratch = Path(tempfile.mkdtemp(prefix="bench-restore-"))
        try:
            hand_restore, _ = _timed(env, "restore", "latest", "--target", str(scratch))
        finally:
            shutil.rmtree(scratch, ignore_errors=True)

        print(f"backup Job limits: {limits}; second backup after rewriting {changed} files")
        print(row("", "wall s", "restic s", "MiB/s", "added MiB", width=16))
        mib_of = lambda n: f"{(n or 0) / (1 << 20):.1f}"  # noqa: E731
        for label, wall, own, added in (
            ("platform 1st", first_wall, first["durationSeconds"], first.get("addedBytes")),
            ("by hand 1st", hand_first, hand_first_sum.get("total_duration", 0), hand_first_sum.get("data_added")),
            ("platform 2nd", second_wall, second["durationSeconds"], second.get("addedBytes")),
            ("by hand 2nd", hand_second, hand_second_sum.get("total_duration", 0), hand_second_sum.get("data_added")),
        ):  # fmt: skip
            print(
                row(label, f"{wall:.1f}", f"{own:.1f}", _mbps(size, own), mib_of(added), width=16)
            )
        print(
            row(
                "platform restore",
                f"{restore_wall:.1f}",
                "-",
                _mbps(size, restore_wall),
                "-",
                width=16,
            )
        )
        print(
            row(
                "by hand restore",
                f"{hand_restore:.1f}",
                "-",
                _mbps(size, hand_restore),
                "-",
                width=16,
            )
        )
        print(f"load after: {host_load()}")
    finally:
        kubectl(cfg, "delete", "namespace", ns, "--wait=false")


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench backup", description=__doc__)
    parser.add_argument("--mib", type=int, default=1024, help="size of the generated world")
    parser.add_argument("--change-pct", type=float, default=5.0)
    args = parser.parse_args(argv)
    cfg = sandbox()
    if not node.enabled(cfg):
        raise SystemExit("the real node is off (CRAFTPLANE_REAL_NODE=false)")
    stack.up(cfg)  # the operator, with the sandbox's placement and backup image
    run(cfg, args.mib, args.change_pct)
