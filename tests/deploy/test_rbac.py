"""Least privilege, checked the way an auditor would: `kubectl auth can-i` as the ServiceAccounts.

Only the RBAC objects of the base (ServiceAccounts, Roles, bindings) and one tenant namespace made
from the template are applied for real; everything is removed afterwards.
"""

from __future__ import annotations

import pytest

from craftplane.testing.kubectl import Kubectl
from tests.deploy.conftest import SYSTEM, Installed

pytestmark = pytest.mark.cluster

OPERATOR = f"system:serviceaccount:{SYSTEM}:craftplane-operator"
GATEWAY = f"system:serviceaccount:{SYSTEM}:craftplane-gateway"
ROUTER = f"system:serviceaccount:{SYSTEM}:craftplane-router"
# A ServiceAccount with no bindings at all: what every authenticated user may do anyway.
NOBODY = f"system:serviceaccount:{SYSTEM}:craftplane-rbac-test-nobody"
BINDINGS = "validatingadmissionpolicybindings.admissionregistration.k8s.io"


def can_i(kubectl: Kubectl, who: str, *args: str) -> bool:
    result = kubectl.run("auth", "can-i", *args, f"--as={who}", check=False)
    answer = result.stdout.strip()
    assert answer in ("yes", "no"), (args, result.stdout, result.stderr)
    return answer == "yes"


def rules(kubectl: Kubectl, who: str, namespace: str) -> set[tuple[str, str, str, str]]:
    """`kubectl auth can-i --list` as rows (resources, non-resource URLs, names, verbs)."""
    out = kubectl.run("auth", "can-i", "--list", f"--as={who}", "-n", namespace).stdout
    lines = out.splitlines()
    header = lines[0]
    starts = [header.index(title) for title in ("Non-Resource URLs", "Resource Names", "Verbs")]
    rows = set()
    for line in lines[1:]:
        cells = (
            line[: starts[0]],
            line[starts[0] : starts[1]],
            line[starts[1] : starts[2]],
            line[starts[2] :],
        )
        rows.add(tuple(cell.strip() for cell in cells))
    return rows  # type: ignore[return-value]


@pytest.mark.parametrize("who", [OPERATOR, GATEWAY, ROUTER], ids=["operator", "gateway", "router"])
def test_no_wildcards(kubectl: Kubectl, installed: Installed, who: str) -> None:
    for namespace in (SYSTEM, installed.tenant_namespace, installed.other_namespace):
        granted = rules(kubectl, who, namespace)
        everyone = rules(kubectl, NOBODY, namespace)
        own = granted - everyone
        assert own, f"{who} has no rules of its own in {namespace}"
        for resources, _urls, _names, verbs in granted:
            assert "*" not in resources, (namespace, resources, verbs)
            assert "*" not in verbs, (namespace, resources, verbs)
        # The discovery URLs (/api/*, ...) come from system:discovery, bound to every user.
        for _, urls, _, _ in own:
            assert "*" not in urls, (namespace, urls)


def test_operator_reads_secrets_only_in_tenant_namespaces(
    kubectl: Kubectl, installed: Installed
) -> None:
    tenant, other = installed.tenant_namespace, installed.other_namespace
    for verb in ("get", "list", "watch", "create", "patch"):
        assert can_i(kubectl, OPERATOR, verb, "secrets", "-n", tenant), verb
    for namespace in (other, SYSTEM, "default", "kube-system"):
        for verb in ("get", "list", "watch"):
            assert not can_i(kubectl, OPERATOR, verb, "secrets", "-n", namespace), (
                verb,
                namespace,
            )
    assert not can_i(kubectl, OPERATOR, "list", "secrets", "--all-namespaces")
    assert not can_i(kubectl, OPERATOR, "get", "secrets/rbac-probe", "-n", other)
    assert not can_i(kubectl, OPERATOR, "delete", "secrets", "-n", tenant)


def test_gateway_reads_a_secret_by_name_only_in_tenant_namespaces(
    kubectl: Kubectl, installed: Installed
) -> None:
    """The console reads one server's RCON password per command; it can list none."""
    tenant = installed.tenant_namespace
    assert can_i(kubectl, GATEWAY, "get", "secrets", "-n", tenant)
    for verb in ("list", "watch", "create", "patch", "delete"):
        assert not can_i(kubectl, GATEWAY, verb, "secrets", "-n", tenant), verb
    for namespace in (installed.other_namespace, SYSTEM, "default", "kube-system"):
        for verb in ("get", "list", "watch"):
            assert not can_i(kubectl, GATEWAY, verb, "secrets", "-n", namespace), (verb, namespace)
    assert not can_i(kubectl, GATEWAY, "list", "secrets", "--all-namespaces")


