"""The ConfigMap holding the server settings as itzg/minecraft-server env vars."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any, Final

from craftplane.contracts.lifecycle import AllowlistMode
from craftplane.contracts.quantity import jvm_heap_mb, to_millicores
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

# Settings applied to the running server over RCON (whitelist add/remove, op/deop, whitelist
# on/off) rather than by a restart: they stay in the ConfigMap, so the files on the volume
# match the spec at the next start anyway, but they are left out of the pod's config hash.
LIVE_ENV_KEYS: Final = frozenset(
    {"WHITELIST", "OPS", "ENABLE_WHITELIST", "EXISTING_WHITELIST_FILE", "EXISTING_OPS_FILE"}
)
# itzg's names for the two allowlist modes (SYNCHRONIZE: the file becomes the list; MERGE: the
# list is added to what the file holds).
_EXISTING_FILE_MODE: Final = {AllowlistMode.ENFORCE: "SYNCHRONIZE", AllowlistMode.MERGE: "MERGE"}
# G1 needs a core of its own for its concurrent phases to pay off.
AIKAR_MIN_MILLICORES: Final = 2000


def _flag(value: bool) -> str:
    # The image accepts any case and lower-cases booleans for server.properties.
    return "TRUE" if value else "FALSE"


def jvm_env(spec: MinecraftServerSpec) -> dict[str, str]:
    """Heap, flags and the stop deadline: how the image runs the JVM."""
    resources = spec.resources
    jvm = resources.jvm
    aikar = jvm.aikar_flags
    if aikar is None:
        aikar = to_millicores(resources.cpu) >= AIKAR_MIN_MILLICORES
    env = {
        "MEMORY": jvm.heap or f"{jvm_heap_mb(resources.memory)}M",
        "USE_AIKAR_FLAGS": _flag(aikar),
        # mc-server-runner waits this long for the server to stop after SIGTERM; the pod's
        # grace period is longer by GRACE_MARGIN_SECONDS (see the StatefulSet).
        "STOP_DURATION": str(spec.lifecycle.stop_grace_period_seconds),
    }
    if jvm.flags:
        env["JVM_XX_OPTS"] = " ".join(jvm.flags)
    return env


def server_env(spec: MinecraftServerSpec) -> dict[str, str]:
    """The environment of the server container, from the spec alone."""
    props = spec.properties
    env: dict[str, str] = {
        "EULA": _flag(spec.eula),
        "TYPE": spec.type.value,
        "VERSION": spec.version,
        **jvm_env(spec),
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
        # enforce: a name removed from the spec is removed from whitelist.json/ops.json at
        # the next start instead of lingering; merge: names added in game are kept.
        "EXISTING_WHITELIST_FILE": _EXISTING_FILE_MODE[spec.allowlist_mode],
        "EXISTING_OPS_FILE": _EXISTING_FILE_MODE[spec.allowlist_mode],
    }
    if props.level_seed is not None:
        env["SEED"] = props.level_seed
    if spec.allowlist:
        env["WHITELIST"] = ",".join(spec.allowlist)
    if spec.ops:
        env["OPS"] = ",".join(spec.ops)
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
    settings change rolls the pod (env from a ConfigMap is read only at start).

    The keys applied live (LIVE_ENV_KEYS) are left out: changing the allowlist or ops must
    not restart the server."""
    all_data: Mapping[str, str] = configmap.get("data") or {}
    data = {key: value for key, value in all_data.items() if key not in LIVE_ENV_KEYS}
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()[:CONFIG_HASH_LENGTH]
