"""`spec.env`: extra environment variables for the itzg/minecraft-server image."""

from __future__ import annotations

from typing import Final

from pydantic import ConfigDict, Field, field_validator

from craftplane.contracts.base import ApiModel, cel_rule, cel_rules
from craftplane.contracts.spec_values import (
    ENV_NAME_PATTERN,
    RESERVED_ENV_NAMES,
    RESERVED_ENV_PREFIXES,
    is_reserved_env_name,
)
from craftplane.contracts.text import OneLine

MAX_ENV_VALUE: Final = 32768

_RESERVED_RULE: Final = (
    "!(self.name.upperAscii() in ["
    + ", ".join(f"'{n}'" for n in RESERVED_ENV_NAMES)
    + "]) && !("
    + " || ".join(f"self.name.upperAscii().startsWith('{p}')" for p in RESERVED_ENV_PREFIXES)
    + ")"
)
RESERVED_MESSAGE: Final = (
    "name is reserved: set from a typed field of the spec or a control of the platform ("
    + ", ".join(RESERVED_ENV_NAMES)
    + ", and every name starting with "
    + ", ".join(RESERVED_ENV_PREFIXES)
    + ")"
)


class EnvVar(ApiModel):
    """An extra environment variable for the itzg/minecraft-server image."""

    model_config = ConfigDict(
        json_schema_extra=cel_rules(
            cel_rule(
                _RESERVED_RULE, RESERVED_MESSAGE, field_path=".name", reason="FieldValueForbidden"
            ),
        )
    )

    name: str = Field(
        pattern=ENV_NAME_PATTERN,
        max_length=128,
        description=(
            "Variable name, e.g. SPIGET_RESOURCES, MODRINTH_PROJECTS or PACKWIZ_URL. Refused, "
            "in any case: names the operator sets from typed fields (EULA, TYPE, VERSION, "
            "MEMORY, MOTD, WHITELIST, etc.); the image's channels that bypass them "
            "(CUSTOM_SERVER_PROPERTIES, OVERRIDE_/SKIP_SERVER_PROPERTIES, WHITELIST_FILE, "
            "OPS_FILE); and those that defeat the platform's controls: RCON_*, ports "
            "(SERVER_PORT, ENABLE_QUERY, QUERY_PORT, ENABLE_JMX, JMX_*), the process wiring "
            "(EXEC_DIRECTLY, UID, GID, HOME, PATH, STOP_DURATION, ENABLE_AUTOSTOP, "
            "ENABLE_AUTOPAUSE) and JVM or loader injection (JVM_*, JAVA_TOOL_OPTIONS, "
            "_JAVA_OPTIONS, JDK_JAVA_OPTIONS, JAVA_HOME, LD_*)."
        ),
    )
    value: OneLine = Field(
        default="",
        max_length=MAX_ENV_VALUE,
        description=(
            "Variable value, on one line: the image's settings are line-based, so control "
            "characters (line breaks, tabs) are refused."
        ),
    )

    @field_validator("name")
    @classmethod
    def _not_reserved(cls, name: str) -> str:
        if is_reserved_env_name(name):
            raise ValueError(
                f"{name} is reserved: the operator sets {name.upper()} from the spec itself "
                f"or it would bypass a control of the platform"
            )
        return name
