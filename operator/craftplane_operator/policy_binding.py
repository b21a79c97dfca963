"""Keeps the binding of ``craftplane-unknown-policy`` naming the CraftplanePolicies that exist.

That admission policy refuses spec writes in a tenant namespace whose policy label names no
existing CraftplanePolicy; which namespaces those are is its binding's namespace selector,
the existing names in a NotIn (``contracts.admission.unknown_policy_binding``). The API server
cannot keep that list itself, so the leader lists the policies every
``CRAFTPLANE_OPERATOR_POLICY_BINDING_SECONDS`` and writes the binding only when it differs: a
new policy can be named within one period, a deleted one is refused within one period.

The binding is installed with ``manifests/admission`` and only ever patched here: creating it
would need ``create``, which RBAC cannot limit to one name. A missing binding (the hole open
again) is reported once, for the admin to re-apply the manifests.
"""

from __future__ import annotations

from craftplane import logs
from craftplane.contracts.admission import (
    UNKNOWN_NAME,
    nameable_policies,
    unknown_policy_binding,
)
from craftplane.contracts.names import MANAGER_NAME
from craftplane.contracts.policy import POLICY_KIND
from craftplane.kube import KubeClient
from craftplane_operator.matching import up_to_date

log = logs.get_logger(__name__)

BINDING_KIND = "ValidatingAdmissionPolicyBinding"


class PolicyBindingKeeper:
    def __init__(self, kube: KubeClient) -> None:
        self._kube = kube
        self._missing_reported = False

    async def sync_once(self) -> bool:
        """Bring the binding up to date; whether it had to be written. A KubeError (the API
        unreachable, the binding refused) is raised for the loop to report and retry."""
        policies = await self._kube.list_objects(POLICY_KIND)
        existing = nameable_policies(p["metadata"]["name"] for p in policies)
        desired = unknown_policy_binding(existing)
        live = await self._kube.get(BINDING_KIND, None, UNKNOWN_NAME)
        if live is None:
            if not self._missing_reported:
                log.warning(
                    "policy binding %s is missing: namespaces naming a CraftplanePolicy that "
                    "does not exist are not refused; re-apply manifests/admission",
                    UNKNOWN_NAME,
                    extra={"binding": UNKNOWN_NAME},
                )
                self._missing_reported = True
            return False
        self._missing_reported = False
        # Compared field by field: the API server adds defaults (matchPolicy, objectSelector)
        # that would otherwise make every pass a write.
        if up_to_date(live, desired):
            return False
        await self._kube.apply(desired, field_manager=MANAGER_NAME)
        log.info(
            "policy binding now excludes %d policies",
            len(existing),
            extra={"binding": UNKNOWN_NAME, "policies": ",".join(existing)},
        )
        return True
