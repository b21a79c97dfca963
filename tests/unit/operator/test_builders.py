from __future__ import annotations

import base64
import json
import string
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest
from pydantic import ValidationError

from craftplane.contracts import names
from craftplane.contracts.service import MC_ROUTER_HOSTNAMES
from craftplane_operator.builders import (
    LIVE_SPEC_PATHS,
    IncompleteBody,
    ServerContext,
    build_children,
    build_configmap,
    build_headless_service,
    build_secret,
    build_service,
    build_statefulset,
    config_hash,
    existing_password,
    generate_password,
    restarts_server,
)
from craftplane_operator.builders.naming import CONFIG_HASH_ANNOTATION, pvc_name
from tests.unit.operator.factories import NAME, NAMESPACE, UID, cr_body, server

pytestmark = pytest.mark.unit

PASSWORD = "s3cret-password-that-is-32-chars"

Builder = Callable[[ServerContext], dict[str, Any]]
BUILDERS: dict[str, Builder] = {
    "Secret": lambda s: build_secret(s, PASSWORD),
    "ConfigMap": build_configmap,
    "Service": build_service,
    "Service/pods": build_headless_service,
    "StatefulSet": lambda s: build_statefulset(s, "0123456789abcdef"),
}


def pod_spec(sts: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = sts["spec"]["template"]["spec"]
    return spec


def container(sts: dict[str, Any]) -> dict[str, Any]:
    (only,) = pod_spec(sts)["containers"]
    result: dict[str, Any] = only
    return result


def env_of(spec: dict[str, Any] | None = None) -> dict[str, str]:
    data: dict[str, str] = build_configmap(server(spec))["data"]
    return data


# --- context ---------------------------------------------------------------


def test_context_from_body() -> None:
    body = cr_body({"properties": {"motd": "hi"}}, annotations={"a": "b"})
    ctx = ServerContext.from_body(body)
    assert (ctx.name, ctx.namespace, ctx.uid, ctx.generation) == (NAME, NAMESPACE, UID, 3)
    assert ctx.spec.properties.motd == "hi"
    assert ctx.annotations == {"a": "b"}


def test_context_refuses_invalid_spec_located_under_spec() -> None:
    with pytest.raises(ValidationError) as exc:
        ServerContext.from_body(cr_body({"resources": {"memory": "12"}}))
    assert exc.value.errors()[0]["loc"][:3] == ("spec", "resources", "memory")


def test_context_ignores_status_written_by_others() -> None:
    body = {**cr_body(), "status": {"kopf": {"progress": {}}, "phase": "Running"}}
    assert ServerContext.from_body(body).name == NAME


def test_context_needs_identity() -> None:
    body = cr_body()
    del body["metadata"]["uid"]
    with pytest.raises(IncompleteBody, match=r"metadata\.uid"):
        ServerContext.from_body(body)


# --- every child -----------------------------------------------------------


@pytest.mark.parametrize("kind", BUILDERS)
def test_child_is_owned_by_the_server(kind: str) -> None:
    child = BUILDERS[kind](server())
    assert child["kind"] == kind.split("/")[0]
    assert child["metadata"]["namespace"] == NAMESPACE
    assert child["metadata"]["ownerReferences"] == [
        {
            "apiVersion": "craftplane.io/v1alpha1",
            "kind": "MinecraftServer",
            "name": NAME,
            "uid": UID,
            "controller": True,
            "blockOwnerDeletion": True,
        }
    ]


@pytest.mark.parametrize("kind", BUILDERS)
def test_child_has_standard_labels(kind: str) -> None:
    child = BUILDERS[kind](server())
    assert child["metadata"]["labels"] == names.standard_labels(NAME)


@pytest.mark.parametrize("kind", BUILDERS)
def test_child_is_deterministic(kind: str) -> None:
    spec = {
        "allowlist": ["Alex", "Steve"],
        "env": [{"name": "TZ", "value": "UTC"}],
        "properties": {"serverProperties": {"spawn-protection": "0", "allow-flight": "true"}},
        "scheduling": {"tolerations": [{"key": "game", "operator": "Exists"}]},
    }
    first, second = BUILDERS[kind](server(spec)), BUILDERS[kind](server(spec))
    assert first == second
    assert json.dumps(first) == json.dumps(second)  # same key order too


def test_children_in_apply_order() -> None:
    children = build_children(server(), PASSWORD)
    assert [(c["kind"], c["metadata"]["name"]) for c in children] == [
        ("Secret", f"{NAME}-rcon"),
        ("ConfigMap", f"{NAME}-config"),
        ("Service", NAME),
        ("Service", f"{NAME}-pods"),
        ("StatefulSet", NAME),
    ]
    configmap, sts = children[1], children[4]
    annotations = sts["spec"]["template"]["metadata"]["annotations"]
    assert annotations[CONFIG_HASH_ANNOTATION] == config_hash(configmap)


def test_output_does_not_alias_the_spec() -> None:
    affinity = {"nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": []}}
    ctx = server({"scheduling": {"affinity": affinity}})
    pod_spec(build_statefulset(ctx, "h"))["affinity"]["nodeAffinity"]["x"] = 2
    assert ctx.spec.scheduling.affinity is not None
    assert ctx.spec.scheduling.affinity.model_dump(by_alias=True, exclude_none=True) == affinity


