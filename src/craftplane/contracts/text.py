"""Strings of the spec that reach server.properties, the image's environment or Kubernetes
metadata, and the rules that keep each of them one value.

server.properties and the image's settings channels (CUSTOM_SERVER_PROPERTIES, env files) are
line-based: a newline in a value would add settings of its own (``enable-rcon=false``,
``white-list=false``), so every such string refuses control characters, in pydantic with a
message naming the character and in the CRD with the same pattern. MOTD colour codes use
``§``, not control characters, so nothing legitimate is lost.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Final

from pydantic import AfterValidator, Field, StringConstraints

from craftplane.contracts.base import cel_rule, cel_rules

# U+0000-U+001F and U+007F; the same pattern in Python, Rust (pydantic-core) and Go (RE2).
NO_CONTROL_PATTERN: Final = r"^[^\x00-\x1F\x7F]*$"
_CONTROL: Final = re.compile(r"[\x00-\x1F\x7F]")

# Kubernetes label and annotation keys: an optional DNS-subdomain prefix and '/', then a
# name of at most 63 characters. The prefix's 253-character bound cannot be counted by a
# regular expression over dotted labels, hence the separate check beside it.
QUALIFIED_NAME_PATTERN: Final = (
    r"^([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?(\.[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)*/)?"
    r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$"
)
LONG_PREFIX_PATTERN: Final = r"^[^/]{254,}/"
MAX_QUALIFIED_NAME: Final = 253 + 1 + 63
LABEL_VALUE_PATTERN: Final = r"^(([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9])?$"
MAX_MAP_ENTRIES: Final = 32
MAX_ANNOTATION_VALUE: Final = 4096


def refuse_control_characters(value: str) -> str:
    """``value`` unchanged, or a ValueError naming its first control character."""
    found = _CONTROL.search(value)
    if found is not None:
        raise ValueError(
            f"must not contain control characters (found U+{ord(found.group()):04X} at "
            f"position {found.start()}): the server's settings are line-based, so a line "
            f"break would add settings of its own"
        )
    return value


def _prefix_fits(key: str) -> str:
    if re.match(LONG_PREFIX_PATTERN, key):
        raise ValueError("the prefix before '/' must be at most 253 characters")
    return key


# A one-line string; bound its length where it is used (``Field(max_length=...)``).
OneLine = Annotated[
    str,
    AfterValidator(refuse_control_characters),
    Field(json_schema_extra={"pattern": NO_CONTROL_PATTERN}),
]


QualifiedName = Annotated[
    str,
    StringConstraints(pattern=QUALIFIED_NAME_PATTERN, max_length=MAX_QUALIFIED_NAME),
    AfterValidator(_prefix_fits),
]
LabelValue = Annotated[str, StringConstraints(pattern=LABEL_VALUE_PATTERN, max_length=63)]
AnnotationValue = Annotated[str, StringConstraints(max_length=MAX_ANNOTATION_VALUE)]


def qualified_keys_rules() -> dict[str, Any]:
    """The CEL rule a map keyed by QualifiedName needs beside its key pattern."""
    return cel_rules(
        cel_rule(
            f"self.all(k, !k.matches(r'{LONG_PREFIX_PATTERN}'))",
            "the prefix of a key (before '/') must be at most 253 characters",
        )
    )
