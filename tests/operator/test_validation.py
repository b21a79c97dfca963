"""Invalid MinecraftServers are refused by the API server, naming the field; nothing is created."""

from __future__ import annotations

from typing import Any

import pytest

from craftplane.testing.kubectl import Kubectl
from craftplane.testing.servers import owned_children
from tests.operator.conftest import server_manifest

pytestmark = pytest.mark.cluster

CASES: list[tuple[str, dict[str, Any], str]] = [
    ("unknown-type", {"type": "BEDROCKISH"}, "spec.type"),
    ("negative-memory", {"resources": {"memory": "-2Gi"}}, "spec.resources.memory"),
    ("malformed-memory", {"resources": {"memory": "lots"}}, "spec.resources.memory"),
    ("no-eula", {"eula": False}, "spec.eula"),
    ("bad-storage", {"storage": {"size": "ten gigs"}}, "spec.storage.size"),
    ("reserved-env", {"env": [{"name": "EULA", "value": "FALSE"}]}, "spec.env"),
    # A line break would add server.properties lines of its own (enable-rcon, white-list).
    (
        "property-injection",
        {"properties": {"serverProperties": {"spawn-protection": "0\nwhite-list=false"}}},
        "spec.properties.serverProperties",
    ),
    (
        "property-opens-query",
        {"properties": {"serverProperties": {"enable-query": "true"}}},
        "spec.properties.serverProperties",
    ),
    ("motd-injection", {"properties": {"motd": "hi\nenable-rcon=false"}}, "spec.properties.motd"),
    ("seed-control", {"properties": {"levelSeed": "1\r2"}}, "spec.properties.levelSeed"),
    ("env-value-newline", {"env": [{"name": "TZ", "value": "UTC\nEULA=FALSE"}]}, "spec.env"),
    ("env-rcon-family", {"env": [{"name": "rcon_cmds_startup", "value": "op x"}]}, "spec.env"),
    ("env-jvm-injection", {"env": [{"name": "JAVA_TOOL_OPTIONS", "value": "-x"}]}, "spec.env"),
    ("env-loader-preload", {"env": [{"name": "Ld_Preload", "value": "/x.so"}]}, "spec.env"),
    ("env-skip-properties", {"env": [{"name": "SKIP_SERVER_PROPERTIES"}]}, "spec.env"),
    (
        "jvm-agent",
        {"resources": {"jvm": {"flags": ["-javaagent:/data/evil.jar"]}}},
        "spec.resources.jvm.flags",
    ),
    (
        "bad-cron",
        {"lifecycle": {"restartSchedule": {"cron": "every day"}}},
        "spec.lifecycle.restartSchedule.cron",
    ),
    (
        "toleration-junk-key",
        {"scheduling": {"tolerations": [{"key": "a", "junk": "x"}]}},
        "spec.scheduling.tolerations",
    ),
    (
        "toleration-bad-operator",
        {"scheduling": {"tolerations": [{"key": "a", "operator": "Maybe"}]}},
        "spec.scheduling.tolerations",
    ),
    (
        "toleration-exists-with-value",
        {"scheduling": {"tolerations": [{"key": "a", "operator": "Exists", "value": "x"}]}},
        "spec.scheduling.tolerations",
    ),
    (
        "affinity-junk-key",
        {"scheduling": {"affinity": {"nodeAffinity": {"anything": ["goes"]}}}},
        "spec.scheduling.affinity",
    ),
    (
        "affinity-other-namespace",
        {
            "scheduling": {
                "affinity": {
                    "podAffinity": {
                        "requiredDuringSchedulingIgnoredDuringExecution": [
                            {"topologyKey": "kubernetes.io/hostname", "namespaces": ["other"]}
                        ]
                    }
                }
            }
        },
        "spec.scheduling.affinity",
    ),
    (
        "affinity-in-without-values",
        {
            "scheduling": {
                "affinity": {
                    "nodeAffinity": {
                        "requiredDuringSchedulingIgnoredDuringExecution": {
                            "nodeSelectorTerms": [
                                {"matchExpressions": [{"key": "disk", "operator": "In"}]}
                            ]
                        }
                    }
                }
            }
        },
        "spec.scheduling.affinity",
    ),
    (
        "annotation-bad-key",
        {"service": {"annotations": {"not a key": "x"}}},
        "spec.service.annotations",
    ),
    (
        "too-many-annotations",
        {"service": {"annotations": {f"k{i}": "v" for i in range(33)}}},
        "spec.service.annotations",
    ),
    (
        "node-selector-bad-value",
        {"scheduling": {"nodeSelector": {"disk": "has space"}}},
        "spec.scheduling.nodeSelector",
    ),
    # Hostnames: a shared namespace on a shared cluster, so the API server bounds them too.
    ("hostname-wildcard", {"service": {"hostnames": ["*.example.com"]}}, "spec.service.hostnames"),
    (
        "hostname-uppercase",
        {"service": {"hostnames": ["Play.example.com"]}},
        "spec.service.hostnames",
    ),
    ("hostname-one-label", {"service": {"hostnames": ["localhost"]}}, "spec.service.hostnames"),
    (
        "hostname-twice",
        {"service": {"hostnames": ["a.example.com", "a.example.com"]}},
        "spec.service.hostnames",
    ),
    (
        "hostnames-too-many",
        {"service": {"hostnames": [f"s{i}.example.com" for i in range(9)]}},
        "spec.service.hostnames",
    ),
    (
        "router-annotation",
        {"service": {"annotations": {"mc-router.itzg.me/externalServerName": "victim.example"}}},
        "spec.service.annotations",
    ),
    (
        "router-default-server",
        {"service": {"annotations": {"mc-router.itzg.me/defaultServer": "true"}}},
        "spec.service.annotations",
    ),
]


