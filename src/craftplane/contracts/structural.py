"""Turn a pydantic JSON schema into a Kubernetes *structural* OpenAPI v3 schema.

The API server only accepts structural schemas for CRDs: every node typed, no
``$ref``, no ``anyOf``/``oneOf``, maps as ``additionalProperties``. Pydantic
emits draft 2020-12 with references, ``anyOf [T, null]`` for optionals and
numeric ``exclusiveMinimum``. This module rewrites one into the other, and
refuses anything it does not know rather than emit a schema the API server
would reject or, worse, silently accept with a different meaning.
"""

from __future__ import annotations

import copy
from typing import Any, Final

from craftplane.contracts.base import CEL_KEY

Schema = dict[str, Any]

PRESERVE_UNKNOWN: Final = "x-kubernetes-preserve-unknown-fields"

# Output key order: a stable, readable order for the generated YAML.
_KEY_ORDER: Final = (
    "description",
    "type",
    "format",
    "enum",
    "default",
    "minimum",
    "exclusiveMinimum",
    "maximum",
    "exclusiveMaximum",
    "minLength",
    "maxLength",
    "pattern",
    "minItems",
    "maxItems",
    "minProperties",
    "maxProperties",
    "required",
    "properties",
    "items",
    "additionalProperties",
)
_COPIED: Final = frozenset(_KEY_ORDER) - {"properties", "items", "additionalProperties"}
# Pydantic annotations with no meaning for the API server.
_DROPPED: Final = frozenset({"title", "$defs", "examples"})


class UnsupportedSchema(ValueError):
    """The pydantic schema uses a construct with no structural equivalent."""


def to_structural(schema: Schema) -> Schema:
    """The structural equivalent of a pydantic ``model_json_schema(by_alias=True)``."""
    return _convert(schema, schema.get("$defs", {}), "")


def _resolve(node: Schema, defs: Schema, path: str) -> Schema:
    """Inline ``$ref`` and collapse ``anyOf [T, null]`` into T.

    Keys next to a reference (the field's description and default) win over
    the referenced model's own; CEL rules of both apply.
    """
    if "$ref" in node:
        name = node["$ref"].removeprefix("#/$defs/")
        if name not in defs:
            raise UnsupportedSchema(f"{path}: unresolvable reference {node['$ref']}")
        outer = {k: v for k, v in node.items() if k != "$ref"}
        return _overlay(_resolve(defs[name], defs, path), outer)
    if "anyOf" in node:
        branches = [b for b in node["anyOf"] if b != {"type": "null"}]
        if len(branches) != 1 or len(branches) == len(node["anyOf"]):
            raise UnsupportedSchema(f"{path}: only Optional[T] unions are supported")
        outer = {k: v for k, v in node.items() if k != "anyOf"}
        # None is how pydantic says "absent"; a structural schema says it by
        # leaving the field out, so a null default is dropped, not kept.
        if outer.get("default", ...) is None:
            del outer["default"]
        return _overlay(_resolve(branches[0], defs, path), outer)
    for combinator in ("allOf", "oneOf", "not"):
        if combinator in node:
            raise UnsupportedSchema(f"{path}: {combinator} is not supported")
    return node


def _overlay(base: Schema, outer: Schema) -> Schema:
    merged = {**base, **outer}
    rules = [*base.get(CEL_KEY, []), *outer.get(CEL_KEY, [])]
    if rules:
        merged[CEL_KEY] = rules
    return merged


def _convert(raw: Schema, defs: Schema, path: str) -> Schema:
    node = _resolve(raw, defs, path)
    out: Schema = {}
    extensions: Schema = {}
    for key, value in node.items():
        if key in _DROPPED:
            continue
        if key == "const":
            out["enum"] = [value]
        elif key in ("exclusiveMinimum", "exclusiveMaximum") and not isinstance(value, bool):
            # Draft 2020-12 puts the bound in exclusiveMinimum; OpenAPI v3.0
            # (what Kubernetes speaks) wants minimum plus a boolean flag.
            out["minimum" if key == "exclusiveMinimum" else "maximum"] = value
            out[key] = True
        elif key == "default":
            out[key] = _without_nulls(value)
        elif key in _COPIED:
            out[key] = copy.deepcopy(value)
        elif key == "properties":
            out["properties"] = {
                name: _convert(sub, defs, f"{path}.{name}") for name, sub in value.items()
            }
        elif key == "items":
            out["items"] = _convert(value, defs, f"{path}[]")
        elif key == "additionalProperties":
            if value is True:
                extensions[PRESERVE_UNKNOWN] = True
            elif isinstance(value, dict):
                out["additionalProperties"] = _convert(value, defs, f"{path}{{}}")
            # False (pydantic's extra="forbid") has no structural form: the API
            # server prunes or, with strict field validation, refuses unknown
            # fields by itself.
        elif key == "patternProperties":
            _convert_pattern_properties(value, defs, path, out, extensions)
        elif key == "propertyNames":
            _convert_property_names(value, path, extensions)
        elif key == CEL_KEY:
            extensions[key] = [*extensions.get(key, []), *map(_ordered_rule, value)]
        elif key.startswith("x-kubernetes-"):
            extensions[key] = copy.deepcopy(value)
        else:
            raise UnsupportedSchema(f"{path or '<root>'}: unsupported keyword {key!r}")
    if "type" not in out:
        raise UnsupportedSchema(
            f"{path or '<root>'}: every node of a structural schema needs a type"
        )
    ordered: Schema = {key: out[key] for key in _KEY_ORDER if key in out}
    ordered.update(sorted(extensions.items()))
    return _default_objects_compactly(ordered)


