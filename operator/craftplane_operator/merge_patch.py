"""JSON merge patches (RFC 7386), applied as the API server applies them (pure)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

Obj = dict[str, Any]


def merge_patch(target: Mapping[str, Any], patch: Mapping[str, Any]) -> Obj:
    """`target` with a JSON merge patch applied (RFC 7386), as the API server does it."""
    result = dict(target)
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        elif isinstance(value, Mapping) and isinstance(result.get(key), Mapping):
            result[key] = merge_patch(result[key], value)
        elif isinstance(value, Mapping):
            result[key] = merge_patch({}, value)
        else:
            result[key] = value
    return result
