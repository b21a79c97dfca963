"""CraftplanePolicies of the suites and benchmarks (cluster-scoped, so shared by every test)."""

from __future__ import annotations

from typing import Any, Final

import yaml

from craftplane.contracts.names import API_VERSION
from craftplane.contracts.policy import POLICY_KIND
from craftplane.testing.kubectl import Kubectl

# Room for the suites' servers (the fault and chaos tests make dozens to hundreds in one
# tenant, the scale benchmark a thousand: more than the default policy's quota allows); the
# admission rules are the default policy's.
ROOMY_POLICY: Final = "craftplane-tests"
ROOMY_QUOTA: Final = {"servers": 10_000, "cpu": "10k", "memory": "1000Ti", "storage": "10Pi"}


def ensure_policy(kubectl: Kubectl, name: str, spec: dict[str, Any]) -> str:
    """Apply the CraftplanePolicy ``name`` with ``spec``; its name."""
    body = {
        "apiVersion": API_VERSION,
        "kind": POLICY_KIND,
        "metadata": {"name": name, "labels": {"app.kubernetes.io/part-of": "craftplane-tests"}},
        "spec": spec,
    }
    kubectl.run(
        "apply", "--server-side", "--force-conflicts", "-f", "-", stdin=yaml.safe_dump(body)
    )
    return name
