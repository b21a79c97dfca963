"""The kustomize overlays against the real API server: schema, admission and Pod Security."""

from __future__ import annotations

import copy
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from craftplane.testing.kubectl import Kubectl
from craftplane.testing.wait import wait_for
from tests.deploy.conftest import (
    MANIFESTS,
    OVERLAYS,
    ROOT,
    WORKLOAD_KINDS,
    delete_namespaces,
    ensure_namespaces,
    pod_template,
    render,
)

pytestmark = pytest.mark.cluster

Objects = list[dict[str, Any]]


def by_kind(objects: Objects, kind: str) -> dict[tuple[str | None, str], dict[str, Any]]:
    return {
        (o["metadata"].get("namespace"), o["metadata"]["name"]): o
        for o in objects
        if o["kind"] == kind
    }


def workloads(objects: Objects) -> list[dict[str, Any]]:
    return [o for o in objects if o["kind"] in WORKLOAD_KINDS]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_overlay_applies_with_server_dry_run(
    kubectl: Kubectl, rendered: dict[str, Objects], overlay: str
) -> None:
    # A server-side dry run of an object in a namespace that does not exist yet fails (the
    # Namespace in the same apply is not persisted), so those namespaces are made first.
    namespaces = {o["metadata"]["name"] for o in rendered[overlay] if o["kind"] == "Namespace"}
    created = ensure_namespaces(kubectl, namespaces)
    try:
        result = kubectl.run(
            "apply", "-k", str(MANIFESTS / "overlays" / overlay), "--dry-run=server", check=False
        )
    finally:
        delete_namespaces(kubectl, created)
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    assert len(lines) == len(rendered[overlay])
    assert all(line.endswith("(server dry run)") for line in lines), result.stdout
    warnings = [
        line
        for line in result.stderr.splitlines()
        if line.startswith("Warning:") and "last-applied-configuration" not in line
    ]
    assert warnings == []


def test_overlays_hold_the_platform(rendered: dict[str, Objects]) -> None:
    for overlay, objects in rendered.items():
        deployments = by_kind(objects, "Deployment")
        for name in ("craftplane-operator", "craftplane-gateway", "craftplane-router"):
            deployment = deployments[("craftplane-system", name)]
            assert deployment["spec"]["replicas"] == 2, (overlay, name)
            assert ("craftplane-system", name) in by_kind(objects, "PodDisruptionBudget")
            assert ("craftplane-system", name) in by_kind(objects, "ServiceAccount")
            spread = pod_template(deployment)["spec"]["topologySpreadConstraints"]
            assert {c["topologyKey"] for c in spread} == {
                "kubernetes.io/hostname",
                "topology.kubernetes.io/zone",
            }
        assert ("craftplane-system", "craftplane-gateway") in by_kind(objects, "Service")
        # One address for every server's players: the router's load balancer.
        router = by_kind(objects, "Service")[("craftplane-system", "craftplane-router")]
        assert router["spec"]["type"] == "LoadBalancer"
        assert [p["port"] for p in router["spec"]["ports"]] == [25565]
        crds = by_kind(objects, "CustomResourceDefinition")
        assert (None, "minecraftservers.craftplane.io") in crds
        nats = by_kind(objects, "StatefulSet")[("craftplane-system", "nats")]
        assert nats["spec"]["volumeClaimTemplates"][0]["metadata"]["name"] == "data"
        config = by_kind(objects, "ConfigMap")[("craftplane-system", "nats-config")]
        assert "jetstream" in config["data"]["nats.conf"]
        assert "store_dir: /data" in config["data"]["nats.conf"]
    dev_statefulsets = by_kind(rendered["dev"], "StatefulSet")
    assert ("craftplane-system", "postgres") in dev_statefulsets
    assert ("craftplane-system", "postgres") not in by_kind(rendered["prod"], "StatefulSet")
    # prod reads DATABASE_URL from a Secret made out of band; dev generates a throwaway one.
    assert ("craftplane-system", "craftplane-database") in by_kind(rendered["dev"], "Secret")
    assert by_kind(rendered["prod"], "Secret") == {}


