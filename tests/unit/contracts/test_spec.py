from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from craftplane.contracts.resource import MinecraftServer
from craftplane.contracts.spec import (
    DEFAULT_IMAGE,
    RESERVED_ENV_NAMES,
    Difficulty,
    EnvVar,
    MinecraftServerSpec,
    ServerType,
    ServiceType,
)

pytestmark = pytest.mark.unit


def error_locs(exc: ValidationError) -> list[tuple[int | str, ...]]:
    return [tuple(error["loc"]) for error in exc.errors()]


def test_minimal_spec_gets_documented_defaults() -> None:
    spec = MinecraftServerSpec.model_validate({"eula": True})
    assert spec.type is ServerType.VANILLA
    assert spec.version == "LATEST"
    assert spec.image == DEFAULT_IMAGE
    assert (spec.resources.cpu, spec.resources.memory) == ("1", "2Gi")
    assert spec.storage.size == "10Gi"
    assert spec.storage.storage_class_name is None
    assert spec.storage.retain_on_delete is True
    assert spec.properties.max_players == 20
    assert spec.properties.difficulty is Difficulty.EASY
    assert spec.service.type is ServiceType.CLUSTER_IP
    assert spec.stopped is False
    assert spec.rcon.enabled is True
    assert spec.env == []


def test_defaults_are_not_shared_between_instances() -> None:
    first = MinecraftServerSpec(eula=True)
    second = MinecraftServerSpec(eula=True)
    first.allowlist.append("Steve")
    first.resources.cpu = "2"
    assert second.allowlist == []
    assert second.resources.cpu == "1"


def test_camel_case_on_the_wire_snake_case_in_python() -> None:
    body = {
        "eula": True,
        "type": "PAPER",
        "version": "1.21.4",
        "resources": {"cpu": "500m", "memory": "4Gi"},
        "storage": {"size": "20Gi", "storageClassName": "fast", "retainOnDelete": False},
        "properties": {
            "motd": "hi",
            "maxPlayers": 50,
            "gameMode": "creative",
            "onlineMode": False,
            "viewDistance": 12,
            "levelSeed": "42",
            "serverProperties": {"spawn-protection": "0", "allow-flight": "true"},
        },
        "allowlist": ["Steve", "Alex_2"],
        "ops": ["Steve"],
        "service": {"type": "NodePort", "nodePort": 30565, "annotations": {"a": "b"}},
        "stopped": True,
        "rcon": {"enabled": False},
        "env": [{"name": "SPIGET_RESOURCES", "value": "1234"}],
        "scheduling": {
            "nodeSelector": {"disk": "ssd"},
            "tolerations": [{"key": "game", "operator": "Exists", "effect": "NoSchedule"}],
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
    spec = MinecraftServerSpec.model_validate(body)
    assert spec.properties.max_players == 50
    assert spec.storage.storage_class_name == "fast"
    assert spec.service.node_port == 30565
    dumped = spec.model_dump(mode="json", by_alias=True, exclude_none=True)
    assert MinecraftServerSpec.model_validate(dumped) == spec
    assert dumped["storage"]["retainOnDelete"] is False
    assert dumped["properties"]["serverProperties"] == {
        "spawn-protection": "0",
        "allow-flight": "true",
    }
    # populate_by_name: Python code may use field names too
    assert MinecraftServerSpec(eula=True, stopped=True).stopped


def spec_error(body: dict[str, Any]) -> list[tuple[int | str, ...]]:
    with pytest.raises(ValidationError) as info:
        MinecraftServerSpec.model_validate({"eula": True, **body})
    return error_locs(info.value)


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({"eula": False}, ("eula",)),
        ({"type": "NOPE"}, ("type",)),
        ({"type": "paper"}, ("type",)),
        ({"version": "latest-ish"}, ("version",)),
        ({"image": "has space:1"}, ("image",)),
        ({"resources": {"memory": "-1Gi"}}, ("resources", "memory")),
        ({"resources": {"memory": "2Gx"}}, ("resources", "memory")),
        ({"resources": {"memory": "256Mi"}}, ("resources", "memory")),
        ({"resources": {"memory": 2048}}, ("resources", "memory")),
        ({"resources": {"cpu": "0"}}, ("resources", "cpu")),
        ({"resources": {"cpu": "-1"}}, ("resources", "cpu")),
        ({"storage": {"size": "big"}}, ("storage", "size")),
        ({"storage": {"size": "0"}}, ("storage", "size")),
        ({"properties": {"motd": "x" * 151}}, ("properties", "motd")),
        ({"properties": {"maxPlayers": 0}}, ("properties", "maxPlayers")),
        ({"properties": {"maxPlayers": 1001}}, ("properties", "maxPlayers")),
        ({"properties": {"viewDistance": 2}}, ("properties", "viewDistance")),
        ({"properties": {"difficulty": "nightmare"}}, ("properties", "difficulty")),
        ({"properties": {"gameMode": "god"}}, ("properties", "gameMode")),
        (
            {"properties": {"serverProperties": {"Bad_Key": "x"}}},
            ("properties", "serverProperties", "Bad_Key", "[key]"),
        ),
        ({"allowlist": ["ab"]}, ("allowlist", 0)),
        ({"ops": ["ok_name", "has-dash"]}, ("ops", 1)),
        ({"allowlist": [f"user{i}" for i in range(101)]}, ("allowlist",)),
        ({"service": {"type": "Ingress"}}, ("service", "type")),
        ({"service": {"type": "NodePort", "nodePort": 80}}, ("service", "nodePort")),
        ({"service": {"nodePort": 30001}}, ("service",)),
        ({"env": [{"name": "EULA", "value": "FALSE"}]}, ("env", 0, "name")),
        ({"env": [{"name": "OK"}, {"name": "JVM_OPTS"}]}, ("env", 1, "name")),
        ({"env": [{"name": "1BAD"}]}, ("env", 0, "name")),
        ({"scheduling": {"tolerations": ["not-an-object"]}}, ("scheduling", "tolerations", 0)),
        ({"maxPlayers": 10}, ("maxPlayers",)),  # misplaced field: refused, not ignored
    ],
)
def test_invalid_spec_names_the_field(body: dict[str, Any], loc: tuple[int | str, ...]) -> None:
    assert loc in spec_error(body)


