"""Waiting for the admission policies to see a change: a new CraftplanePolicy and a relabelled
namespace reach the API server's admission through informers, and the unknown-policy binding
lists a new policy only after the operator's next pass."""

from __future__ import annotations

import subprocess

from craftplane.testing.kubectl import Kubectl
from craftplane.testing.wait import wait_for


def dry_run(kubectl: Kubectl, namespace: str, manifest: str) -> subprocess.CompletedProcess[str]:
    """``kubectl apply --dry-run=server``: every admission check, nothing stored."""
    return kubectl.run(
        "apply", "--dry-run=server", "-n", namespace, "-f", "-", stdin=manifest, check=False
    )


def wait_admitted(kubectl: Kubectl, namespace: str, manifest: str, timeout: float = 60) -> None:
    """Until ``manifest`` (a MinecraftServer the namespace's policy allows) would be admitted."""
    last: list[str] = []

    def admitted() -> bool:
        result = dry_run(kubectl, namespace, manifest)
        last[:] = [result.stderr.strip()]
        return result.returncode == 0

    try:
        wait_for(admitted, timeout=timeout, what=f"a server admitted in {namespace}")
    except AssertionError as exc:
        raise AssertionError(f"{exc}; last refusal: {last[0] if last else '-'}") from exc


def wait_refused(
    kubectl: Kubectl, namespace: str, manifest: str, rule: str, timeout: float = 60
) -> str:
    """Until ``manifest`` would be refused naming ``rule``; the refusal."""

    def refused() -> str | None:
        result = dry_run(kubectl, namespace, manifest)
        if result.returncode != 0 and f"rule {rule})" in result.stderr:
            return result.stderr
        return None

    return wait_for(refused, timeout=timeout, what=f"a server refused by rule {rule}")