def test_operator_elects_a_leader_in_its_own_namespace(rendered: dict[str, Objects]) -> None:
    for objects in rendered.values():
        deployment = by_kind(objects, "Deployment")[("craftplane-system", "craftplane-operator")]
        env = {e["name"]: e for e in pod_template(deployment)["spec"]["containers"][0]["env"]}
        assert env["POD_NAMESPACE"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.namespace"
        assert env["CRAFTPLANE_OPERATOR_NAMESPACES"]["value"] == '["tenant-*"]'
        role = by_kind(objects, "Role")[
            ("craftplane-system", "craftplane-operator-leader-election")
        ]
        granted = {
            (tuple(rule.get("resourceNames", [])), verb)
            for rule in role["rules"]
            if rule["resources"] == ["leases"]
            for verb in rule["verbs"]
        }
        assert (("craftplane-operator",), "update") in granted


def test_images_are_pinned(rendered: dict[str, Objects]) -> None:
    expected = {"dev": "0.1.0-dev", "prod": "0.1.0"}
    for overlay, objects in rendered.items():
        for workload in workloads(objects):
            spec = pod_template(workload)["spec"]
            for container in spec.get("initContainers", []) + spec["containers"]:
                image = container["image"]
                name, _, tag = image.rpartition(":")
                assert name and tag and tag != "latest", (overlay, image)
                if name.startswith("ghcr.io/craftplane/"):
                    assert tag == expected[overlay], (overlay, image)


def test_every_container_has_probes_resources_and_a_restricted_context(
    rendered: dict[str, Objects],
) -> None:
    for overlay, objects in rendered.items():
        for workload in workloads(objects):
            where = f"{overlay}: {workload['kind']}/{workload['metadata']['name']}"
            spec = pod_template(workload)["spec"]
            pod_context = spec["securityContext"]
            assert pod_context["runAsNonRoot"] is True, where
            assert pod_context["seccompProfile"]["type"] == "RuntimeDefault", where
            assert pod_context["runAsUser"] != 0, where
            for container in spec["containers"]:
                for probe in ("readinessProbe", "livenessProbe"):
                    assert probe in container, f"{where} {container['name']} {probe}"
                for bound in ("requests", "limits"):
                    assert set(container["resources"][bound]) >= {"cpu", "memory"}, where
                context = container["securityContext"]
                assert context["allowPrivilegeEscalation"] is False, where
                assert context["capabilities"]["drop"] == ["ALL"], where
                assert "add" not in context["capabilities"], where
                if overlay == "prod":
                    assert context["readOnlyRootFilesystem"] is True, where


@pytest.fixture
def restricted_namespace(kubectl: Kubectl) -> Iterator[str]:
    name = f"t-pss-{secrets.token_hex(3)}"
    kubectl.run("create", "namespace", name)
    kubectl.run(
        "label",
        "namespace",
        name,
        "pod-security.kubernetes.io/enforce=restricted",
        "pod-security.kubernetes.io/enforce-version=latest",
    )
    wait_for(
        lambda: kubectl.get("serviceaccount", "default", name) is not None,
        timeout=30,
        what=f"default ServiceAccount in {name}",
    )
    yield name
    kubectl.run("delete", "namespace", name, "--wait=false", check=False)


def as_pod(workload: dict[str, Any], namespace: str) -> dict[str, Any]:
    """The pod a workload would create, to submit to admission as is."""
    template = copy.deepcopy(pod_template(workload))
    spec = template["spec"]
    # The pod's own ServiceAccount is not in the scratch namespace; Pod Security ignores it.
    spec.pop("serviceAccountName", None)
    # Volume claim templates become volumes of the StatefulSet's pods.
    for claim in workload["spec"].get("volumeClaimTemplates", []):
        spec.setdefault("volumes", []).append({"name": claim["metadata"]["name"], "emptyDir": {}})
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": f"{workload['metadata']['name']}-0",
            "namespace": namespace,
            "labels": template["metadata"].get("labels", {}),
        },
        "spec": spec,
    }


