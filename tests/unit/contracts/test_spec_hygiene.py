"""Spec strings stay one value: no control characters where they reach server.properties or
the image's environment, reserved env names and families, bounded metadata maps; and the CRD
carries the same rules as pydantic."""

from __future__ import annotations

import re
from typing import Any

import pytest
from pydantic import ValidationError

from craftplane.contracts import crd
from craftplane.contracts.base import CEL_KEY
from craftplane.contracts.spec import (
    RESERVED_ENV_NAMES,
    RESERVED_ENV_PREFIXES,
    EnvVar,
    MinecraftServerSpec,
    is_reserved_env_name,
)
from craftplane.contracts.structural import Schema
from craftplane.contracts.text import NO_CONTROL_PATTERN, QUALIFIED_NAME_PATTERN

pytestmark = pytest.mark.unit

CONTROL = ["\n", "\r", "\t", "\x00", "\x1b", "\x1f", "\x7f"]
INJECTION = "x\nenable-rcon=false\nrcon.password=hunter2\nwhite-list=false"


def locs(body: dict[str, Any]) -> list[tuple[int | str, ...]]:
    with pytest.raises(ValidationError) as info:
        MinecraftServerSpec.model_validate({"eula": True, **body})
    return [tuple(error["loc"]) for error in info.value.errors()]


def accepted(body: dict[str, Any]) -> MinecraftServerSpec:
    return MinecraftServerSpec.model_validate({"eula": True, **body})


# (where in the body, the error's location), one string value each.
ONE_LINE_FIELDS: list[tuple[Any, tuple[int | str, ...]]] = [
    (lambda v: {"properties": {"motd": v}}, ("properties", "motd")),
    (lambda v: {"properties": {"levelSeed": v}}, ("properties", "levelSeed")),
    (
        lambda v: {"properties": {"serverProperties": {"spawn-protection": v}}},
        ("properties", "serverProperties", "spawn-protection"),
    ),
    (lambda v: {"env": [{"name": "TZ", "value": v}]}, ("env", 0, "value")),
    (lambda v: {"image": f"itzg/minecraft-server{v}"}, ("image",)),
    (lambda v: {"version": f"1.21{v}"}, ("version",)),
]


@pytest.mark.parametrize(("make", "loc"), ONE_LINE_FIELDS)
@pytest.mark.parametrize("char", CONTROL, ids=[f"U+{ord(c):04X}" for c in CONTROL])
def test_control_characters_are_refused_naming_the_field(
    make: Any, loc: tuple[int | str, ...], char: str
) -> None:
    assert loc in locs(make(f"a{char}b"))


def test_the_injection_of_the_report_is_refused_with_a_clear_message() -> None:
    with pytest.raises(ValidationError, match=r"control characters \(found U\+000A at position 1"):
        MinecraftServerSpec.model_validate(
            {"eula": True, "properties": {"serverProperties": {"motd-extra": INJECTION}}}
        )


@pytest.mark.parametrize(
    "body",
    [
        {"properties": {"motd": "§6Gold §lbold§r and ünïcödé ✓"}},
        {"properties": {"levelSeed": "-4172144997902289642"}},
        {"properties": {"serverProperties": {"level-type": "minecraft:large_biomes"}}},
        {"env": [{"name": "SPIGET_RESOURCES", "value": "28140,34315"}]},
        {"env": [{"name": "MODRINTH_PROJECTS", "value": "fabric-api,lithium"}]},
        {"env": [{"name": "PACKWIZ_URL", "value": "https://example.com/pack.toml"}]},
    ],
)
def test_ordinary_text_is_accepted(body: dict[str, Any]) -> None:
    accepted(body)


@pytest.mark.parametrize(
    "name",
    [
        "CUSTOM_SERVER_PROPERTIES",
        "OVERRIDE_SERVER_PROPERTIES",
        "skip_server_properties",
        "RCON_PASSWORD_FILE",
        "RCON_CMDS_STARTUP",
        "rcon_cmds_on_connect",
        "Rcon_Port",
        "ENABLE_RCON",
        "SERVER_PORT",
        "STOP_DURATION",
        "EXEC_DIRECTLY",
        "UID",
        "gid",
        "ENABLE_QUERY",
        "QUERY_PORT",
        "ENABLE_JMX",
        "JMX_HOST",
        "JVM_DD_OPTS",
        "HOME",
        "PATH",
        "LD_PRELOAD",
        "ld_library_path",
        "JAVA_TOOL_OPTIONS",
        "_JAVA_OPTIONS",
        "JDK_JAVA_OPTIONS",
        "WHITELIST_FILE",
        "OPS_FILE",
        "ENABLE_AUTOSTOP",
        "AUTOPAUSE_TIMEOUT_EST",
    ],
)
def test_settings_channels_are_reserved(name: str) -> None:
    assert is_reserved_env_name(name)
    with pytest.raises(ValidationError, match="reserved"):
        EnvVar(name=name, value="x")