# --- ConfigMap -------------------------------------------------------------


def test_configmap_defaults() -> None:
    cm = build_configmap(server())
    assert cm["metadata"]["name"] == f"{NAME}-config"
    assert cm["data"] == {
        "EULA": "TRUE",
        "TYPE": "VANILLA",
        "VERSION": "LATEST",
        "MEMORY": "1536M",  # 75 % of the default 2Gi
        "MOTD": "A Craftplane server",
        "MAX_PLAYERS": "20",
        "DIFFICULTY": "easy",
        "MODE": "survival",
        "ONLINE_MODE": "TRUE",
        "PVP": "TRUE",
        "VIEW_DISTANCE": "10",
        "ENABLE_RCON": "TRUE",
        "RCON_PORT": "25575",
        "SERVER_PORT": "25565",
        "ENABLE_WHITELIST": "FALSE",
        "EXISTING_WHITELIST_FILE": "SYNCHRONIZE",
        "EXISTING_OPS_FILE": "SYNCHRONIZE",
        "USE_AIKAR_FLAGS": "FALSE",  # 1 CPU
        "STOP_DURATION": "60",
    }


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({"type": "PAPER", "version": "1.21.4"}, {"TYPE": "PAPER", "VERSION": "1.21.4"}),
        ({"resources": {"memory": "1Gi"}}, {"MEMORY": "768M"}),
        ({"resources": {"memory": "512Mi"}}, {"MEMORY": "256M"}),
        ({"properties": {"levelSeed": "-42"}}, {"SEED": "-42"}),
        (
            {"properties": {"difficulty": "hard", "gameMode": "creative", "pvp": False}},
            {"DIFFICULTY": "hard", "MODE": "creative", "PVP": "FALSE"},
        ),
        (
            {"properties": {"onlineMode": False, "maxPlayers": 5, "viewDistance": 12}},
            {"ONLINE_MODE": "FALSE", "MAX_PLAYERS": "5", "VIEW_DISTANCE": "12"},
        ),
        (
            {"allowlist": ["Alex", "Steve"]},
            {
                "WHITELIST": "Alex,Steve",
                "ENABLE_WHITELIST": "TRUE",
                "EXISTING_WHITELIST_FILE": "SYNCHRONIZE",
            },
        ),
        ({"ops": ["Alex", "Notch"]}, {"OPS": "Alex,Notch", "EXISTING_OPS_FILE": "SYNCHRONIZE"}),
        (
            {"allowlistMode": "merge", "allowlist": ["Alex"]},
            {"EXISTING_WHITELIST_FILE": "MERGE", "EXISTING_OPS_FILE": "MERGE"},
        ),
        ({"resources": {"memory": "4Gi", "jvm": {"heap": "3G"}}}, {"MEMORY": "3G"}),
        (
            {"resources": {"jvm": {"flags": ["-XX:+UseZGC", "-XX:+ZGenerational"]}}},
            {"JVM_XX_OPTS": "-XX:+UseZGC -XX:+ZGenerational"},
        ),
        ({"resources": {"cpu": "2"}}, {"USE_AIKAR_FLAGS": "TRUE"}),
        ({"resources": {"cpu": "1500m"}}, {"USE_AIKAR_FLAGS": "FALSE"}),
        ({"resources": {"cpu": "4", "jvm": {"aikarFlags": False}}}, {"USE_AIKAR_FLAGS": "FALSE"}),
        ({"resources": {"cpu": "1", "jvm": {"aikarFlags": True}}}, {"USE_AIKAR_FLAGS": "TRUE"}),
        ({"lifecycle": {"stopGracePeriodSeconds": 300}}, {"STOP_DURATION": "300"}),
        ({"rcon": {"enabled": False}}, {"ENABLE_RCON": "FALSE"}),
        ({"env": [{"name": "TZ", "value": "Europe/Paris"}]}, {"TZ": "Europe/Paris"}),
        (
            {
                "properties": {
                    "serverProperties": {
                        "spawn-protection": "0",
                        "motd": "ignored",
                        "allow-flight": "true",
                        "white-list": "ignored",
                    }
                }
            },
            {"CUSTOM_SERVER_PROPERTIES": "allow-flight=true\nspawn-protection=0"},
        ),
    ],
)
def test_configmap_settings(spec: dict[str, Any], expected: dict[str, str]) -> None:
    env = env_of(spec)
    assert {key: env.get(key) for key in expected} == expected


