"""The router's settings from the environment, and the ones it refuses to start with."""

from __future__ import annotations

import pytest

from craftplane.startup import EXIT_INVALID_SETTINGS, load_or_exit
from craftplane_router.session import SpliceMode
from craftplane_router.settings import RouterSettings, startup_errors

pytestmark = pytest.mark.unit


def test_the_defaults() -> None:
    settings = RouterSettings()
    assert (settings.port, settings.metrics_port) == (25565, 9102)
    assert settings.handshake_timeout_seconds == 5
    assert settings.idle_seconds == 60
    assert settings.connect_timeout_seconds == 3
    assert settings.accept_proxy_from == []
    assert settings.sleeping_motd == "§7Sleeping — join to wake it"
    assert settings.splice_mode is SpliceMode.STREAM
    assert settings.wake_on_join is True
    assert (settings.wake_hold_under_seconds, settings.wake_hold_seconds) == (20, 25)
    assert settings.wake_unknown_start_seconds == 60
    assert startup_errors(settings) == []


@pytest.mark.parametrize(
    ("field", "value", "error"),
    [
        ("wake_hold_seconds", 0, "CRAFTPLANE_ROUTER_WAKE_HOLD_SECONDS must be greater than 0"),
        (
            "wake_unknown_start_seconds",
            -1,
            "CRAFTPLANE_ROUTER_WAKE_UNKNOWN_START_SECONDS must be greater than 0",
        ),
        (
            "wake_hold_under_seconds",
            -1,
            "CRAFTPLANE_ROUTER_WAKE_HOLD_UNDER_SECONDS must not be negative",
        ),
    ],
)
def test_wake_timings_that_cannot_work_are_refused(field: str, value: float, error: str) -> None:
    assert error in startup_errors(RouterSettings(**{field: value}))


@pytest.mark.parametrize(
    ("value", "parsed"),
    [
        ("10.0.0.0/8", ["10.0.0.0/8"]),
        ("10.0.0.0/8, 2001:db8::/32", ["10.0.0.0/8", "2001:db8::/32"]),
        ('["192.168.0.0/16"]', ["192.168.0.0/16"]),
        ("", []),
    ],
)
def test_trusted_networks_are_a_comma_list_or_json(
    monkeypatch: pytest.MonkeyPatch, value: str, parsed: list[str]
) -> None:
    monkeypatch.setenv("CRAFTPLANE_ROUTER_ACCEPT_PROXY_FROM", value)
    settings = RouterSettings()
    assert settings.accept_proxy_from == parsed
    assert startup_errors(settings) == []


@pytest.mark.parametrize(
    ("env", "error"),
    [
        (
            {"CRAFTPLANE_ROUTER_ACCEPT_PROXY_FROM": "10.0.0.0/8,lb.example.com"},
            "CRAFTPLANE_ROUTER_ACCEPT_PROXY_FROM: 'lb.example.com' is not a CIDR (e.g. 10.0.0.0/8)",
        ),
        (
            {"CRAFTPLANE_ROUTER_PORT": "70000"},
            "CRAFTPLANE_ROUTER_PORT must be a port (1-65535), not 70000",
        ),
        (
            {"CRAFTPLANE_ROUTER_METRICS_PORT": "25565"},
            "CRAFTPLANE_ROUTER_PORT and CRAFTPLANE_ROUTER_METRICS_PORT must differ",
        ),
        (
            {"CRAFTPLANE_ROUTER_IDLE_SECONDS": "0"},
            "CRAFTPLANE_ROUTER_IDLE_SECONDS must be greater than 0",
        ),
        (
            {"CRAFTPLANE_ROUTER_MAX_CONNECTIONS": "0"},
            "CRAFTPLANE_ROUTER_MAX_CONNECTIONS must be greater than 0",
        ),
        (
            {"CRAFTPLANE_ROUTER_SHUTDOWN_GRACE_SECONDS": "-1"},
            "CRAFTPLANE_ROUTER_SHUTDOWN_GRACE_SECONDS must not be negative",
        ),
    ],
)
def test_a_bad_setting_is_named(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], error: str
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert error in startup_errors(RouterSettings())


def test_the_router_refuses_to_start_with_them(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CRAFTPLANE_ROUTER_SPLICE_MODE", "sendfile")
    with pytest.raises(SystemExit) as exited:
        load_or_exit("craftplane-router", RouterSettings, startup_errors)
    assert exited.value.code == EXIT_INVALID_SETTINGS
    assert "splice_mode" in capsys.readouterr().err


def test_splice_mode_is_chosen_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRAFTPLANE_ROUTER_SPLICE_MODE", "splice")
    assert RouterSettings().splice_mode is SpliceMode.SPLICE
