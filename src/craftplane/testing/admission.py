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


# kube-controller-manager's quota controller counts a CRD's objects only once its discovery
# resync (every 30 s) has found the CRD and the new informer has synced: until then the quota
# admission refuses with "status unknown for quota". On a cold 2-core sandbox the CRDs
# installed at the first cluster test took 2 minutes to be counted (11:25:29 -> 11:27:30).
ADMITTED_TIMEOUT = 240.0


def wait_admitted(
    kubectl: Kubectl, namespace: str, manifest: str, timeout: float = ADMITTED_TIMEOUT
) -> None:
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
