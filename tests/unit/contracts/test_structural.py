from __future__ import annotations

from typing import Annotated, Any

import pytest
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from craftplane.contracts.base import CEL_KEY
from craftplane.contracts.structural import UnsupportedSchema, apply_defaults, to_structural

pytestmark = pytest.mark.unit


class Inner(BaseModel):
    """Inner docstring."""

    model_config = ConfigDict(extra="forbid")

    size: int = Field(default=3, gt=0, lt=10, description="Size.")
    label: str | None = Field(default=None, description="Label.")


class Outer(BaseModel):
    inner: Inner = Field(default=Inner(), description="Field description wins.")
    maybe: Inner | None = Field(default=None, description="Optional object.")
    keyed: dict[Annotated[str, StringConstraints(pattern="^[a-z]+$")], int] = Field(
        default={}, description="Keyed."
    )
    free: dict[str, Any] = Field(default={}, description="Free.")


def test_refs_are_inlined_with_the_field_description() -> None:
    schema = to_structural(Outer.model_json_schema())
    inner = schema["properties"]["inner"]
    assert inner["description"] == "Field description wins."
    assert inner["type"] == "object"
    assert inner["default"] == {}  # nested defaults rebuild the pydantic default
    assert "additionalProperties" not in inner
    assert "title" not in inner


def test_optional_becomes_a_plain_field_without_null_default() -> None:
    schema = to_structural(Outer.model_json_schema())
    maybe = schema["properties"]["maybe"]
    assert maybe["type"] == "object"
    assert "default" not in maybe
    label = maybe["properties"]["label"]
    assert label == {"description": "Label.", "type": "string"}


def test_exclusive_bounds_become_openapi_v3_0_booleans() -> None:
    size = to_structural(Inner.model_json_schema())["properties"]["size"]
    assert (size["minimum"], size["exclusiveMinimum"]) == (0, True)
    assert (size["maximum"], size["exclusiveMaximum"]) == (10, True)


def test_key_patterns_become_cel() -> None:
    keyed = to_structural(Outer.model_json_schema())["properties"]["keyed"]
    assert keyed["additionalProperties"] == {"type": "integer"}
    assert keyed[CEL_KEY] == [
        {"rule": "self.all(k, k.matches(r'^[a-z]+$'))", "message": "keys must match ^[a-z]+$"}
    ]


def test_any_maps_preserve_unknown_fields() -> None:
    free = to_structural(Outer.model_json_schema())["properties"]["free"]
    assert free["x-kubernetes-preserve-unknown-fields"] is True
    assert "additionalProperties" not in free


class Union(BaseModel):
    value: int | str = Field(description="Either.")


class Rules(BaseModel):
    model_config = ConfigDict(json_schema_extra={CEL_KEY: [{"rule": "true", "bogus": 1}]})


def test_unsupported_constructs_are_refused() -> None:
    with pytest.raises(UnsupportedSchema, match="Optional"):
        to_structural(Union.model_json_schema())
    with pytest.raises(UnsupportedSchema, match="allOf"):
        to_structural({"type": "object", "allOf": []})
    with pytest.raises(UnsupportedSchema, match="needs a type"):
        to_structural({"description": "untyped"})
    with pytest.raises(UnsupportedSchema, match="unsupported keyword"):
        to_structural({"type": "string", "contentEncoding": "base64"})
    with pytest.raises(UnsupportedSchema, match="bogus"):
        to_structural(Rules.model_json_schema())


def test_apply_defaults_recurses_into_defaulted_objects_lists_and_maps() -> None:
    schema = {
        "type": "object",
        "properties": {
            "a": {
                "type": "object",
                "default": {},
                "properties": {"b": {"type": "integer", "default": 1}},
            },
            "items": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {"c": {"type": "string", "default": "x"}},
                },
            },
            "map": {
                "type": "object",
                "additionalProperties": {
                    "type": "object",
                    "properties": {"d": {"type": "boolean", "default": True}},
                },
            },
        },
    }
    value = {"items": [{}, {"c": "y"}], "map": {"k": {}}}
    assert apply_defaults(schema, value) == {
        "a": {"b": 1},
        "items": [{"c": "x"}, {"c": "y"}],
        "map": {"k": {"d": True}},
    }
