"""A component's command line: --help lists the variables its settings read, --version."""

from __future__ import annotations

import pytest
from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from craftplane import command_line

pytestmark = pytest.mark.unit


def _computed() -> str:
    return "here"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CRAFTPLANE_THING_")

    port: int = 8080
    nats_url: str = Field(default="nats://x", validation_alias=AliasChoices("NATS_URL", "nats"))
    namespaces: list[str] = Field(default_factory=list)
    identity: str = Field(default_factory=_computed)


def test_help_lists_each_variable_with_its_default() -> None:
    assert command_line.settings_help(Settings).splitlines() == [
        "settings (environment variables):",
        "  CRAFTPLANE_THING_PORT         default 8080",
        "  NATS_URL                      default 'nats://x'",
        "  CRAFTPLANE_THING_NAMESPACES   default (empty)",
        "  CRAFTPLANE_THING_IDENTITY     default (computed)",
    ]


@pytest.mark.parametrize(
    ("argv", "shown"),
    [
        (["--help"], ["Thing it does. Configured by environment", "CRAFTPLANE_THING_IDENTITY"]),
        (["--version"], ["craftplane-nothing "]),
    ],
)
def test_help_and_version_exit_at_once(
    argv: list[str], shown: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        command_line.parse_args("craftplane-nothing", "Thing it does.", Settings, argv)
    assert exited.value.code == 0
    out = capsys.readouterr().out
    assert all(text in out for text in shown), out


def test_no_flags_parse() -> None:
    assert vars(command_line.parse_args("craftplane-nothing", "x", Settings, [])) == {}


def test_the_version_is_the_distributions_else_the_projects(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    versions = {"craftplane-router": "1.2.3", "craftplane": "0.9.0"}

    def version(name: str) -> str:
        if name not in versions:
            raise command_line.metadata.PackageNotFoundError(name)
        return versions[name]

    monkeypatch.setattr(command_line.metadata, "version", version)
    assert command_line.version_of("craftplane-router") == "1.2.3"
    assert command_line.version_of("craftplane-nothing") == "0.9.0"
    versions.clear()
    assert command_line.version_of("craftplane-router") == "unknown"