@pytest.mark.parametrize(
    "key", ["SEED", "WHITELIST", "OPS", "CUSTOM_SERVER_PROPERTIES", "JVM_XX_OPTS"]
)
def test_optional_settings_absent_by_default(key: str) -> None:
    assert key not in env_of()


def test_only_typed_server_properties_give_no_custom_entry() -> None:
    assert "CUSTOM_SERVER_PROPERTIES" not in env_of(
        {"properties": {"serverProperties": {"max-players": "99"}}}
    )


@pytest.mark.parametrize(
    ("change", "rolls"),
    [
        ({"properties": {"motd": "Another day"}}, True),
        ({"properties": {"maxPlayers": 50}}, True),
        ({"env": [{"name": "TZ", "value": "UTC"}]}, True),
        ({"image": "itzg/minecraft-server:java21"}, False),  # rolls through the template itself
        ({"stopped": True}, False),
        ({"hibernation": {"afterEmptyMinutes": 10}}, False),
        ({"service": {"type": "NodePort"}}, False),
        ({"storage": {"retainOnDelete": False}}, False),
        ({"scheduling": {"nodeSelector": {"disk": "ssd"}}}, False),
        ({"resources": {"jvm": {"heap": "1G"}}}, True),
        ({"lifecycle": {"stopGracePeriodSeconds": 120}}, True),
        # Applied live over RCON: never a restart.
        ({"allowlist": ["Alex"]}, False),
        ({"ops": ["Alex"]}, False),
        ({"allowlistMode": "merge"}, False),
        ({"lifecycle": {"announceSeconds": 30}}, False),
        ({"lifecycle": {"restartSchedule": {"cron": "0 4 * * *"}}}, False),
    ],
)
def test_config_hash_changes_only_with_settings(change: dict[str, Any], rolls: bool) -> None:
    before = config_hash(build_configmap(server()))
    after = config_hash(build_configmap(server(change)))
    assert (before != after) is rolls


def test_config_hash_is_short_hex_and_ignores_key_order() -> None:
    digest = config_hash({"data": {"A": "1", "B": "2"}})
    assert len(digest) == 16
    assert set(digest) <= set(string.hexdigits.lower())
    assert digest == config_hash({"data": {"B": "2", "A": "1"}})
    assert digest != config_hash({"data": {"A": "1", "B": "3"}})


# --- Secret ----------------------------------------------------------------


def test_secret_holds_the_password_as_data() -> None:
    secret = build_secret(server(), PASSWORD)
    assert secret["metadata"]["name"] == f"{NAME}-rcon"
    assert secret["type"] == "Opaque"
    assert "stringData" not in secret
    assert base64.b64decode(secret["data"]["rcon-password"]).decode() == PASSWORD


def test_password_is_reused_from_the_existing_secret() -> None:
    existing = build_secret(server(), PASSWORD)
    reused = existing_password(existing)
    assert reused == PASSWORD
    assert build_secret(server(), reused) == existing


@pytest.mark.parametrize(
    "secret",
    [
        None,
        {},
        {"data": {}},
        {"data": {"rcon-password": ""}},
        {"data": {"rcon-password": "not base64!"}},
        {"data": {"rcon-password": base64.b64encode(b"\xff\xfe").decode()}},
    ],
)
def test_no_password_to_reuse(secret: dict[str, Any] | None) -> None:
    assert existing_password(secret) is None