def _without_nulls(value: Any) -> Any:
    """A default as the API server would store it: null members are absent ones."""
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nulls(v) for v in value]
    return value


def _ordered_rule(rule: Schema) -> Schema:
    # Pydantic sorts the keys of json_schema_extra; put the rule first again
    # so the YAML reads rule, then message.
    order = ("rule", "message", "messageExpression", "fieldPath", "reason", "optionalOldSelf")
    unknown = set(rule) - set(order)
    if unknown:
        raise UnsupportedSchema(f"unknown keys in a CEL rule: {sorted(unknown)}")
    return {key: rule[key] for key in order if key in rule}


def _convert_pattern_properties(
    value: Schema, defs: Schema, path: str, out: Schema, extensions: Schema
) -> None:
    """A map with constrained keys: structural schemas cannot constrain keys, CEL can."""
    if len(value) != 1:
        raise UnsupportedSchema(f"{path}: only one key pattern per map is supported")
    ((pattern, sub),) = value.items()
    if "'" in pattern:
        raise UnsupportedSchema(f"{path}: key pattern {pattern!r} cannot be quoted in CEL")
    out["additionalProperties"] = _convert(sub, defs, f"{path}{{}}")
    rule = {
        "rule": f"self.all(k, k.matches(r'{pattern}'))",
        "message": f"keys must match {pattern}",
    }
    extensions[CEL_KEY] = [*extensions.get(CEL_KEY, []), rule]


def _convert_property_names(value: Schema, path: str, extensions: Schema) -> None:
    """A bound on a map's key length: structural schemas cannot say it, CEL can."""
    if set(value) != {"maxLength"}:
        raise UnsupportedSchema(f"{path}: only maxLength is supported for map keys")
    limit = int(value["maxLength"])
    rule = {
        "rule": f"self.all(k, size(k) <= {limit})",
        "message": f"keys must be at most {limit} characters",
    }
    extensions[CEL_KEY] = [*extensions.get(CEL_KEY, []), rule]


def _default_objects_compactly(node: Schema) -> Schema:
    """Replace an object's default by ``{}`` when its properties' defaults rebuild it.

    The API server applies nested defaults inside a defaulted ``{}``, so the
    full object would only repeat the leaves' defaults (and could drift from
    them).
    """
    default = node.get("default")
    # The API server checks an object's CEL rules against its default as
    # written, without nested defaults, so such an object keeps its full
    # default.
    if isinstance(default, dict) and default and "properties" in node and CEL_KEY not in node:
        without = {key: value for key, value in node.items() if key != "default"}
        if apply_defaults(without, {}) == default:
            node["default"] = {}
    return node


def apply_defaults(schema: Schema, value: Any) -> Any:
    """``value`` with the schema's defaults filled in, as the API server does.

    Defaults apply to absent properties of objects that are present (or
    themselves defaulted), recursively, including inside list items and map
    values.
    """
    if isinstance(value, dict):
        result = dict(value)
        for name, sub in schema.get("properties", {}).items():
            if name not in result and "default" in sub:
                result[name] = copy.deepcopy(sub["default"])
            if name in result:
                result[name] = apply_defaults(sub, result[name])
        if isinstance(schema.get("additionalProperties"), dict):
            sub = schema["additionalProperties"]
            known = schema.get("properties", {})
            for key in result:
                if key not in known:
                    result[key] = apply_defaults(sub, result[key])
        return result
    if isinstance(value, list) and "items" in schema:
        return [apply_defaults(schema["items"], item) for item in value]
    return value
