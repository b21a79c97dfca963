"""Who may reach and act in a tenant's namespace: its NetworkPolicies and RBAC.

The same for every tenant and every policy. ``manifests/tenant/network-policies.yaml`` and
``rbac.yaml`` hold these objects for GitOps; the unit test that renders the Component checks
they stay equal, so the reasons are written there, beside the YAML people read.
"""

from __future__ import annotations

from typing import Any, Final

from craftplane.contracts import names
from craftplane.contracts.backup import (
    BACKUP_COMPONENTS,
    BACKUP_PLURAL,
    LABEL_COMPONENT,
    RESTORE_PLURAL,
)
from craftplane.contracts.router_admission import ROUTER_ACCOUNT, ROUTER_NAMESPACE

Obj = dict[str, Any]

# Where manifests/base installs the operator, the gateway and the router (whose identity the
# router's admission policy names too, hence from the contracts).
SYSTEM_NAMESPACE: Final = ROUTER_NAMESPACE
OPERATOR_ACCOUNT: Final = "craftplane-operator"
GATEWAY_ACCOUNT: Final = "craftplane-gateway"
GAME_PORT: Final = 25565
TENANT_ADMIN: Final = "tenant-admin"
_SERVERS: Final = {"matchLabels": {names.LABEL_NAME: names.APP_NAME}}
_PART_OF: Final = {names.LABEL_PART_OF: names.PART_OF}
# The servers' downloads go to the public internet only: no pod, node or private network.
PRIVATE_NETWORKS: Final = (
    "10.0.0.0/8",
    "172.16.0.0/12",
    "192.168.0.0/16",
    "100.64.0.0/10",
    "169.254.0.0/16",
    "127.0.0.0/8",
)
# Where the backup Jobs may send: the repository's S3 endpoint, at any address (in the cluster,
# on a private network or a cloud's), on the ports S3 endpoints use: HTTPS, HTTP, MinIO's
# default, and the sandbox's object store (versitygw, sandbox.config objectstore_port).
BACKUP_STORE_PORTS: Final = (443, 80, 9000, 17070)


def tenant_admin_group(tenant: str) -> str:
    """The group of a tenant's people, as the cluster's authenticator names them."""
    return f"craftplane:tenant:{tenant}"


def _network_policy(namespace: str, name: str, spec: Obj) -> Obj:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": name, "namespace": namespace},
        "spec": spec,
    }


def _tcp(*ports: int) -> list[Obj]:
    return [{"protocol": "TCP", "port": port} for port in ports]


def network_policies(namespace: str) -> list[Obj]:
    dns = {
        "to": [
            {
                "namespaceSelector": {
                    "matchLabels": {"kubernetes.io/metadata.name": "kube-system"}
                },
                "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
            }
        ],
        "ports": [{"protocol": "UDP", "port": 53}, *_tcp(53)],
    }
    craftplane = {
        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": SYSTEM_NAMESPACE}},
        "podSelector": {
            "matchExpressions": [
                {
                    "key": names.LABEL_NAME,
                    "operator": "In",
                    "values": [OPERATOR_ACCOUNT, GATEWAY_ACCOUNT],
                }
            ]
        },
    }
    internet = {"ipBlock": {"cidr": "0.0.0.0/0", "except": list(PRIVATE_NETWORKS)}}
    specs: dict[str, Obj] = {
        "default-deny": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]},
        "allow-dns-egress": {"podSelector": {}, "policyTypes": ["Egress"], "egress": [dns]},
        "allow-game-port": {
            "podSelector": _SERVERS,
            "policyTypes": ["Ingress"],
            "ingress": [{"ports": _tcp(GAME_PORT)}],
        },
        "allow-rcon-from-craftplane": {
            "podSelector": _SERVERS,
            "policyTypes": ["Ingress"],
            "ingress": [{"from": [craftplane], "ports": _tcp(names.RCON_PORT)}],
        },
        # Only the operator's Jobs carry these labels: a tenant can create no pod, and the
        # server pods' labels are the operator's. The repository's URL is the admin's Secret.
        "allow-backup-egress": {
            "podSelector": {
                "matchExpressions": [
                    {"key": LABEL_COMPONENT, "operator": "In", "values": list(BACKUP_COMPONENTS)}
                ]
            },
            "policyTypes": ["Egress"],
            "egress": [{"ports": _tcp(*BACKUP_STORE_PORTS)}],
        },
        "allow-server-downloads": {
            "podSelector": _SERVERS,
            "policyTypes": ["Egress"],
            "egress": [{"to": [internet], "ports": _tcp(443, 80)}],
        },
    }
    return [_network_policy(namespace, name, spec) for name, spec in specs.items()]