def test_generated_passwords() -> None:
    passwords = {generate_password() for _ in range(50)}
    assert len(passwords) == 50
    alphabet = set(string.ascii_letters + string.digits + "-_")
    for password in passwords:
        assert len(password) == 32
        assert set(password) <= alphabet


# --- Service ---------------------------------------------------------------


def test_service_exposes_only_the_game_port() -> None:
    svc = build_service(server())
    assert svc["metadata"]["name"] == NAME
    # mc-router's list is always there, empty without hostnames (it then routes nothing).
    assert svc["metadata"]["annotations"] == {MC_ROUTER_HOSTNAMES: ""}
    assert svc["spec"] == {
        "type": "ClusterIP",
        "selector": names.selector_labels(NAME),
        "ports": [
            {"name": "minecraft", "port": 25565, "targetPort": "minecraft", "protocol": "TCP"}
        ],
    }


def test_rcon_is_never_on_the_service() -> None:
    svc = build_service(server({"rcon": {"enabled": True}, "service": {"type": "LoadBalancer"}}))
    assert [p["port"] for p in svc["spec"]["ports"]] == [25565]


@pytest.mark.parametrize(
    ("service", "type_", "node_port"),
    [
        ({"type": "NodePort"}, "NodePort", None),
        ({"type": "NodePort", "nodePort": 30565}, "NodePort", 30565),
        ({"type": "LoadBalancer"}, "LoadBalancer", None),
    ],
)
def test_service_type_and_node_port(
    service: dict[str, Any], type_: str, node_port: int | None
) -> None:
    svc = build_service(server({"service": service}))
    assert svc["spec"]["type"] == type_
    assert svc["spec"]["ports"][0].get("nodePort") == node_port


def test_headless_service_governs_the_pod() -> None:
    svc = build_headless_service(server())
    assert svc["metadata"]["name"] == f"{NAME}-pods"
    assert svc["spec"] == {
        "clusterIP": "None",
        "publishNotReadyAddresses": True,
        "selector": names.selector_labels(NAME),
        "ports": [
            {"name": "minecraft", "port": 25565, "targetPort": "minecraft", "protocol": "TCP"},
            {"name": "rcon", "port": 25575, "targetPort": "rcon", "protocol": "TCP"},
        ],
    }


def test_headless_service_without_rcon_has_only_the_game_port() -> None:
    svc = build_headless_service(server({"rcon": {"enabled": False}}))
    assert [p["port"] for p in svc["spec"]["ports"]] == [25565]


def test_service_annotations_from_spec() -> None:
    annotations = {"external-dns.alpha.kubernetes.io/hostname": "mc.example.com"}
    svc = build_service(server({"service": {"annotations": annotations}}))
    assert svc["metadata"]["annotations"] == {**annotations, MC_ROUTER_HOSTNAMES: ""}


def test_the_service_names_the_granted_hostnames_for_mc_router() -> None:
    asked = server({"service": {"hostnames": ["play.example.com", "taken.example.com"]}})
    granted = replace(asked, hostnames=("survival.acme.mc.example.com", "play.example.com"))
    svc = build_service(granted)
    # The granted ones only (not what the spec asks for), canonical first.
    assert svc["metadata"]["annotations"][MC_ROUTER_HOSTNAMES] == (
        "survival.acme.mc.example.com,play.example.com"
    )


def test_a_router_annotation_cannot_be_slipped_past_the_contract() -> None:
    # The contracts refuse the prefix; a spec built without validation still loses to ours.
    asked = server()
    spec = asked.spec.model_copy(
        update={
            "service": asked.spec.service.model_copy(
                update={"annotations": {MC_ROUTER_HOSTNAMES: "victim.example.com"}}
            )
        }
    )
    svc = build_service(replace(asked, spec=spec, hostnames=("mine.example.com",)))
    assert svc["metadata"]["annotations"] == {MC_ROUTER_HOSTNAMES: "mine.example.com"}


# --- StatefulSet -----------------------------------------------------------


