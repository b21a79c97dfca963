"""The game settings of a MinecraftServer spec, written to server.properties."""

from __future__ import annotations

from typing import Annotated, Final

from pydantic import Field, StringConstraints, field_validator

from craftplane.contracts.base import ApiModel, cel_rule, cel_rules
from craftplane.contracts.spec_values import MAX_LIST_ITEMS, Difficulty, GameMode, PropertyKey
from craftplane.contracts.text import OneLine

PropertyValue = Annotated[OneLine, StringConstraints(max_length=1024)]

# Entries that would open a port or a console the platform does not know about, or move the
# ones it does (the env names ENABLE_QUERY, RCON_* etc. are reserved for the same reason).
RESERVED_PROPERTY_KEYS: Final = (
    "enable-rcon",
    "server-port",
    "server-ip",
    "enable-query",
    "query.port",
    "enable-jmx-monitoring",
)
RESERVED_PROPERTY_PREFIXES: Final = ("rcon.", "management-server-")
RESERVED_PROPERTY_MESSAGE: Final = (
    "keys that open or move the server's ports and consoles are set by the platform: "
    + ", ".join(RESERVED_PROPERTY_KEYS)
    + " and every key starting with "
    + ", ".join(RESERVED_PROPERTY_PREFIXES)
)
_RESERVED_PROPERTY_RULE: Final = (
    "self.all(k, !(k in ["
    + ", ".join(f"'{k}'" for k in RESERVED_PROPERTY_KEYS)
    + "]) && !("
    + " || ".join(f"k.startsWith('{p}')" for p in RESERVED_PROPERTY_PREFIXES)
    + "))"
)


def is_reserved_property_key(key: str) -> bool:
    return key in RESERVED_PROPERTY_KEYS or key.startswith(RESERVED_PROPERTY_PREFIXES)


class Properties(ApiModel):
    """Settings written to server.properties."""

    motd: OneLine = Field(
        default="A Craftplane server",
        max_length=150,
        description=(
            "Message of the day shown under the server name in the multiplayer list, on one "
            "line (colour codes use §; control characters such as line breaks are refused)."
        ),
    )
    max_players: int = Field(
        default=20,
        ge=1,
        le=1000,
        description="Most players online at once; further players are refused at login.",
    )
    difficulty: Difficulty = Field(
        default=Difficulty.EASY,
        description="Game difficulty: peaceful, easy, normal or hard.",
    )
    game_mode: GameMode = Field(
        default=GameMode.SURVIVAL,
        description=(
            "Game mode of players joining for the first time: survival, creative, adventure "
            "or spectator."
        ),
    )
    online_mode: bool = Field(
        default=True,
        description=(
            "Check players against Mojang's account servers. Turn off only behind a proxy "
            "(Velocity, BungeeCord) that authenticates players itself."
        ),
    )
    pvp: bool = Field(default=True, description="Whether players can damage each other.")
    view_distance: int = Field(
        default=10,
        ge=3,
        le=32,
        description=(
            "How many chunks around each player the server sends. Each step costs CPU and "
            "memory quadratically."
        ),
    )
    level_seed: OneLine | None = Field(
        default=None,
        max_length=256,
        description=(
            "Seed of the world generator; random when omitted. Only used when the world is "
            "first created."
        ),
    )
    server_properties: dict[PropertyKey, PropertyValue] = Field(
        default={},
        max_length=MAX_LIST_ITEMS,
        description=(
            "Any other server.properties entry, key as in the file (e.g. "
            "'spawn-protection': '0', 'allow-flight': 'true'). Values are strings on one "
            "line: control characters (line breaks) are refused. "
            "The typed fields above take precedence over an entry for the same key. Keys "
            "for the platform's ports and consoles (" + ", ".join(RESERVED_PROPERTY_KEYS) + ", "
            "rcon.*, management-server-*) are refused."
        ),
        json_schema_extra=cel_rules(
            cel_rule(
                _RESERVED_PROPERTY_RULE, RESERVED_PROPERTY_MESSAGE, reason="FieldValueForbidden"
            )
        ),
    )

    @field_validator("server_properties")
    @classmethod
    def _no_platform_keys(cls, entries: dict[str, str]) -> dict[str, str]:
        reserved = sorted(key for key in entries if is_reserved_property_key(key))
        if reserved:
            raise ValueError(f"{', '.join(reserved)}: {RESERVED_PROPERTY_MESSAGE}")
        return entries
