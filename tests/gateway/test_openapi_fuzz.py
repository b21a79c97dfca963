"""schemathesis against the gateway's own /openapi.json: no 5xx, responses match the schema."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from craftplane.testing.processes import ManagedProcess
from tests.gateway.conftest import Tenant

pytestmark = pytest.mark.cluster

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "schemathesis"
CONFIG = Path(__file__).with_name("schemathesis.toml")


def test_schemathesis_finds_no_server_errors(gateway: ManagedProcess, tenant_a: Tenant) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    binary = Path(sys.executable).parent / "schemathesis"
    result = subprocess.run(
        [
            str(binary),
            "--config-file",
            str(CONFIG),
            "run",
            f"http://127.0.0.1:{gateway.http_port}/openapi.json",
            "--checks",
            "not_a_server_error,status_code_conformance,content_type_conformance,"
            "response_headers_conformance,response_schema_conformance",
            "--header",
            f"Authorization: Bearer {tenant_a.token}",
            "--max-examples",
            os.environ.get("SCHEMATHESIS_EXAMPLES", "20"),
            "--seed",
            "1",
            "--request-timeout",
            "20",
            "--report",
            "junit",
            "--report-dir",
            str(ARTIFACTS),
        ],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
        env={**os.environ, "NO_COLOR": "1"},
    )
    (ARTIFACTS / "output.txt").write_text(result.stdout + result.stderr)
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