def _binding(namespace: str, name: str, role: Obj, subject: Obj) -> Obj:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": {"name": name, "namespace": namespace, "labels": dict(_PART_OF)},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", **role},
        "subjects": [subject],
    }


def _account(name: str) -> Obj:
    return {"kind": "ServiceAccount", "name": name, "namespace": SYSTEM_NAMESPACE}


def _read(group: str, *resources: str) -> Obj:
    return {"apiGroups": [group], "resources": list(resources), "verbs": ["get", "list", "watch"]}


def tenant_admin_role(namespace: str) -> Obj:
    everything = ["get", "list", "watch", "create", "update", "patch", "delete"]
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": {"name": TENANT_ADMIN, "namespace": namespace, "labels": dict(_PART_OF)},
        "rules": [
            {"apiGroups": [names.GROUP], "resources": [names.PLURAL], "verbs": everything},
            {"apiGroups": [names.GROUP], "resources": [f"{names.PLURAL}/status"], "verbs": ["get"]},
            # Backups and restores are asked for and withdrawn; their specs are immutable. A
            # backup's patch is for its verify-request annotation (`kubectl annotate`).
            {
                "apiGroups": [names.GROUP],
                "resources": [BACKUP_PLURAL],
                "verbs": ["get", "list", "watch", "create", "patch", "delete"],
            },
            {
                "apiGroups": [names.GROUP],
                "resources": [RESTORE_PLURAL],
                "verbs": ["get", "list", "watch", "create", "delete"],
            },
            {
                "apiGroups": [names.GROUP],
                "resources": [f"{BACKUP_PLURAL}/status", f"{RESTORE_PLURAL}/status"],
                "verbs": ["get"],
            },
            _read(
                "",
                "pods",
                "pods/log",
                "services",
                "configmaps",
                "persistentvolumeclaims",
                "events",
            ),
            _read("apps", "statefulsets"),
            # The backup, restore and prune Jobs (their pods and logs are readable above).
            _read("batch", "jobs"),
            _read("events.k8s.io", "events"),
        ],
    }


def rbac_objects(tenant: str, namespace: str) -> list[Obj]:
    cluster_role = {"kind": "ClusterRole"}
    return [
        _binding(
            namespace,
            OPERATOR_ACCOUNT,
            {**cluster_role, "name": f"{OPERATOR_ACCOUNT}-tenant"},
            _account(OPERATOR_ACCOUNT),
        ),
        _binding(
            namespace,
            GATEWAY_ACCOUNT,
            {**cluster_role, "name": f"{GATEWAY_ACCOUNT}-tenant"},
            _account(GATEWAY_ACCOUNT),
        ),
        # patch, for wake on join; admission lets it change nothing but the wake annotations.
        _binding(
            namespace,
            ROUTER_ACCOUNT,
            {**cluster_role, "name": f"{ROUTER_ACCOUNT}-tenant"},
            _account(ROUTER_ACCOUNT),
        ),
        tenant_admin_role(namespace),
        _binding(
            namespace,
            TENANT_ADMIN,
            {"kind": "Role", "name": TENANT_ADMIN},
            {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "Group",
                "name": tenant_admin_group(tenant),
            },
        ),
    ]