@pytest.mark.parametrize(
    "name",
    ["PACKWIZ_URL", "MODPACK", "MODRINTH_PROJECTS", "TZ", "PROXY", "LEVEL", "USE_MEOWICE_FLAGS"],
)
def test_user_features_are_not_reserved(name: str) -> None:
    assert not is_reserved_env_name(name)
    assert EnvVar(name=name, value="x").name == name


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({"service": {"annotations": {"bad key": "x"}}}, ("service", "annotations", "bad key")),
        ({"service": {"annotations": {"-x": "x"}}}, ("service", "annotations", "-x")),
        ({"service": {"annotations": {"a/b/c": "x"}}}, ("service", "annotations", "a/b/c")),
        ({"service": {"annotations": {"x" * 64: "x"}}}, ("service", "annotations", "x" * 64)),
        (
            {"service": {"annotations": {"a" * 254 + "/x": "x"}}},
            ("service", "annotations", "a" * 254 + "/x"),
        ),
        ({"service": {"annotations": {"a": "x" * 4097}}}, ("service", "annotations", "a")),
        (
            {"service": {"annotations": {f"k{i}": "v" for i in range(33)}}},
            ("service", "annotations"),
        ),
        (
            {"scheduling": {"nodeSelector": {"disk": "has space"}}},
            ("scheduling", "nodeSelector", "disk"),
        ),
        (
            {"scheduling": {"nodeSelector": {"disk": "x" * 64}}},
            ("scheduling", "nodeSelector", "disk"),
        ),
        (
            {"scheduling": {"nodeSelector": {"Bad Key": "ssd"}}},
            ("scheduling", "nodeSelector", "Bad Key"),
        ),
        (
            {"scheduling": {"nodeSelector": {f"k{i}": "v" for i in range(33)}}},
            ("scheduling", "nodeSelector"),
        ),
        ({"storage": {"storageClassName": "Fast SSD"}}, ("storage", "storageClassName")),
    ],
)
def test_metadata_maps_are_bounded_and_keyed_by_qualified_names(
    body: dict[str, Any], loc: tuple[int | str, ...]
) -> None:
    assert any(error[: len(loc)] == loc for error in locs(body)), locs(body)


def test_ordinary_metadata_is_accepted() -> None:
    spec = accepted(
        {
            "service": {
                "annotations": {
                    "service.beta.kubernetes.io/aws-load-balancer-type": "nlb",
                    "external-dns.alpha.kubernetes.io/hostname": "mc.example.com",
                    "note": "multi\nline values are fine in annotations",
                }
            },
            "scheduling": {"nodeSelector": {"kubernetes.io/arch": "amd64", "pool": ""}},
            "storage": {"storageClassName": "fast-ssd.example.com"},
        }
    )
    assert spec.scheduling.node_selector["pool"] == ""


# --- the CRD carries the same rules ----------------------------------------


def spec_node(path: str) -> Schema:
    node = crd.spec_schema()
    for part in path.split("."):
        node = node["items"] if part == "[]" else node["properties"][part]
    return node


def rules(node: Schema) -> list[str]:
    return [rule["rule"] for rule in node.get(CEL_KEY, [])]


@pytest.mark.parametrize(
    "path",
    ["properties.motd", "properties.levelSeed", "env.[].value"],
)
def test_crd_refuses_control_characters_like_pydantic(path: str) -> None:
    node = spec_node(path)
    assert node["pattern"] == NO_CONTROL_PATTERN
    assert "maxLength" in node


def test_crd_property_values_and_image_refuse_control_characters() -> None:
    assert spec_node("properties.serverProperties")["additionalProperties"]["pattern"] == (
        NO_CONTROL_PATTERN
    )
    image = re.compile(spec_node("image")["pattern"])
    assert image.match("itzg/minecraft-server:2025.10.2")
    assert not any(image.match(f"a{c}b") for c in CONTROL)


@pytest.mark.parametrize("value", ["ok §6", "", *[f"a{c}b" for c in CONTROL], INJECTION])
def test_crd_pattern_and_pydantic_agree(value: str) -> None:
    in_crd = re.match(NO_CONTROL_PATTERN, value) is not None
    try:
        EnvVar(name="TZ", value=value)
        in_pydantic = True
    except ValidationError:
        in_pydantic = False
    assert in_crd == in_pydantic


def test_crd_reserved_env_rule_is_case_insensitive_with_prefixes() -> None:
    (rule,) = rules(spec_node("env.[]"))
    assert all(f"'{name}'" in rule for name in RESERVED_ENV_NAMES)
    assert all(f"startsWith('{p}')" in rule for p in RESERVED_ENV_PREFIXES)


@pytest.mark.parametrize("path", ["service.annotations", "scheduling.nodeSelector"])
def test_crd_metadata_maps_are_bounded_and_keys_checked(path: str) -> None:
    node = spec_node(path)
    assert node["maxProperties"] == 32
    found = rules(node)
    assert f"self.all(k, k.matches(r'{QUALIFIED_NAME_PATTERN}'))" in found
    assert any("size(k) <=" in r for r in found)
    assert any("{254,}" in r for r in found)
    assert "maxLength" in node["additionalProperties"]


@pytest.mark.parametrize(
    "key",
    [
        "enable-rcon",
        "rcon.password",
        "rcon.port",
        "server-port",
        "server-ip",
        "enable-query",
        "query.port",
        "enable-jmx-monitoring",
        "management-server-enabled",
        "management-server-port",
    ],
)
def test_property_keys_for_the_platforms_ports_and_consoles_are_refused(key: str) -> None:
    with pytest.raises(ValidationError, match="set by the platform"):
        accepted({"properties": {"serverProperties": {key: "true"}}})
    # The CRD's rule names the same keys and prefixes.
    (rule,) = [r for r in rules(spec_node("properties.serverProperties")) if "startsWith" in r]
    assert f"'{key}'" in rule or any(
        key.startswith(p) and f"k.startsWith('{p}')" in rule
        for p in ("rcon.", "management-server-")
    )


def test_other_property_keys_are_accepted() -> None:
    spec = accepted({"properties": {"serverProperties": {"broadcast-rcon-to-ops": "false"}}})
    assert spec.properties.server_properties == {"broadcast-rcon-to-ops": "false"}
