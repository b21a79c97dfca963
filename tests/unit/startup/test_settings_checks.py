"""Settings are checked at start-up: a bad one stops the process at once, naming the setting."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from craftplane import tokens
from craftplane.startup import EXIT_INVALID_SETTINGS, url_errors
from craftplane_gateway.settings import GatewaySettings, startup_errors
from craftplane_operator.settings import OperatorSettings
from craftplane_operator.settings import startup_errors as operator_errors

pytestmark = pytest.mark.unit

GOOD_KEY = tokens.generate_key()


def gateway(**values: object) -> GatewaySettings:
    return GatewaySettings.model_validate({"token_key": GOOD_KEY, **values})


def test_a_generated_key_and_the_defaults_pass() -> None:
    assert len(GOOD_KEY.encode()) >= tokens.MIN_KEY_BYTES
    assert startup_errors(gateway()) == []
    assert startup_errors(gateway(token_key="k" * tokens.MIN_KEY_BYTES)) == []


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({"token_key": ""}, "CRAFTPLANE_TOKEN_KEY must be set"),
        ({"token_key": "short"}, "CRAFTPLANE_TOKEN_KEY: the token signing key must be at least"),
        ({"token_key": "k" * 31}, "(it is 31)"),
        ({"nats_url": "http://nats:4222"}, "NATS_URL: 'http://nats:4222' must start with"),
        ({"nats_url": "nats://"}, "NATS_URL: 'nats://' names no host"),
        ({"nats_url": "nats://a:1,bogus"}, "NATS_URL: 'bogus' must start with"),
        ({"nats_url": "nats://a:notaport"}, "NATS_URL: 'nats://a:notaport' is not a URL"),
        ({"database_url": "mysql://db/x"}, "DATABASE_URL: 'mysql://db/x' must start with"),
    ],
)
def test_each_bad_setting_is_named(values: dict[str, object], expected: str) -> None:
    errors = startup_errors(gateway(**values))
    assert len(errors) == 1 and expected in errors[0], errors


@pytest.mark.parametrize(
    "url",
    [
        "nats://127.0.0.1:4222",
        "nats://nats.craftplane-system.svc:4222",
        "tls://user:pw@nats:4222",
        "nats://a:4222, nats://b:4222",
    ],
)
def test_nats_urls_the_platform_uses_pass(url: str) -> None:
    assert url_errors("NATS_URL", url, ("nats", "tls"), host=True) == []


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://craftplane:pw@db.example.internal:5432/craftplane?sslmode=require",
        "postgresql://craftplane@cockroachdb-public.cockroachdb:26257/craftplane?sslmode=verify-full",
        "postgres:///craftplane?host=/run/postgresql",
    ],
)
def test_database_urls_of_the_manifests_pass(url: str) -> None:
    assert startup_errors(gateway(database_url=url)) == []


def test_operator_settings_are_checked() -> None:
    assert operator_errors(OperatorSettings()) == []
    bad = OperatorSettings.model_validate({"nats_url": "localhost:4222", "workers": 0})
    errors = operator_errors(bad)
    assert any(e.startswith("NATS_URL:") for e in errors), errors
    assert any(e.startswith("CRAFTPLANE_OPERATOR_WORKERS") for e in errors), errors
    for seconds in (0, -1):
        binding = OperatorSettings.model_validate({"policy_binding_seconds": seconds})
        assert operator_errors(binding) == [
            "CRAFTPLANE_OPERATOR_POLICY_BINDING_SECONDS must be greater than 0"
        ]


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (
            {"backup_image": "restic restic"},
            "CRAFTPLANE_OPERATOR_BACKUP_IMAGE must be one image reference",
        ),
        ({"backup_image": ""}, "CRAFTPLANE_OPERATOR_BACKUP_IMAGE must be one image reference"),
        (
            {"backup_memory_limit": "lots"},
            "CRAFTPLANE_OPERATOR_BACKUP_MEMORY_LIMIT is not a quantity: lots",
        ),
        (
            {"backup_cpu_request": "2"},
            "CRAFTPLANE_OPERATOR_BACKUP_CPU_REQUEST must not exceed CRAFTPLANE_OPERATOR_BACKUP_CPU_LIMIT",
        ),
        (
            {"backup_deadline_seconds": 0},
            "CRAFTPLANE_OPERATOR_BACKUP_DEADLINE_SECONDS must be greater than 0",
        ),
        (
            {"backup_progress_seconds": 0},
            "CRAFTPLANE_OPERATOR_BACKUP_PROGRESS_SECONDS must be greater than 0",
        ),
        (
            {"backup_verify_deadline_seconds": -1},
            "CRAFTPLANE_OPERATOR_BACKUP_VERIFY_DEADLINE_SECONDS must be greater than 0",
        ),
        ({"backup_workers": 0}, "CRAFTPLANE_OPERATOR_BACKUP_WORKERS must be greater than 0"),
    ],
)
def test_bad_backup_settings_are_named(values: dict[str, object], expected: str) -> None:
    assert operator_errors(OperatorSettings.model_validate(values)) == [expected]


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"CRAFTPLANE_GAME_DOMAIN": "mc"}, "CRAFTPLANE_GAME_DOMAIN: 'mc' is not a DNS name"),
        (
            {"CRAFTPLANE_GAME_DOMAIN": "*.mc.example.com"},
            "CRAFTPLANE_GAME_DOMAIN: '*.mc.example.com' is not a DNS name",
        ),
        (
            {"CRAFTPLANE_ROUTER_PUBLIC_ADDRESS": "play.example.com:99999"},
            "CRAFTPLANE_ROUTER_PUBLIC_ADDRESS: 'play.example.com:99999' is not host or host:port",
        ),
        (
            {"CRAFTPLANE_ROUTER_PUBLIC_ADDRESS": "tcp://play.example.com"},
            "CRAFTPLANE_ROUTER_PUBLIC_ADDRESS: 'tcp://play.example.com' is not host or host:port",
        ),
    ],
)
def test_bad_routing_settings_are_named(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], expected: str
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    errors = operator_errors(OperatorSettings())
    assert len(errors) == 1 and errors[0].startswith(expected), errors


def test_routing_settings_are_read_from_the_shared_names(monkeypatch: pytest.MonkeyPatch) -> None:
    assert not OperatorSettings().routing.has_router
    monkeypatch.setenv("CRAFTPLANE_GAME_DOMAIN", "MC.Example.com")
    monkeypatch.setenv("CRAFTPLANE_ROUTER_PUBLIC_ADDRESS", "play.example.com:30000")
    settings = OperatorSettings()
    assert operator_errors(settings) == []
    routing = settings.routing
    assert (routing.domain, routing.public_host, routing.public_port) == (
        "mc.example.com",
        "play.example.com",
        30000,
    )


def test_the_backup_image_is_a_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    assert OperatorSettings().backup_image == "docker.io/restic/restic:0.14.0"
    monkeypatch.setenv("CRAFTPLANE_OPERATOR_BACKUP_IMAGE", "localhost/craftplane/backup:0.14.0-abc")
    assert OperatorSettings().backup_image == "localhost/craftplane/backup:0.14.0-abc"


def _run(program: str, module: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """The real console script when the venv has it, else the module (same `main`)."""
    script = Path(sys.executable).parent / program
    command = [str(script)] if script.exists() else [sys.executable, "-m", module]
    clean = {k: v for k, v in os.environ.items() if not k.startswith("CRAFTPLANE_")}
    clean.pop("NATS_URL", None)
    clean.pop("DATABASE_URL", None)
    return subprocess.run(
        command, env={**clean, **env}, capture_output=True, text=True, timeout=60, check=False
    )


def test_a_gateway_with_a_five_byte_key_exits_at_once_naming_the_setting() -> None:
    # No NATS, PostgreSQL or cluster here: the gateway must stop before it reaches for them.
    done = _run("craftplane-gateway", "craftplane_gateway.main", {"CRAFTPLANE_TOKEN_KEY": "short"})
    assert done.returncode == EXIT_INVALID_SETTINGS, done.stderr
    assert "CRAFTPLANE_TOKEN_KEY" in done.stderr
    assert "at least 32 bytes" in done.stderr
    assert done.stdout == ""


def test_an_operator_with_a_bad_nats_url_exits_at_once_naming_the_setting() -> None:
    done = _run("craftplane-operator", "craftplane_operator.main", {"NATS_URL": "http://x:4222"})
    assert done.returncode == EXIT_INVALID_SETTINGS, done.stderr
    assert "NATS_URL" in done.stderr


def test_an_unparsable_setting_exits_the_same_way() -> None:
    done = _run(
        "craftplane-gateway",
        "craftplane_gateway.main",
        {"CRAFTPLANE_TOKEN_KEY": GOOD_KEY, "CRAFTPLANE_GATEWAY_PORT": "eighty"},
    )
    assert done.returncode == EXIT_INVALID_SETTINGS, done.stderr
    assert "port" in done.stderr
