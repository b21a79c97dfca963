"""Reading a request body and JSON from a client, within limits: a body longer than the limit
is refused (413) before it is read in full, and JSON nested deeper than ``MAX_JSON_DEPTH`` is
refused (400) before ``json.loads``, whose recursion would otherwise fail with a RecursionError
(a 500) on a few kilobytes of brackets.
"""

from __future__ import annotations

import json
import re
from itertools import accumulate
from typing import Any, Final

from starlette.requests import Request

from craftplane_gateway import problems

MAX_BODY_BYTES: Final = 1024 * 1024
MAX_JSON_DEPTH: Final = 64

# A JSON string (an unterminated one runs to the end: one pass, no backtracking), or a bracket.
_STRING: Final = re.compile(rb'"(?:[^"\\]+|\\.)*"?', re.DOTALL)
_NOT_BRACKETS: Final = bytes(b for b in range(256) if b not in b"[]{}")
_STEP: Final = [0] * 256
for _open in b"[{":
    _STEP[_open] = 1
for _close in b"]}":
    _STEP[_close] = -1


class TooDeep(ValueError):
    """JSON nested deeper than allowed."""


def json_depth(raw: bytes | str) -> int:
    """How deeply the arrays and objects of ``raw`` nest (brackets inside strings do not
    count); linear in the length, for valid and invalid JSON alike."""
    data = raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) else raw
    if data.count(b"[") + data.count(b"{") == 0:
        return 0
    brackets = _STRING.sub(b"", data).translate(None, _NOT_BRACKETS)
    return max(accumulate(map(_STEP.__getitem__, brackets)), default=0)


def loads(raw: bytes | str, *, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """``json.loads`` after the depth check; TooDeep, or ValueError for what is not JSON."""
    if json_depth(raw) > max_depth:
        raise TooDeep(f"JSON nested deeper than {max_depth} levels")
    return json.loads(raw)


def content_length(request: Request) -> int | None:
    """The declared length of the body; Problem 400 for one that is not a number."""
    raw = request.headers.get("content-length")
    if raw is None:
        return None
    if not raw.isascii() or not raw.strip().isdigit() or len(raw) > 20:
        raise problems.bad_request("Content-Length must be a non-negative integer")
    return int(raw)


async def read_body(request: Request, limit: int = MAX_BODY_BYTES) -> bytes:
    """The body, at most ``limit`` bytes; Problem 413 as soon as it is longer (declared or
    counted while a chunked body streams in)."""
    declared = content_length(request)
    if declared is not None and declared > limit:
        raise problems.payload_too_large(limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise problems.payload_too_large(limit)
        chunks.append(chunk)
    return b"".join(chunks)


def parse_json(raw: bytes) -> Any:
    """A body's JSON; Problem 400 (no field) for what is not JSON or nests too deep."""
    try:
        return loads(raw)
    except TooDeep as exc:
        raise problems.bad_request(f"the body is {exc}") from exc
    except ValueError as exc:
        raise problems.bad_request(f"the body is not valid JSON: {short(str(exc))}") from exc


async def read_json(request: Request, limit: int = MAX_BODY_BYTES) -> Any:
    """:func:`read_body` then :func:`parse_json`."""
    return parse_json(await read_body(request, limit))


def short(text: str, most: int = 200) -> str:
    """``text`` cut to ``most`` characters: what an error may quote of a client's input."""
    return text if len(text) <= most else text[: most - 1] + "…"