def test_eula_is_required() -> None:
    with pytest.raises(ValidationError) as info:
        MinecraftServerSpec.model_validate({})
    assert error_locs(info.value) == [("eula",)]


def test_eula_message_points_at_the_eula() -> None:
    with pytest.raises(ValidationError, match=r"aka\.ms/MinecraftEULA"):
        MinecraftServerSpec(eula=False)


@pytest.mark.parametrize("name", RESERVED_ENV_NAMES)
def test_every_reserved_env_name_is_refused(name: str) -> None:
    with pytest.raises(ValidationError, match="reserved"):
        EnvVar(name=name, value="x")


@pytest.mark.parametrize("name", ["eula", "Memory", "stop_duration", "Rcon_Password_File"])
def test_reserved_env_names_are_refused_in_any_case(name: str) -> None:
    with pytest.raises(ValidationError, match="reserved"):
        EnvVar(name=name, value="x")


@pytest.mark.parametrize("name", ["SPIGET_RESOURCES", "_X", "CF_API_KEY", "EULA_X"])
def test_other_env_names_are_allowed(name: str) -> None:
    assert EnvVar(name=name).name == name


@pytest.mark.parametrize(
    "version",
    ["LATEST", "SNAPSHOT", "1.21", "1.21.4", "1.20.1", "1.21.5-rc1", "1.21-pre2", "24w14a"],
)
def test_versions_accepted(version: str) -> None:
    assert MinecraftServerSpec(eula=True, version=version).version == version


def test_node_port_allowed_with_node_port_type() -> None:
    spec = MinecraftServerSpec.model_validate(
        {"eula": True, "service": {"type": "NodePort", "nodePort": 32767}}
    )
    assert spec.service.node_port == 32767


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({"eula": False}, ("spec", "eula")),
        ({"eula": True, "type": "NOPE"}, ("spec", "type")),
        ({"eula": True, "resources": {"memory": "-1Gi"}}, ("spec", "resources", "memory")),
        ({"eula": True, "storage": {"size": "big"}}, ("spec", "storage", "size")),
        ({"eula": True, "env": [{"name": "VERSION"}]}, ("spec", "env", 0, "name")),
    ],
)
def test_resource_wrapper_locates_errors_under_spec(
    body: dict[str, Any], loc: tuple[int | str, ...]
) -> None:
    obj = {
        "apiVersion": "craftplane.io/v1alpha1",
        "kind": "MinecraftServer",
        "metadata": {"name": "survival", "namespace": "team-a"},
        "spec": body,
    }
    with pytest.raises(ValidationError) as info:
        MinecraftServer.model_validate(obj)
    assert loc in error_locs(info.value)


def test_resource_wrapper_parses_a_full_object() -> None:
    obj = {
        "apiVersion": "craftplane.io/v1alpha1",
        "kind": "MinecraftServer",
        "metadata": {"name": "survival", "namespace": "team-a", "generation": 3},
        "spec": {"eula": True},
        "status": {"phase": "Running", "players": {"online": 1, "max": 20}},
    }
    server = MinecraftServer.model_validate(obj)
    assert server.spec.eula
    assert server.status is not None
    assert server.status.players is not None
    assert server.status.players.summary == "1/20"
