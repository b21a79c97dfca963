"""The ConfigMap holding the server settings as itzg/minecraft-server env vars."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any, Final

from craftplane.contracts.quantity import jvm_heap_mb
from craftplane.contracts.spec import MinecraftServerSpec
from craftplane_operator.builders.context import ServerContext
from craftplane_operator.builders.meta import object_meta
from craftplane_operator.builders.naming import GAME_PORT, RCON_PORT, configmap_name

# server.properties keys the typed fields (or the operator itself) set; an
# entry for them in serverProperties would be applied after the typed value by
# the image and silently win, so they are dropped (the spec documents that
# typed fields take precedence).
TYPED_PROPERTY_KEYS: Final = frozenset(
    {
        "motd",
        "max-players",
        "difficulty",
        "gamemode",
        "online-mode",
        "pvp",
        "view-distance",
        "level-seed",
        "white-list",
        "whitelist",
        "enforce-whitelist",
        "enable-rcon",
        "rcon.port",
        "rcon.password",
        "server-port",
    }
)

CONFIG_HASH_LENGTH: Final = 16


def _flag(value: bool) -> str:
    # The image accepts any case and lower-cases booleans for server.properties.
    return "TRUE" if value else "FALSE"


def server_env(spec: MinecraftServerSpec) -> dict[str, str]:
    """The environment of the server container, from the spec alone."""
    props = spec.properties
    env: dict[str, str] = {
        "EULA": _flag(spec.eula),
        "TYPE": spec.type.value,
        "VERSION": spec.version,
        "MEMORY": f"{jvm_heap_mb(spec.resources.memory)}M",
        "MOTD": props.motd,
        "MAX_PLAYERS": str(props.max_players),
        "DIFFICULTY": props.difficulty.value,
        "MODE": props.game_mode.value,
        "ONLINE_MODE": _flag(props.online_mode),
        "PVP": _flag(props.pvp),
        "VIEW_DISTANCE": str(props.view_distance),
        "ENABLE_RCON": _flag(spec.rcon.enabled),
        "RCON_PORT": str(RCON_PORT),
        "SERVER_PORT": str(GAME_PORT),
        # Explicitly FALSE when empty: the image only turns the allowlist off
        # on an existing world when told so, not when WHITELIST disappears.
        "ENABLE_WHITELIST": _flag(bool(spec.allowlist)),
    }
    if props.level_seed is not None:
        env["SEED"] = props.level_seed
    if spec.allowlist:
        env["WHITELIST"] = ",".join(spec.allowlist)
        # The spec is the source of truth: a name removed from it is removed
        # from whitelist.json instead of lingering (the image merges by default).
        env["EXISTING_WHITELIST_FILE"] = "SYNCHRONIZE"
    if spec.ops:
        env["OPS"] = ",".join(spec.ops)
        env["EXISTING_OPS_FILE"] = "SYNCHRONIZE"
    custom = {
        key: value
        for key, value in sorted(props.server_properties.items())
        if key not in TYPED_PROPERTY_KEYS
    }
    if custom:
        env["CUSTOM_SERVER_PROPERTIES"] = "\n".join(f"{k}={v}" for k, v in custom.items())
    # Reserved names are refused by the contracts, so user entries can only
    # add variables or override the operator's untyped defaults above.
    for var in spec.env:
        env[var.name] = var.value
    return env


def build_configmap(server: ServerContext) -> dict[str, Any]:
    """ConfigMap ``<name>-config``, consumed by the pod through envFrom."""
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": object_meta(server, configmap_name(server.name)),
        "data": server_env(server.spec),
    }


def config_hash(configmap: Mapping[str, Any]) -> str:
    """A short digest of the ConfigMap's data, put on the pod template so a
    settings change rolls the pod (env from a ConfigMap is read only at start)."""
    data = configmap.get("data") or {}
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()[:CONFIG_HASH_LENGTH]