def test_control_plane_pods_pass_pod_security_restricted(
    kubectl: Kubectl, rendered: dict[str, Objects], restricted_namespace: str
) -> None:
    # The label is enforced: a root pod is refused in the same namespace.
    root_pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "root", "namespace": restricted_namespace},
        "spec": {"containers": [{"name": "c", "image": "busybox:1.36"}]},
    }
    refused = kubectl.run(
        "create", "--dry-run=server", "-f", "-", stdin=yaml.safe_dump(root_pod), check=False
    )
    assert refused.returncode != 0, "a root pod was admitted: the namespace is not restricted"
    assert "violate" in refused.stderr and "PodSecurity" in refused.stderr, refused.stderr

    for overlay, objects in rendered.items():
        for workload in workloads(objects):
            pod = as_pod(workload, restricted_namespace)
            result = kubectl.run(
                "create", "--dry-run=server", "-f", "-", stdin=yaml.safe_dump(pod), check=False
            )
            assert result.returncode == 0, f"{overlay} {pod['metadata']['name']}: {result.stderr}"


def test_network_policies(rendered: dict[str, Objects], kubectl: Kubectl) -> None:
    tenant = [o for o in rendered["dev"] if o["metadata"].get("namespace") == "tenant-demo"]
    for objects, namespace in ((rendered["dev"], "craftplane-system"), (tenant, "tenant-demo")):
        policies = by_kind(objects, "NetworkPolicy")
        deny = policies[(namespace, "default-deny")]["spec"]
        assert deny["podSelector"] == {} and set(deny["policyTypes"]) == {"Ingress", "Egress"}
        dns = policies[(namespace, "allow-dns-egress")]["spec"]["egress"][0]["ports"]
        assert {(p["protocol"], p["port"]) for p in dns} == {("UDP", 53), ("TCP", 53)}

    policies = by_kind(rendered["dev"], "NetworkPolicy")
    nats = policies[("craftplane-system", "nats")]["spec"]["ingress"]
    (peer,) = [peer for rule in nats for peer in rule["from"]]
    assert set(peer["podSelector"]["matchExpressions"][0]["values"]) == {
        "craftplane-operator",
        "craftplane-gateway",
    }
    postgres = policies[("craftplane-system", "postgres")]["spec"]["ingress"]
    assert [peer for rule in postgres for peer in rule["from"]] == [
        {"podSelector": {"matchLabels": {"app.kubernetes.io/name": "craftplane-gateway"}}}
    ]
    game = policies[("tenant-demo", "allow-game-port")]["spec"]
    assert game["podSelector"]["matchLabels"]["app.kubernetes.io/name"] == "minecraft-server"
    assert game["ingress"] == [{"ports": [{"protocol": "TCP", "port": 25565}]}]
    # Only the gateway's policies open egress to a database port.
    for objects in rendered.values():
        for (_, name), policy in by_kind(objects, "NetworkPolicy").items():
            ports = {
                p["port"]
                for rule in policy["spec"].get("egress", [])
                for p in rule.get("ports", [])
            }
            if ports & {5432, 26257}:
                selector = policy["spec"]["podSelector"]["matchLabels"]
                assert selector == {"app.kubernetes.io/name": "craftplane-gateway"}, name


def test_tenant_template_is_restricted_and_bound(kubectl: Kubectl) -> None:
    objects = render(kubectl, MANIFESTS / "samples" / "tenant")
    (namespace,) = by_kind(objects, "Namespace").values()
    labels = namespace["metadata"]["labels"]
    assert namespace["metadata"]["name"] == "tenant-acme"
    assert labels["craftplane.io/tenant"] == "acme"
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"
    assert not by_kind(objects, "ConfigMap"), "the template's input must not be applied"
    assert {o["metadata"].get("namespace") for o in objects if o["kind"] != "Namespace"} == {
        "tenant-acme"
    }
    bindings = by_kind(objects, "RoleBinding")
    assert bindings[("tenant-acme", "craftplane-operator")]["roleRef"]["name"] == (
        "craftplane-operator-tenant"
    )
    assert bindings[("tenant-acme", "craftplane-gateway")]["roleRef"]["name"] == (
        "craftplane-gateway-tenant"
    )
    assert bindings[("tenant-acme", "craftplane-router")]["roleRef"]["name"] == (
        "craftplane-router-tenant"
    )
    assert bindings[("tenant-acme", "tenant-admin")]["subjects"][0]["name"] == (
        "craftplane:tenant:acme"
    )
    assert ("tenant-acme", "tenant-quota") in by_kind(objects, "ResourceQuota")
    assert ("tenant-acme", "tenant-limits") in by_kind(objects, "LimitRange")