@pytest.mark.parametrize(("stopped", "replicas"), [(False, 1), (True, 0)])
def test_replicas(stopped: bool, replicas: int) -> None:
    assert build_statefulset(server({"stopped": stopped}), "h")["spec"]["replicas"] == replicas


@pytest.mark.parametrize(("retain", "when_deleted"), [(True, "Retain"), (False, "Delete")])
def test_pvc_retention_policy(retain: bool, when_deleted: str) -> None:
    sts = build_statefulset(server({"storage": {"retainOnDelete": retain}}), "h")
    assert sts["spec"]["persistentVolumeClaimRetentionPolicy"] == {
        "whenDeleted": when_deleted,
        "whenScaled": "Retain",
    }


def test_statefulset_shape() -> None:
    sts = build_statefulset(server(), "abc")
    spec = sts["spec"]
    assert sts["metadata"]["name"] == NAME
    assert spec["serviceName"] == f"{NAME}-pods", "governed by the headless Service"
    assert spec["podManagementPolicy"] == "Parallel"
    assert spec["updateStrategy"] == {"type": "RollingUpdate"}
    assert spec["selector"] == {"matchLabels": names.selector_labels(NAME)}
    template = spec["template"]
    assert template["metadata"]["labels"] == names.standard_labels(NAME)
    assert template["metadata"]["annotations"] == {CONFIG_HASH_ANNOTATION: "abc"}
    pod = template["spec"]
    assert pod["enableServiceLinks"] is False
    assert pod["terminationGracePeriodSeconds"] == 60 + 15  # STOP_DURATION + margin
    assert "nodeSelector" not in pod
    assert "tolerations" not in pod
    assert "affinity" not in pod


def test_container() -> None:
    c = container(build_statefulset(server({"resources": {"cpu": "2", "memory": "4Gi"}}), "h"))
    assert c["name"] == "minecraft"
    assert c["image"] == server().spec.image
    assert c["envFrom"] == [{"configMapRef": {"name": f"{NAME}-config"}}]
    assert c["env"] == [
        {"name": "HOME", "value": "/tmp"},
        {"name": "RCON_PASSWORD_FILE", "value": "/run/secrets/craftplane-rcon/rcon-password"},
    ]
    assert "RCON_PASSWORD" not in json.dumps(c["env"]).replace("RCON_PASSWORD_FILE", "")
    assert c["ports"] == [
        {"name": "minecraft", "containerPort": 25565, "protocol": "TCP"},
        {"name": "rcon", "containerPort": 25575, "protocol": "TCP"},
    ]
    assert c["resources"] == {
        "requests": {"cpu": "2", "memory": "4Gi"},
        "limits": {"cpu": "2", "memory": "4Gi"},
    }
    assert c["volumeMounts"] == [
        {"name": "data", "mountPath": "/data"},
        {"name": "tmp", "mountPath": "/tmp"},
        {"name": "rcon", "mountPath": "/run/secrets/craftplane-rcon", "readOnly": True},
    ]
    assert "lifecycle" not in c, "one shutdown path: SIGTERM, no preStop hook"


def test_rcon_password_is_a_read_only_file_of_the_secret() -> None:
    volumes = {v["name"]: v for v in pod_spec(build_statefulset(server(), "h"))["volumes"]}
    assert volumes["rcon"] == {
        "name": "rcon",
        "secret": {
            "secretName": f"{NAME}-rcon",
            "items": [{"key": "rcon-password", "path": "rcon-password"}],
            "defaultMode": 0o440,
        },
    }
    assert volumes["tmp"] == {"name": "tmp", "emptyDir": {"sizeLimit": "512Mi"}}


def test_without_rcon_no_rcon_port_nor_password_file() -> None:
    sts = build_statefulset(server({"rcon": {"enabled": False}}), "h")
    c = container(sts)
    assert [p["containerPort"] for p in c["ports"]] == [25565]
    assert [e["name"] for e in c["env"]] == ["HOME"]
    assert [m["name"] for m in c["volumeMounts"]] == ["data", "tmp"]
    assert [v["name"] for v in pod_spec(sts)["volumes"]] == ["tmp"]


@pytest.mark.parametrize(("stop", "grace"), [(10, 25), (60, 75), (1800, 1815)])
def test_grace_period_is_the_stop_duration_plus_a_margin(stop: int, grace: int) -> None:
    spec = {"lifecycle": {"stopGracePeriodSeconds": stop}}
    assert pod_spec(build_statefulset(server(spec), "h"))["terminationGracePeriodSeconds"] == grace
    assert env_of(spec)["STOP_DURATION"] == str(stop)


