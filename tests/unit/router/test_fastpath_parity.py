"""The fast path's handshake parsing against the Python router's, case by case: what the
Go side parses (and forwards without asking) must be what Python parses, to the byte."""

from __future__ import annotations

import base64
import json
import os
import subprocess
from pathlib import Path

import pytest

from craftplane_router import handshake
from craftplane_router.handshake import HandshakeError, buffer
from tests.unit.router.netfakes import FASTPATH_SOURCE

pytestmark = pytest.mark.unit


def _raw(fields: bytes) -> bytes:
    framed = buffer()
    framed.write_varint(len(fields))
    return bytes(framed) + fields


def _fields(address: bytes, *, packet_id: int = 0, protocol: int = 769, state: int = 2) -> bytes:
    body = buffer()
    body.write_varint(packet_id)
    body.write_varint(protocol)
    body.write_varint(len(address))
    return bytes(body) + address + b"\x63\xdd" + bytes([state])


ADDRESSES = [
    b"survival.example.com",
    b"Survival.Example.COM.",
    b"survival.example.com\x00FML3\x00",
    b"survival.example.com\x00FML\x00\xff\xfe",  # not UTF-8 after the Forge marker
    b"  padded.example.com  ",
    b"caf\xc3\xa9.example.com",  # UTF-8, not ASCII
    b"\xff\xfe.example.com",
    b"tab\t.example.com",
    b"",
    b".",
    b"a" * 255,
]


def _cases() -> list[bytes]:
    cases = [handshake.encode(769, "survival.example.com", 25565, state) for state in (1, 2, 3)]
    cases += [_raw(_fields(address)) for address in ADDRESSES]
    cases += [
        _raw(_fields(b"x.example.com", packet_id=1)),
        _raw(_fields(b"x.example.com", state=0)),
        _raw(_fields(b"x.example.com", state=4)),
        _raw(_fields(b"x.example.com") + b"extra"),
        _raw(_fields(b"x.example.com", protocol=-1)),  # a negative protocol (5 bytes)
        _raw(_fields(b"x.example.com"))[:-3],  # truncated: more to come
        _raw(_fields(b"x.example.com"))[:-1] + b"",
        b"\xfe\x01\xfa" + b"\x00" * 300,  # the legacy ping
        b"\xfe\x01",
        b"\x00",
        b"\xff\xff\xff\xff\xff\x01",
        b"\x80\x80\x80",
        handshake.encode(769, "survival.example.com", 25565, 2) + b"\x05login",
    ]
    return cases


def _python(data: bytes) -> dict[str, object]:
    vector: dict[str, object] = {"data": base64.b64encode(data).decode(), "key": "", "size": 0}
    try:
        found = handshake.parse(data)
    except HandshakeError:
        return vector
    if found is None:
        return {**vector, "more": True}
    return {**vector, "key": found.key, "size": found.size}


def test_the_fast_path_parses_only_what_python_parses_the_same_way(tmp_path: Path) -> None:
    vectors = [_python(data) for data in _cases()]
    assert any(v["key"] for v in vectors) and any(not v["key"] for v in vectors)
    path = tmp_path / "vectors.json"
    path.write_text(json.dumps(vectors))
    env = {**os.environ, "CRAFTPLANE_HANDSHAKE_VECTORS": str(path)}
    result = subprocess.run(
        ["go", "test", "-count=1", "-run", "TestAgreesWithPython", "-v", "."],
        cwd=FASTPATH_SOURCE,
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "--- PASS: TestAgreesWithPython" in result.stdout