def test_crds_kustomization_lists_every_crd() -> None:
    crds = ROOT / "crds"
    listed = yaml.safe_load((crds / "Kustomization").read_text())["resources"]
    assert sorted(listed) == sorted(p.name for p in crds.glob("*.yaml"))


@pytest.mark.parametrize("sample", ["minecraftserver.yaml", "backup.yaml"])
def test_samples_are_valid(kubectl: Kubectl, crds_installed: None, sample: str) -> None:
    path = MANIFESTS / "samples" / sample
    result = kubectl.run("apply", "--dry-run=server", "-n", "default", "-f", str(path), check=False)
    assert result.returncode == 0, result.stderr


def test_dockerfiles_are_pinned_and_non_root() -> None:
    for name in ("operator", "gateway", "router"):
        text = (ROOT / "docker" / f"{name}.Dockerfile").read_text()
        assert "ARG PYTHON_IMAGE=python:3.11." in text and "-slim-bookworm" in text
        assert "useradd --system --uid 10001" in text
        assert text.rstrip().splitlines()[-2] == "USER 10001:10001", (
            "runtime must be the last stage"
        )
        assert f'ENTRYPOINT ["craftplane-{name}"]' in text
    gateway = (ROOT / "docker" / "gateway.Dockerfile").read_text()
    assert "ARG NODE_IMAGE=node:20." in gateway
    assert "npm ci" in gateway and "npm run build" in gateway
    assert "COPY --from=dashboard /dashboard/dist /app/dashboard" in gateway


def test_manifest_paths_exist() -> None:
    for directory in (MANIFESTS / "base", MANIFESTS / "postgres", MANIFESTS / "tenant"):
        assert (directory / "kustomization.yaml").is_file(), directory
    assert Path(MANIFESTS / "README.md").is_file()


def container_env(deployment: dict[str, Any]) -> dict[str, str]:
    """The container's environment as the process sees it (values from the downward API,
    Secrets or resources replaced by placeholders)."""
    env = {}
    for item in pod_template(deployment)["spec"]["containers"][0]["env"]:
        env[item["name"]] = item.get("value", f"from-{item['name'].lower()}")
    return env


def test_environment_parses_with_the_applications_settings(
    rendered: dict[str, Objects], monkeypatch: pytest.MonkeyPatch
) -> None:
    from craftplane_gateway.settings import GatewaySettings
    from craftplane_operator.settings import OperatorSettings, routing_errors
    from craftplane_router.settings import RouterSettings, startup_errors

    # Only what the manifests set may reach the settings, not this shell's CRAFTPLANE_* values.
    for name in [
        n
        for n in os.environ
        if n.startswith("CRAFTPLANE_") or n in ("NATS_URL", "DATABASE_URL", "POD_NAMESPACE")
    ]:
        monkeypatch.delenv(name)
    for overlay, objects in rendered.items():
        deployments = by_kind(objects, "Deployment")
        with monkeypatch.context() as patch:
            for name, value in container_env(
                deployments[("craftplane-system", "craftplane-operator")]
            ).items():
                patch.setenv(name, value)
            operator = OperatorSettings()
            assert operator.namespaces == ["tenant-*"], overlay
            # Each overlay names its game domain and the router's address, valid at start-up.
            assert operator.game_domain and operator.router_public_address, overlay
            assert routing_errors(operator) == [], overlay
            assert operator.lease_namespace == "from-pod_namespace"
            assert operator.http_port == 8090
            assert operator.nats_url == "nats://nats.craftplane-system.svc:4222"
        with monkeypatch.context() as patch:
            for name, value in container_env(
                deployments[("craftplane-system", "craftplane-gateway")]
            ).items():
                patch.setenv(name, value)
            gateway = GatewaySettings()
            assert gateway.port == 8080
            assert gateway.dashboard_dir == "/app/dashboard"
            assert gateway.allowed_origins and all(
                origin.startswith("http") for origin in gateway.allowed_origins
            ), overlay
        with monkeypatch.context() as patch:
            for name, value in container_env(
                deployments[("craftplane-system", "craftplane-router")]
            ).items():
                patch.setenv(name, value)
            router = RouterSettings()
            assert (router.port, router.metrics_port) == (25565, 9102), overlay
            assert startup_errors(router) == [], overlay