@pytest.mark.parametrize(
    ("probe", "period", "failures"),
    [("startupProbe", 10, 60), ("readinessProbe", 10, 3), ("livenessProbe", 20, 6)],
)
def test_probes(probe: str, period: int, failures: int) -> None:
    spec = container(build_statefulset(server(), "h"))[probe]
    assert spec["exec"] == {"command": ["mc-health"]}
    assert (spec["periodSeconds"], spec["failureThreshold"]) == (period, failures)


def test_security_context_passes_restricted() -> None:
    sts = build_statefulset(server(), "h")
    pod = pod_spec(sts)["securityContext"]
    assert pod == {
        "runAsNonRoot": True,
        "runAsUser": 1000,
        "runAsGroup": 1000,
        "fsGroup": 1000,
        "fsGroupChangePolicy": "OnRootMismatch",
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    ctr = container(sts)["securityContext"]
    assert ctr == {
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
        "readOnlyRootFilesystem": True,
    }
    # Nothing "restricted" forbids, anywhere in the pod.
    text = json.dumps(pod_spec(sts))
    for forbidden in ("hostNetwork", "hostPID", "hostIPC", "hostPath", "privileged", "hostPort"):
        assert forbidden not in text


def test_scheduling_from_spec() -> None:
    scheduling = {
        "nodeSelector": {"disk": "ssd"},
        "tolerations": [{"key": "game", "operator": "Exists", "effect": "NoSchedule"}],
        "affinity": {"podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": []}},
    }
    pod = pod_spec(build_statefulset(server({"scheduling": scheduling}), "h"))
    assert pod["nodeSelector"] == scheduling["nodeSelector"]
    assert pod["tolerations"] == scheduling["tolerations"]
    assert pod["affinity"] == scheduling["affinity"]


@pytest.mark.parametrize(
    ("storage", "expected_spec"),
    [
        (
            {},
            {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "10Gi"}}},
        ),
        (
            {"size": "50Gi", "storageClassName": "fast"},
            {
                "accessModes": ["ReadWriteOnce"],
                "resources": {"requests": {"storage": "50Gi"}},
                "storageClassName": "fast",
            },
        ),
    ],
)
def test_volume_claim_template(storage: dict[str, Any], expected_spec: dict[str, Any]) -> None:
    sts = build_statefulset(server({"storage": storage}), "h")
    (template,) = sts["spec"]["volumeClaimTemplates"]
    assert template == {
        "metadata": {"name": "data", "labels": names.standard_labels(NAME)},
        "spec": expected_spec,
    }
    assert pvc_name(NAME) == f"data-{NAME}-0"


# --- what restarts the server ----------------------------------------------


@pytest.mark.parametrize(
    ("change", "restarts"),
    [
        ({"properties": {"motd": "Another day"}}, True),
        ({"image": "itzg/minecraft-server:java21"}, True),
        ({"resources": {"memory": "4Gi"}}, True),
        ({"resources": {"jvm": {"flags": ["-XX:+UseZGC"]}}}, True),
        ({"lifecycle": {"stopGracePeriodSeconds": 120}}, True),
        ({"rcon": {"enabled": False}}, True),
        ({"allowlist": ["Alex"]}, False),
        ({"ops": ["Alex"]}, False),
        ({"allowlistMode": "merge"}, False),
        ({"lifecycle": {"announceSeconds": 30}}, False),
        ({"lifecycle": {"restartSchedule": {"cron": "0 4 * * *"}}}, False),
        ({"stopped": True}, False),
        ({"hibernation": {"afterEmptyMinutes": 10}}, False),
        ({"service": {"type": "NodePort"}}, False),
        ({"storage": {"size": "50Gi"}}, False),
    ],
)
def test_which_changes_restart_the_server(change: dict[str, Any], restarts: bool) -> None:
    assert restarts_server(server(), server(change)) is restarts


def test_live_spec_paths_are_spec_fields() -> None:
    wire = server().spec.model_dump(by_alias=True)
    for path in LIVE_SPEC_PATHS:
        node: Any = wire
        for part in path.split("."):
            assert part in node, path
            node = node[part]
