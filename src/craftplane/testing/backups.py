"""restic by hand on this host against a sandbox tenant's backup repository: what the tests
and the bench check the operator's backups with (its snapshots, their files, a corruption)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

from craftplane.sandbox import objectstore, repositories
from craftplane.sandbox.config import SandboxConfig


def restic_env(
    sandbox: SandboxConfig, tenant: str, cache_dir: Path | None = None
) -> dict[str, str]:
    """This process's environment plus the tenant's repository as this host reaches it
    (RESTIC_REPOSITORY, RESTIC_PASSWORD, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RESTIC_", "AWS_"))}
    env.update(repositories.host_env(sandbox, tenant))
    if cache_dir is not None:
        env["RESTIC_CACHE_DIR"] = str(cache_dir)
    return env


def restic(
    sandbox: SandboxConfig, tenant: str, *args: str, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """``restic ARGS`` against the tenant's repository; never raises on its exit code. Without
    a cache, so what it reads is the repository's state, not a copy from an earlier call."""
    binary = shutil.which("restic")
    if binary is None:
        raise RuntimeError("restic is not installed on this host (make bootstrap)")
    return subprocess.run(
        [binary, "--no-cache", *args],
        env=restic_env(sandbox, tenant),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def snapshots(sandbox: SandboxConfig, tenant: str, *args: str) -> list[dict[str, Any]]:
    """The repository's snapshots (``restic snapshots --json ARGS``), oldest first."""
    result = restic(sandbox, tenant, "snapshots", "--json", *args)
    if result.returncode != 0:
        raise AssertionError(f"restic snapshots failed ({result.returncode}): {result.stderr}")
    found: list[dict[str, Any]] = json.loads(result.stdout or "[]")
    return found


def bucket_dir(sandbox: SandboxConfig, tenant: str) -> Path:
    """The tenant's bucket on disk (the store serves a directory): where a test corrupts a
    pack file to see a verification fail."""
    return objectstore.data_dir(sandbox) / repositories.bucket_for(tenant)