def test_operator_can_do_its_work_and_no_more(kubectl: Kubectl, installed: Installed) -> None:
    tenant, other = installed.tenant_namespace, installed.other_namespace
    for args in (
        ("list", "minecraftservers.craftplane.io", "--all-namespaces"),
        ("patch", "minecraftservers.craftplane.io", "-n", tenant),
        ("patch", "minecraftservers.craftplane.io", "--subresource=status", "-n", tenant),
        ("update", "minecraftservers.craftplane.io", "--subresource=finalizers", "-n", tenant),
        ("watch", "namespaces"),
        ("get", "craftplanepolicies.craftplane.io"),
        ("list", "craftplanepolicies.craftplane.io"),
        ("watch", "craftplanepolicies.craftplane.io"),
        ("patch", "statefulsets.apps", "-n", tenant),
        ("create", "services", "-n", tenant),
        ("patch", "configmaps", "-n", tenant),
        ("watch", "pods", "-n", tenant),
        ("watch", "persistentvolumeclaims", "-n", tenant),
        ("patch", "persistentvolumeclaims", "-n", tenant),
        ("delete", "statefulsets.apps", "-n", tenant),
        ("get", "secrets", "-n", tenant),
        ("get", "pods", "-n", tenant),
        ("create", "events", "-n", tenant),
        # Backups: their CRs, the Jobs, the Job pods' logs, a restored server's world volume.
        ("watch", "minecraftbackups.craftplane.io", "--all-namespaces"),
        ("watch", "minecraftrestores.craftplane.io", "--all-namespaces"),
        ("patch", "minecraftbackups.craftplane.io", "-n", tenant),
        ("patch", "minecraftbackups.craftplane.io", "--subresource=status", "-n", tenant),
        ("patch", "minecraftrestores.craftplane.io", "--subresource=status", "-n", tenant),
        ("update", "minecraftbackups.craftplane.io", "--subresource=finalizers", "-n", tenant),
        ("create", "minecraftbackups.craftplane.io", "-n", tenant),
        ("delete", "minecraftbackups.craftplane.io", "-n", tenant),
        ("create", "minecraftrestores.craftplane.io", "-n", tenant),
        ("create", "minecraftservers.craftplane.io", "-n", tenant),
        ("delete", "minecraftservers.craftplane.io", "-n", tenant),
        ("create", "jobs.batch", "-n", tenant),
        ("watch", "jobs.batch", "-n", tenant),
        ("delete", "jobs.batch", "-n", tenant),
        ("get", "pods", "--subresource=log", "-n", tenant),
        ("create", "persistentvolumeclaims", "-n", tenant),
        ("create", "leases.coordination.k8s.io", "-n", SYSTEM),
        ("update", "leases.coordination.k8s.io/craftplane-operator", "-n", SYSTEM),
        # The unknown-policy binding's list of existing policies, and nothing else of admission.
        ("get", f"{BINDINGS}/craftplane-unknown-policy"),
        ("patch", f"{BINDINGS}/craftplane-unknown-policy"),
    ):
        assert can_i(kubectl, OPERATOR, *args), args
    for args in (
        ("patch", "statefulsets.apps", "-n", other),
        ("watch", "pods", "-n", other),
        ("create", "configmaps", "-n", SYSTEM),
        ("delete", "minecraftservers.craftplane.io", "-n", other),
        ("create", "minecraftbackups.craftplane.io", "-n", other),
        ("delete", "minecraftbackups.craftplane.io", "-n", other),
        ("create", "jobs.batch", "-n", other),
        ("create", "jobs.batch", "-n", SYSTEM),
        ("get", "pods", "--subresource=log", "-n", other),
        ("create", "persistentvolumeclaims", "-n", other),
        ("delete", "statefulsets.apps", "-n", other),
        ("delete", "services", "-n", tenant),
        ("delete", "persistentvolumeclaims", "-n", tenant),
        ("patch", "persistentvolumeclaims", "-n", other),
        ("create", "pods", "--subresource=exec", "-n", tenant),
        ("update", "leases.coordination.k8s.io/someone-else", "-n", SYSTEM),
        ("create", "leases.coordination.k8s.io", "-n", tenant),
        ("create", "pods", "-n", tenant),
        ("create", "rolebindings.rbac.authorization.k8s.io", "-n", tenant),
        ("patch", "namespaces"),
        # Placement profiles are the admin's: read, never written.
        ("patch", "craftplanepolicies.craftplane.io"),
        ("create", "craftplanepolicies.craftplane.io"),
        ("delete", "craftplanepolicies.craftplane.io"),
        # Never the tenant policy's binding, never a new one, never the policies themselves.
        ("patch", f"{BINDINGS}/craftplane-tenant-policy"),
        ("get", f"{BINDINGS}/craftplane-tenant-policy"),
        ("update", f"{BINDINGS}/craftplane-unknown-policy"),
        ("delete", f"{BINDINGS}/craftplane-unknown-policy"),
        ("create", BINDINGS),
        ("list", BINDINGS),
        ("patch", "validatingadmissionpolicies.admissionregistration.k8s.io"),
        ("delete", "validatingadmissionpolicies.admissionregistration.k8s.io"),
    ):
        assert not can_i(kubectl, OPERATOR, *args), args