@pytest.mark.parametrize(("name", "spec", "field"), CASES, ids=[c[0] for c in CASES])
def test_invalid_server_is_refused(
    kubectl: Kubectl, namespace: str, name: str, spec: dict[str, Any], field: str
) -> None:
    result = kubectl.run(
        "apply",
        "--validate=strict",  # unknown keys refused, not pruned, whatever kubectl's default
        "-n",
        namespace,
        "-f",
        "-",
        stdin=server_manifest(name, **spec),
        check=False,
    )
    assert result.returncode != 0
    assert field in result.stderr, result.stderr
    assert kubectl.get("minecraftserver", name, namespace) is None
    assert all(not items for items in owned_children(kubectl, namespace, name).values())


def test_typed_scheduling_and_one_line_text_are_accepted(kubectl: Kubectl, namespace: str) -> None:
    # The refusals above must not catch the ordinary shapes: the server is created.
    spec: dict[str, Any] = {
        "properties": {"motd": "§6Gold §rserver", "serverProperties": {"spawn-protection": "0"}},
        "env": [{"name": "TZ", "value": "Europe/Berlin"}, {"name": "PACKWIZ_URL", "value": "x"}],
        "service": {"annotations": {"external-dns.alpha.kubernetes.io/hostname": "mc.example"}},
        "scheduling": {
            "nodeSelector": {"kubernetes.io/os": "linux"},
            "tolerations": [{"key": "pool", "operator": "Equal", "value": "game"}],
            "affinity": {
                "podAntiAffinity": {
                    "preferredDuringSchedulingIgnoredDuringExecution": [
                        {
                            "weight": 50,
                            "podAffinityTerm": {
                                "labelSelector": {"matchLabels": {"app": "mc"}},
                                "topologyKey": "kubernetes.io/hostname",
                            },
                        }
                    ]
                }
            },
        },
    }
    kubectl.run("apply", "-n", namespace, "-f", "-", stdin=server_manifest("typed-ok", **spec))
    created = kubectl.get("minecraftserver", "typed-ok", namespace)
    assert created is not None
    assert created["spec"]["scheduling"] == spec["scheduling"]


def test_explain_teaches_the_fields(kubectl: Kubectl, crds_installed: None) -> None:
    out = kubectl.run("explain", "minecraftserver.spec.storage").stdout
    assert "retainOnDelete" in out
    assert "DESCRIPTION" in out
