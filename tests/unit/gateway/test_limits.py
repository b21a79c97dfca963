"""Bodies, JSON depth and query parameters a hostile client sends: 413 and 400, never 500."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.testclient import TestClient

from craftplane_gateway import bodies, problems
from craftplane_gateway.db import queries
from craftplane_gateway.problems import Problem
from craftplane_gateway.routes.servers import MAX_SEQ, int_param

pytestmark = pytest.mark.unit

LIMIT = 4096


async def echo(request: Request) -> Response:
    body = await bodies.read_json(request, LIMIT)
    return JSONResponse({"type": type(body).__name__})


@pytest.fixture(scope="module")
def client() -> TestClient:
    app = Starlette(
        routes=[Route("/echo", echo, methods=["POST"])],
        exception_handlers=dict(problems.EXCEPTION_HANDLERS),
    )
    return TestClient(app)


def test_a_body_within_the_limit_is_read(client: TestClient) -> None:
    answer = client.post("/echo", content=json.dumps({"a": "x" * 1000}))
    assert answer.status_code == 200 and answer.json() == {"type": "dict"}


def test_a_declared_long_body_is_refused_with_413(client: TestClient) -> None:
    answer = client.post("/echo", content=b"[" + b"1," * LIMIT + b"1]")
    assert answer.status_code == 413
    assert answer.headers["content-type"].startswith(problems.PROBLEM_MEDIA_TYPE)
    assert str(LIMIT) in answer.json()["detail"]


def test_a_chunked_long_body_is_counted_while_it_streams(client: TestClient) -> None:
    def chunks() -> Any:
        for _ in range(100):
            yield b" " * 1024

    answer = client.post("/echo", content=chunks())
    assert answer.status_code == 413


def test_a_bad_content_length_is_400(client: TestClient) -> None:
    answer = client.post("/echo", content=b"{}", headers={"content-length": "-1"})
    assert answer.status_code == 400


def test_deep_json_is_400_without_fields(client: TestClient) -> None:
    answer = client.post("/echo", content=b"[" * 1000 + b"]" * 1000)
    assert answer.status_code == 400
    body = answer.json()
    assert "64" in body["detail"] and "errors" not in body


def test_invalid_json_is_400_with_a_short_detail(client: TestClient) -> None:
    answer = client.post("/echo", content=b'{"a": ' + b"x" * 3000)
    assert answer.status_code == 400 and len(answer.json()["detail"]) < 300


@pytest.mark.parametrize(
    ("raw", "depth"),
    [
        ("1", 0),
        ("[]", 1),
        ('{"a": [1, {"b": []}]}', 4),
        ('["[[[[", "{{{{"]', 1),
        ('["\\"[[[", []]', 2),
        ('"unterminated [[[', 0),
        ("]]]]", 0),
        ("[" * 65, 65),
    ],
)
def test_json_depth_ignores_brackets_in_strings(raw: str, depth: int) -> None:
    assert bodies.json_depth(raw) == depth


def test_depth_at_the_limit_parses_and_beyond_is_refused() -> None:
    assert bodies.loads("[" * 64 + "]" * 64) is not None
    with pytest.raises(bodies.TooDeep):
        bodies.loads("[" * 65 + "]" * 65)


def test_depth_scan_is_linear_on_a_megabyte() -> None:
    worst = [b"[" * (1 << 20), b'"\\"' * (1 << 18), b'{"a":' * (1 << 17)]
    for raw in worst:
        started = time.monotonic()
        bodies.json_depth(raw)
        assert time.monotonic() - started < 1.0


@pytest.mark.parametrize(
    "cursor",
    [
        base64.urlsafe_b64encode(json.dumps(["tenant-acme", "a\x00b", "uid"]).encode()).decode(),
        "A" * (queries.MAX_CURSOR_LENGTH + 1),
        "%00",
        "\x00",
    ],
)
def test_a_nul_or_oversized_cursor_is_not_a_cursor(cursor: str) -> None:
    with pytest.raises(queries.InvalidCursor):
        queries.decode_cursor(cursor)


@pytest.mark.parametrize(
    "raw", ["-1", str(MAX_SEQ + 1), "9" * 5000, "\uff11", "1e3", "", "\x00", "0x10", " "]
)
def test_before_out_of_range_or_not_digits_is_400_naming_it(raw: str) -> None:
    with pytest.raises(Problem) as caught:
        int_param("before", raw, 0, MAX_SEQ)
    assert caught.value.status == 400
    assert caught.value.errors[0]["field"] == "before"


def test_before_in_range_is_read() -> None:
    assert int_param("before", str(MAX_SEQ), 0, MAX_SEQ) == MAX_SEQ
    assert int_param("limit", " 7 ", 1, 200) == 7


def test_short_cuts_long_input() -> None:
    assert bodies.short("abc") == "abc"
    assert len(bodies.short("x" * 10_000, 50)) == 50