def test_gateway_works_on_servers_in_tenant_namespaces_only(
    kubectl: Kubectl, installed: Installed
) -> None:
    tenant, other = installed.tenant_namespace, installed.other_namespace
    for verb in ("get", "list", "watch", "create", "patch", "delete"):
        assert can_i(kubectl, GATEWAY, verb, "minecraftservers.craftplane.io", "-n", tenant)
        assert not can_i(kubectl, GATEWAY, verb, "minecraftservers.craftplane.io", "-n", other)
        assert not can_i(kubectl, GATEWAY, verb, "minecraftservers.craftplane.io", "-n", SYSTEM)
    assert not can_i(kubectl, GATEWAY, "list", "minecraftservers.craftplane.io", "--all-namespaces")
    # Backups and restores: the same verbs, in tenant namespaces only (their live frames come
    # from one watch per tenant namespace); never their status, which is the operator's.
    for resource in ("minecraftbackups.craftplane.io", "minecraftrestores.craftplane.io"):
        for verb in ("get", "list", "watch", "create", "patch", "delete"):
            assert can_i(kubectl, GATEWAY, verb, resource, "-n", tenant), (verb, resource)
            assert not can_i(kubectl, GATEWAY, verb, resource, "-n", other), (verb, resource)
            assert not can_i(kubectl, GATEWAY, verb, resource, "-n", SYSTEM), (verb, resource)
        assert not can_i(kubectl, GATEWAY, "watch", resource, "--all-namespaces"), resource
        assert not can_i(kubectl, GATEWAY, "patch", resource, "--subresource=status", "-n", tenant)
    assert can_i(kubectl, GATEWAY, "list", "namespaces")
    assert can_i(kubectl, GATEWAY, "watch", "namespaces")
    # Every request's tenant check reads the token's namespace (its craftplane.io/tenant label).
    assert can_i(kubectl, GATEWAY, "get", "namespaces/tenant-anything")
    # The console and the logs: one pod and its log, by name.
    for args in (("get", "pods", "-n", tenant), ("get", "pods", "--subresource=log", "-n", tenant)):
        assert can_i(kubectl, GATEWAY, *args), args
    for args in (
        ("patch", "minecraftservers.craftplane.io", "--subresource=status", "-n", tenant),
        ("list", "pods", "-n", tenant),
        ("get", "pods", "-n", other),
        ("get", "pods", "--subresource=log", "-n", other),
        ("create", "pods", "--subresource=exec", "-n", tenant),
        ("create", "statefulsets.apps", "-n", tenant),
        ("patch", "namespaces"),
        ("update", "namespaces"),
        ("create", "namespaces"),
        ("delete", "namespaces"),
    ):
        assert not can_i(kubectl, GATEWAY, *args), args


def test_tenant_admin_manages_servers_but_not_secrets(
    kubectl: Kubectl, installed: Installed
) -> None:
    tenant = installed.tenant_namespace
    admin = ["--as=someone", f"--as-group=craftplane:tenant:{tenant.removeprefix('tenant-')}"]

    def admin_can(*args: str) -> bool:
        result = kubectl.run("auth", "can-i", *args, *admin, check=False)
        return result.stdout.strip() == "yes"

    assert admin_can("create", "minecraftservers.craftplane.io", "-n", tenant)
    assert admin_can("get", "pods", "--subresource=log", "-n", tenant)
    assert not admin_can("get", "secrets", "-n", tenant)
    assert not admin_can(
        "create", "minecraftservers.craftplane.io", "-n", installed.other_namespace
    )
    assert not admin_can("patch", "statefulsets.apps", "-n", tenant)


def test_router_reads_servers_everywhere_and_patches_them_in_tenant_namespaces_only(
    kubectl: Kubectl, installed: Installed
) -> None:
    """Its one write asks for a wake on join (admission narrows it to the wake annotations)."""
    tenant, other = installed.tenant_namespace, installed.other_namespace
    servers = "minecraftservers.craftplane.io"
    for verb in ("list", "watch"):
        assert can_i(kubectl, ROUTER, verb, servers, "--all-namespaces"), verb
    assert can_i(kubectl, ROUTER, "watch", "namespaces")
    assert can_i(kubectl, ROUTER, "patch", servers, "-n", tenant)
    for namespace in (other, SYSTEM, "default"):
        assert not can_i(kubectl, ROUTER, "patch", servers, "-n", namespace), namespace
    for args in (
        ("create", servers, "-n", tenant),
        ("update", servers, "-n", tenant),
        ("delete", servers, "-n", tenant),
        ("patch", servers, "--subresource=status", "-n", tenant),
        ("get", "secrets", "-n", tenant),
        ("patch", "statefulsets.apps", "-n", tenant),
    ):
        assert not can_i(kubectl, ROUTER, *args), args
