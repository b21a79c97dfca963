"""Fuzzing the WebSocket client frame parser: whatever a client sends, parsing raises only the
documented ValidationError (or the depth check's TooDeep), and quickly."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from craftplane_gateway import bodies
from craftplane_gateway.problems import Problem
from craftplane_gateway.routes.console import parse_body
from craftplane_gateway.ws_frames import parse_client_frame

pytestmark = pytest.mark.unit

TYPES = ["auth", "subscribe", "ping", "console.open", "console.close", "console.command"]
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=50),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=10), inner),
    max_leaves=30,
)
frames = st.fixed_dictionaries(
    {"type": st.sampled_from(TYPES)},
    optional={
        "token": json_values, "servers": json_values, "id": json_values, "server": json_values,
        "tail": json_values, "command": json_values,
    },
)  # fmt: skip


def _parse(data: str | bytes) -> None:
    started = time.monotonic()
    try:
        bodies.loads(data)
        parse_client_frame(data)
    except (ValidationError, bodies.TooDeep, ValueError):
        pass
    assert time.monotonic() - started < 1.0


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=2000))
def test_any_text(text: str) -> None:
    _parse(text)


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=2000))
def test_any_bytes(data: bytes) -> None:
    _parse(data)


@settings(max_examples=200, deadline=None)
@given(frames)
def test_frame_shaped_json(frame: dict[str, Any]) -> None:
    _parse(json.dumps(frame))


@settings(max_examples=30, deadline=None)
@given(st.integers(min_value=1, max_value=20_000), st.sampled_from(["[", '{"a":']))
def test_deep_nesting(depth: int, opener: str) -> None:
    _parse('{"type": "subscribe", "servers": ' + opener * depth + "}")


@settings(max_examples=150, deadline=None)
@given(st.one_of(st.binary(max_size=500), json_values.map(lambda v: json.dumps({"command": v}))))
def test_the_rest_console_body(raw: bytes | str) -> None:
    data = raw.encode() if isinstance(raw, str) else raw
    try:
        parse_body(data)
    except Problem as problem:
        assert problem.status in (400, 422)
